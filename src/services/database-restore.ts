import { accessSync, constants, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, type Database } from '../db/database.ts';
import { loadMigrations, migrate, SchemaTooNewError, schemaVersion } from '../db/migrate.ts';
import { claimAgainstServers, holdServing, MarkerBusyError, type ServingClaim, type ServingHold } from '../db/serving-marker.ts';
import { companions, copyWithLog, hasSqliteHeader, integrityProblems, pageSize, removeWithCompanions, setPageSize, tableNames } from '../db/sqlite-file.ts';
import { SidekickError } from '../errors.ts';
import { COPIED_TABLES, createTableStore, type CopiedTable } from '../store/tables.ts';

/** Which database: the SQLite file, unless a PostgreSQL URL is configured. */
export interface DatabaseTarget {
  dbPath: string;
  databaseUrl?: string | undefined;
}

export interface RestoreResult {
  database: string;
  file: string;
  /** The schema version FILE had, and the one the database has now: an older FILE is migrated first. */
  fileSchemaVersion: number;
  schemaVersion: number;
  /** Rows the database holds now, per table. */
  rows: Record<CopiedTable['name'], number>;
  /** The database as it was just before, kept beside it (null when there was none). */
  safetyCopy: string | null;
  /** Restored under a running server (--force). */
  serverRunning: boolean;
  /**
   * The file was replaced rather than written through SQLite (there was no healthy database to write
   * into): a server still running holds the old file and must be restarted to see the restored one.
   */
  restartServer: boolean;
}

const sqliteFileOf = (target: DatabaseTarget): string | undefined =>
  target.databaseUrl !== undefined || target.dbPath === ':memory:' || target.dbPath.startsWith('file:') ? undefined : target.dbPath;

/**
 * For `serve`: marks the SQLite database as served until release() (or the process's death), so that
 * db:restore refuses to replace it under the server unless forced. Nothing to mark on PostgreSQL.
 */
export function markServing(target: DatabaseTarget): ServingHold {
  const file = sqliteFileOf(target);
  if (file === undefined) return { release() {} };
  try {
    return holdServing(file);
  } catch (error) {
    if (!(error instanceof MarkerBusyError)) throw error;
    throw new SidekickError('database_busy', `a restore (sidekick db:restore) is replacing ${file}; start the server once it is done`);
  }
}

/**
 * Replaces the SQLite database with the one in `file`, after checking all of it on a private copy:
 * a SQLite database, whole (integrity_check), a Sidekick one, of a schema this Sidekick knows
 * (older ones are migrated on the copy first). Then it claims the database against servers (refusing
 * while one serves it, unless `force`), keeps the current database as a safety copy beside it, and
 * writes the checked copy into it through SQLite's online backup API: one transaction, so the database
 * is either still the old one or wholly the restored one, and connections left open (a server under
 * --force) read the restored data at their next statement.
 */
export async function restoreDatabase(target: DatabaseTarget, file: string, options: { force?: boolean; now?: () => number } = {}): Promise<RestoreResult> {
  const now = options.now ?? Date.now;
  if (target.databaseUrl !== undefined) {
    throw new SidekickError(
      'invalid',
      'db:restore restores SQLite databases; on PostgreSQL restore a pg_dump with pg_restore (custom or directory format) or psql (plain SQL)',
    );
  }
  const dbFile = sqliteFileOf(target);
  if (dbFile === undefined) throw new SidekickError('invalid', 'db:restore needs a database file, not an in-memory database (set SIDEKICK_DB)');
  const live = path.resolve(dbFile);
  const source = path.resolve(file);
  requireReadable(source);
  if (sameFile(source, live)) throw new SidekickError('invalid', `${source} is the database itself`);
  if (!hasSqliteHeader(source)) throw new SidekickError('invalid', `${source} is not a SQLite database`);

  // The copy holds every password hash: it lives beside the database, readable by its owner alone.
  mkdirSync(path.dirname(live), { recursive: true, mode: 0o700 });
  const staging = path.join(path.dirname(live), `.${path.basename(live)}.restore-${process.pid}`);
  removeWithCompanions(staging);
  try {
    copyWithLog(source, staging);
    const fileSchemaVersion = await checkAndMigrate(staging, source, now);
    const claim = claimAgainstServers(live);
    if (!claim.claimed && (claim.restoring || !options.force)) throw refusal(claim, live);
    try {
      return { database: live, file: source, fileSchemaVersion, ...(await writeInto(live, staging, !claim.claimed, now)) };
    } finally {
      if (claim.claimed) claim.release();
    }
  } finally {
    removeWithCompanions(staging);
  }
}

function requireReadable(file: string): void {
  let directory: boolean;
  try {
    directory = statSync(file).isDirectory();
    accessSync(file, constants.R_OK);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error));
    throw new SidekickError('unavailable', `cannot read ${file}: ${why}`);
  }
  if (directory) throw new SidekickError('unavailable', `cannot read ${file}: it is a folder`);
}

const sameFile = (a: string, b: string) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};

