import BetterSqlite3 from 'better-sqlite3';

export type SqlValue = string | number | bigint | null | Uint8Array;
export type SqlParams = SqlValue[] | [Record<string, SqlValue>];

export interface Statement<Row> {
  get(...params: SqlParams): Row | undefined;
  all(...params: SqlParams): Row[];
  run(...params: SqlParams): { changes: number; lastInsertRowid: number | bigint };
}

/**
 * The only face of SQLite the rest of the code sees. Keeping the driver behind it lets another driver
 * (Deno's node:sqlite) be dropped in here without touching a store.
 */
export interface Database {
  readonly path: string;
  prepare<Row = Record<string, SqlValue>>(sql: string): Statement<Row>;
  exec(sql: string): void;
  /** Runs `work` inside BEGIN IMMEDIATE … COMMIT. `work` must be synchronous: never await inside. */
  immediate<T>(work: () => T): T;
  /** Online, consistent copy of the whole database into `file`. */
  backup(file: string): Promise<void>;
  checkpoint(): void;
  close(): void;
}

const BUSY_TIMEOUT_MS = 5000;

export function openDatabase(path: string): Database {
  const db = new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  // FULL: a revocation or a consumed code that was acknowledged must survive power loss.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);

  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');

  return {
    path,
    prepare: <Row>(sql: string) => db.prepare(sql) as unknown as Statement<Row>,
    exec: (sql) => void db.exec(sql),
    immediate<T>(work: () => T): T {
      begin.run();
      try {
        const result = work();
        commit.run();
        return result;
      } catch (error) {
        if (db.inTransaction) rollback.run();
        throw error;
      }
    },
    backup: async (file) => void (await db.backup(file)),
    checkpoint: () => void db.pragma('wal_checkpoint(TRUNCATE)'),
    close: () => {
      if (db.open) db.close();
    },
  };
}
