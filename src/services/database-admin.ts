import { chmodSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, sql, type Database } from '../db/database.ts';
import { migrate, schemaVersion } from '../db/migrate.ts';
import { SidekickError } from '../errors.ts';

/**
 * Applies pending migrations to the database (an SQLite file, created if needed, or a PostgreSQL URL);
 * reports what it did.
 */
export async function migrateDatabase(target: string, now: () => number = Date.now): Promise<{ applied: number[]; version: number }> {
  const db = await openDatabase(target);
  try {
    const applied = await migrate(db, now);
    return { applied, version: await schemaVersion(db) };
  } finally {
    await db.close();
  }
}

const INTEGRITY_CHECK = sql<{ integrity_check: string }>('PRAGMA integrity_check');

export interface BackupResult {
  file: string;
  bytes: number;
  integrity: 'ok';
}

const sameFile = (a: string, b: string) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};

/**
 * An online, consistent copy through SQLite's backup API, so it is safe while a server writes. The copy
 * is written beside the target, checked with `PRAGMA integrity_check`, and only then renamed into place:
 * the target name never holds a partial or broken copy.
 */
export async function backupDatabase(db: Database, file: string, options: { overwrite?: boolean } = {}): Promise<BackupResult> {
  const target = path.resolve(file);
  if (db.engine !== 'sqlite') await db.backup(target);
  if (sameFile(target, db.location)) throw new SidekickError('invalid', 'the backup file cannot be the database itself');
  if (existsSync(target) && !options.overwrite) {
    throw new SidekickError('invalid', `${target} already exists (pass --force to overwrite it)`);
  }
  const dir = path.dirname(target);
  // Folders it makes are the operator's alone, as the copy is: it holds every password hash.
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const partial = path.join(dir, `.${path.basename(target)}.partial-${process.pid}`);
  try {
    // Created 0600 before SQLite writes into it, so the copy is never readable by others, even for a moment.
    writeFileSync(partial, '', { mode: 0o600, flag: 'wx' });
    await db.backup(partial);
    const copy = await openDatabase(partial);
    let verdict: string;
    try {
      verdict = (await copy.all(INTEGRITY_CHECK)).map((row) => row.integrity_check).join('; ');
    } finally {
      await copy.close();
    }
    if (verdict !== 'ok') throw new SidekickError('error', `the copy failed its integrity check: ${verdict}`);
    chmodSync(partial, 0o600);
    renameSync(partial, target);
  } finally {
    for (const leftover of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(leftover, { force: true });
  }
  return { file: target, bytes: statSync(target).size, integrity: 'ok' };
}
