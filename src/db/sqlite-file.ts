import { closeSync, copyFileSync, existsSync, openSync, readSync, rmSync } from 'node:fs';
import { sql, type Database } from './port.ts';

/** SQLite files as files, for db:restore: what one is, what it holds, and copying one whole. */

/** The first 16 bytes of every SQLite 3 database (https://sqlite.org/fileformat.html, "The Database Header"). */
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Whether `file` starts with SQLite's header. SQLite itself takes an empty file for an empty database,
 * and reports anything else only at the first read, in words an operator would not connect to the file.
 */
export function hasSqliteHeader(file: string): boolean {
  const header = Buffer.alloc(MAGIC.length);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, header, 0, MAGIC.length, 0) === MAGIC.length && header.equals(MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** The files SQLite keeps beside a database: a write-ahead log (part of its contents), its index, a rollback journal. */
export const companions = (file: string) => ({ wal: `${file}-wal`, shm: `${file}-shm`, journal: `${file}-journal` });

/** Removes `file` and the files SQLite keeps beside it. */
export function removeWithCompanions(file: string): void {
  const { wal, shm, journal } = companions(file);
  for (const leftover of [file, wal, shm, journal]) rmSync(leftover, { force: true });
}

/**
 * A byte copy of the database at `source` into `target` (a new file, made readable by its owner
 * alone), its write-ahead log along: committed transactions may still live there. Never opened by
 * SQLite at `source`, which would leave its own -wal and -shm files beside it.
 */
export function copyWithLog(source: string, target: string): void {
  const { wal } = companions(source);
  closeSync(openSync(target, 'wx', 0o600));
  copyFileSync(source, target);
  if (existsSync(wal)) {
    closeSync(openSync(companions(target).wal, 'wx', 0o600));
    copyFileSync(wal, companions(target).wal);
  }
}

const INTEGRITY_CHECK = sql<{ integrity_check: string }>('PRAGMA integrity_check');
const TABLES = sql<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
const PAGE_SIZE = sql<{ page_size: number }>('PRAGMA page_size');

/** What PRAGMA integrity_check finds wrong; empty when nothing. */
export async function integrityProblems(db: Database): Promise<string[]> {
  return (await db.all(INTEGRITY_CHECK)).map((row) => row.integrity_check).filter((line) => line !== 'ok');
}

export async function tableNames(db: Database): Promise<Set<string>> {
  return new Set((await db.all(TABLES)).map((row) => row.name));
}

export async function pageSize(db: Database): Promise<number> {
  return (await db.get(PAGE_SIZE))!.page_size;
}

/**
 * Rewrites the whole database in pages of `size` bytes. SQLite's backup API cannot copy between page
 * sizes into a database in WAL mode, as every live Sidekick database is; the page size can only change
 * outside WAL mode, by a VACUUM. For a private copy, with no other connection.
 */
export async function setPageSize(db: Database, size: number): Promise<void> {
  await db.exec('PRAGMA journal_mode = DELETE');
  await db.exec(`PRAGMA page_size = ${Math.trunc(size)}`);
  await db.exec('VACUUM');
  await db.exec('PRAGMA journal_mode = WAL');
}
