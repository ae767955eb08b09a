import { closeSync, openSync } from 'node:fs';
import { createChangeStamp } from './change-stamp.ts';
import { sqliteDriver, type SqlValue, type Statement } from './sqlite-driver.ts';

export type { SqlParams, SqlValue, Statement } from './sqlite-driver.ts';

/**
 * The only face of SQLite the rest of the code sees. The driver behind it (better-sqlite3 on Node,
 * node:sqlite where that cannot load, e.g. Deno) is picked in sqlite-driver.ts; nothing above knows which.
 */
export interface Database {
  readonly path: string;
  /** Which SQLite driver serves this process (for diagnostics only; behaviour is the same). */
  readonly driver: string;
  prepare<Row = Record<string, SqlValue>>(sql: string): Statement<Row>;
  exec(sql: string): void;
  /**
   * A value that differs from the last one read whenever the data may have changed in between: a commit
   * by this or any other connection or process, or (inside a transaction) a write of this connection. No
   * table read; see change-stamp.ts.
   */
  changeStamp(): string;
  /** Where changeStamp() reads from: the wal-index file, or a statement where there is none. */
  readonly changeStampSource: 'wal-index' | 'sql';
  /** Runs `work` inside BEGIN IMMEDIATE … COMMIT. `work` must be synchronous: never await inside. */
  immediate<T>(work: () => T): T;
  /** Online, consistent copy of the whole database into `file`. */
  backup(file: string): Promise<void>;
  checkpoint(): void;
  close(): void;
}

const BUSY_TIMEOUT_MS = 5000;
const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Password hashes live in the database: a new file is readable by its owner alone (SQLite gives the -wal
 * and -shm files the database file's mode). An existing file keeps the mode its operator chose.
 */
function createOwnerOnly(path: string): void {
  if (path === ':memory:' || path.startsWith('file:')) return;
  try {
    closeSync(openSync(path, 'a', 0o600));
  } catch {
    // SQLite reports why it cannot open the file, in its own words.
  }
}

export function openDatabase(path: string): Database {
  createOwnerOnly(path);
  const connection = sqliteDriver.open(path, BUSY_TIMEOUT_MS);
  const journal = connection.prepare<{ journal_mode: string }>('PRAGMA journal_mode = WAL').get();
  const walMode = journal?.journal_mode === 'wal';
  // FULL: a revocation or a consumed code that was acknowledged must survive power loss.
  connection.exec('PRAGMA synchronous = FULL');
  connection.exec('PRAGMA foreign_keys = ON');
  connection.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // SQLite checkpoints the WAL every 1000 pages (~4 MB) but never shrinks the file: a burst of writes
  // would leave it at its high-water mark forever. This truncates it back whenever it is reset.
  connection.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);

  const begin = connection.prepare('BEGIN IMMEDIATE');
  const commit = connection.prepare('COMMIT');
  const rollback = connection.prepare('ROLLBACK');
  // Commits by other connections (data_version) and rows written by this one (total_changes()).
  const sqlStamp = connection.prepare<{ remote: number; local: number }>(
    'SELECT data_version AS remote, total_changes() AS local FROM pragma_data_version',
  );
  const readSqlStamp = () => {
    const { remote, local } = sqlStamp.get()!;
    return `${remote}:${local}`;
  };
  // The first read of a database in WAL mode creates its wal-index file, which the stamp then reads.
  readSqlStamp();
  const stamp = createChangeStamp(path, walMode, readSqlStamp);
  // The wal-index moves at commit; inside an open transaction this connection's own writes are not there
  // yet, so every read there counts as a change.
  let readsInTransaction = 0;

  return {
    path,
    driver: sqliteDriver.name,
    prepare: <Row>(sql: string) => connection.prepare<Row>(sql),
    exec: (sql) => connection.exec(sql),
    changeStamp: () => (connection.inTransaction ? `in transaction ${++readsInTransaction}` : stamp.read()),
    changeStampSource: stamp.source,
    immediate<T>(work: () => T): T {
      begin.run();
      try {
        const result = work();
        commit.run();
        return result;
      } catch (error) {
        if (connection.inTransaction) {
          try {
            rollback.run();
          } catch {
            // SQLite already ended the transaction (it does on some errors); the original error matters.
          }
        }
        throw error;
      }
    },
    backup: (file) => connection.backup(file),
    checkpoint: () => connection.exec('PRAGMA wal_checkpoint(TRUNCATE)'),
    close: () => {
      connection.close();
      stamp.close();
    },
  };
}