/** SQLite's own words for a file it cannot read as a database, as one line about the operator's file. */
function damaged(source: string, error: unknown): unknown {
  const cause = (error as { cause?: { code?: unknown } }).cause ?? error;
  const code = String((cause as { code?: unknown }).code);
  if (!/^SQLITE_(NOTADB|CORRUPT)/.test(code)) return error;
  return new SidekickError('invalid', `${source} failed its integrity check: SQLite cannot read it (${code})`);
}

/** integrity_check's lines open with which database they are about; FILE is the only one. */
const oneLine = (problem: string) => problem.replace(/^\*\*\* in database \w+ \*\*\*\s*/, '').replace(/\s*\n\s*/g, '; ');

/** Every check on the private copy of FILE; then brings it to this Sidekick's schema. Its original version. */
async function checkAndMigrate(staging: string, source: string, now: () => number): Promise<number> {
  let db: Database;
  try {
    db = await openDatabase(staging);
  } catch (error) {
    throw damaged(source, error);
  }
  try {
    let problems: string[];
    try {
      problems = await integrityProblems(db);
    } catch (error) {
      throw damaged(source, error);
    }
    if (problems.length > 0) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      throw new SidekickError('invalid', `${source} failed its integrity check: ${oneLine(problems[0])}${more}`);
    }
    const tables = await tableNames(db);
    if (!tables.has('schema_migrations') || !tables.has('users')) {
      throw new SidekickError('invalid', `${source} is a SQLite database but not a Sidekick one (no schema_migrations and users tables)`);
    }
    const version = await schemaVersion(db);
    const latest = loadMigrations('sqlite').at(-1)?.version ?? 0;
    if (version > latest) {
      throw new SchemaTooNewError(`${source} has schema version ${version} but this Sidekick knows only up to ${latest}: restore it with a newer Sidekick`);
    }
    await migrate(db, now);
    return version;
  } finally {
    await db.close();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
};

function refusal(claim: Extract<ServingClaim, { claimed: false }>, live: string): SidekickError {
  if (claim.restoring) return new SidekickError('database_busy', `another db:restore is replacing ${live}; try again once it is done`);
  const who = claim.pid !== undefined && alive(claim.pid) ? `a server (pid ${claim.pid})` : 'a server';
  return new SidekickError('database_busy', `${who} is serving ${live}: stop it first, or pass --force to restore under it`);
}

type Written = Omit<RestoreResult, 'database' | 'file' | 'fileSchemaVersion'>;

/** Keeps the current database, then puts the checked copy in its place; reports what it holds now. */
async function writeInto(live: string, staging: string, serverRunning: boolean, now: () => number): Promise<Written> {
  const current = await openCurrent(live);
  let safetyCopy: string | null = null;
  let replaced = false;
  if (current === 'missing' || current === 'damaged') {
    if (current === 'damaged') {
      safetyCopy = safetyName(live, now);
      copyWithLog(live, safetyCopy);
    }
    // Nothing healthy to write into, so the file is replaced; a log left beside it would be replayed
    // into the restored database.
    for (const leftover of Object.values(companions(live))) rmSync(leftover, { force: true });
    renameSync(staging, live);
    replaced = true;
  } else {
    try {
      safetyCopy = await keepOnline(current, live, now);
      const restored = await openDatabase(staging);
      try {
        const size = await pageSize(current);
        if ((await pageSize(restored)) !== size) await setPageSize(restored, size);
        await restored.backup(live);
      } catch (error) {
        // The backup is one transaction: having failed, it left the database as it was, so the copy of
        // that would only mislead.
        rmSync(safetyCopy, { force: true });
        throw error;
      } finally {
        await restored.close();
      }
    } finally {
      await current.close();
    }
  }

  const db = await openDatabase(live);
  try {
    const tables = createTableStore(db, 'sqlite');
    const rows = {} as Record<CopiedTable['name'], number>;
    for (const table of COPIED_TABLES) rows[table.name] = await tables.count(table);
    return { schemaVersion: await schemaVersion(db), rows, safetyCopy, serverRunning, restartServer: replaced && serverRunning };
  } finally {
    await db.close();
  }
}

/** The database now at `live`, open; or why there is none to write into. */
async function openCurrent(live: string): Promise<Database | 'missing' | 'damaged'> {
  if (!existsSync(live)) return 'missing';
  if (statSync(live).size > 0 && !hasSqliteHeader(live)) return 'damaged';
  try {
    return await openDatabase(live);
  } catch (error) {
    if (error instanceof SidekickError && error.code === 'database_corrupt') return 'damaged';
    throw error;
  }
}

/** `<database>.before-restore-<UTC time>`, unused. */
function safetyName(live: string, now: () => number): string {
  const stamp = new Date(now()).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  let name = `${live}.before-restore-${stamp}`;
  for (let n = 2; existsSync(name); n++) name = `${live}.before-restore-${stamp}-${n}`;
  return name;
}

/** An online copy of the current database (consistent while a server writes), mode 0600. */
async function keepOnline(db: Database, live: string, now: () => number): Promise<string> {
  const target = safetyName(live, now);
  const partial = `${target}.partial`;
  try {
    writeFileSync(partial, '', { mode: 0o600, flag: 'wx' });
    await db.backup(partial);
    renameSync(partial, target);
  } finally {
    removeWithCompanions(partial);
  }
  return target;
}
