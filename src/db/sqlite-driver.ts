import { existsSync, statSync } from 'node:fs';

/**
 * The runtime seam for SQLite. On Node the driver is better-sqlite3; where its native addon cannot load
 * (Deno refuses non-Node-API addons) the built-in `node:sqlite` takes over. Both are bent to one
 * behaviour here: bare `@name` parameters from plain objects (extra keys ignored, missing ones an
 * error), integers as numbers, BLOBs as Uint8Array, plain row objects, and better-sqlite3's error
 * codes (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, …) so callers never learn which one ran.
 */

export type SqlValue = string | number | bigint | null | Uint8Array;
export type SqlParams = SqlValue[] | [Record<string, SqlValue>];

export interface Statement<Row> {
  get(...params: SqlParams): Row | undefined;
  all(...params: SqlParams): Row[];
  run(...params: SqlParams): { changes: number; lastInsertRowid: number | bigint };
}

export interface SqliteConnection {
  prepare<Row>(sql: string): Statement<Row>;
  exec(sql: string): void;
  readonly inTransaction: boolean;
  backup(file: string): Promise<void>;
  close(): void;
}

export interface SqliteDriver {
  readonly name: 'better-sqlite3' | 'node:sqlite';
  /** `readOnly`: another application's file (users:import-django), which must never be written. */
  open(path: string, busyTimeoutMs: number, options?: { readOnly?: boolean }): SqliteConnection;
}

// ---------------------------------------------------------------------------------------------- better-sqlite3

type BetterSqlite3Class = typeof import('better-sqlite3');

/** The most pages better-sqlite3 takes per backup step: all of them. */
const ALL_PAGES = 0x7fffffff;
const BACKUP_RETRY_MS = 10;

function betterSqlite3Driver(BetterSqlite3: BetterSqlite3Class): SqliteDriver {
  return {
    name: 'better-sqlite3',
    open(path, busyTimeoutMs, options = {}) {
      const db = options.readOnly
        ? new BetterSqlite3(path, { timeout: busyTimeoutMs, readonly: true, fileMustExist: true })
        : new BetterSqlite3(path, { timeout: busyTimeoutMs });
      return {
        prepare: <Row>(sql: string) => db.prepare(sql) as unknown as Statement<Row>,
        exec: (sql) => void db.exec(sql),
        get inTransaction() {
          return db.inTransaction;
        },
        async backup(file) {
          // better-sqlite3 reports a first step that found either database locked (SQLITE_BUSY: a writer
          // on the target of a restore, say) as a finished backup of 0 pages, having copied nothing. So an
          // empty result from a database that has pages is tried again, as SQLite's busy handler would.
          // One step for the whole copy: stepping 100 pages at a time restarts from the first page
          // whenever another connection commits to the source in between.
          const deadline = Date.now() + busyTimeoutMs;
          for (;;) {
            const { totalPages } = await db.backup(file, { progress: () => ALL_PAGES });
            if (totalPages > 0 || db.pragma('page_count', { simple: true }) === 0) return;
            if (Date.now() >= deadline) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
            await new Promise((resolve) => setTimeout(resolve, BACKUP_RETRY_MS));
          }
        },
        close: () => {
          if (db.open) db.close();
        },
      };
    },
  };
}

// ------------------------------------------------------------------------------------------------- node:sqlite

/** The part of `node:sqlite` used here; typed locally because @types/node 20 predates the module. */
interface NodeSqliteStatement {
  get(...params: unknown[]): Record<string, SqlValue> | undefined;
  all(...params: unknown[]): Record<string, SqlValue>[];
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  setAllowUnknownNamedParameters?(enabled: boolean): void;
}
interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement;
  exec(sql: string): void;
  close(): void;
  readonly isOpen?: boolean;
  readonly isTransaction?: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { timeout?: number; readOnly?: boolean }) => NodeSqliteDatabase;
  backup?: (source: NodeSqliteDatabase, path: string) => Promise<unknown>;
}

/** Names of parameters in `sql`, in order; literals, quoted identifiers and comments skipped. */
export function scanParameters(sql: string): { positional: number; named: string[] } {
  let positional = 0;
  const named = new Set<string>();
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      i = sql.indexOf(close, i + 1);
      if (i === -1) break;
      // A doubled quote inside a literal is an escaped quote: the loop finds the next one.
    } else if (c === '-' && sql[i + 1] === '-') {
      i = sql.indexOf('\n', i);
      if (i === -1) break;
    } else if (c === '/' && sql[i + 1] === '*') {
      i = sql.indexOf('*/', i + 2);
      if (i === -1) break;
      i++;
    } else if (c === '?') {
      positional++;
      while (/[0-9]/.test(sql[i + 1] ?? '')) i++;
    } else if ((c === '@' || c === ':' || c === '$') && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (/[A-Za-z0-9_]/.test(sql[j] ?? '')) j++;
      named.add(sql.slice(i + 1, j));
      i = j - 1;
    }
  }
  return { positional, named: [...named] };
}

const isNamedParams = (params: unknown[]): params is [Record<string, SqlValue>] =>
  params.length === 1 &&
  typeof params[0] === 'object' &&
  params[0] !== null &&
  !(params[0] instanceof Uint8Array) &&
  !Array.isArray(params[0]);

// Primary result codes and the extended ones a caller might test for, as better-sqlite3 names them.
const PRIMARY_CODES = [
  'SQLITE_OK', 'SQLITE_ERROR', 'SQLITE_INTERNAL', 'SQLITE_PERM', 'SQLITE_ABORT', 'SQLITE_BUSY',
  'SQLITE_LOCKED', 'SQLITE_NOMEM', 'SQLITE_READONLY', 'SQLITE_INTERRUPT', 'SQLITE_IOERR', 'SQLITE_CORRUPT',
  'SQLITE_NOTFOUND', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_EMPTY', 'SQLITE_SCHEMA',
  'SQLITE_TOOBIG', 'SQLITE_CONSTRAINT', 'SQLITE_MISMATCH', 'SQLITE_MISUSE', 'SQLITE_NOLFS', 'SQLITE_AUTH',
  'SQLITE_FORMAT', 'SQLITE_RANGE', 'SQLITE_NOTADB', 'SQLITE_NOTICE', 'SQLITE_WARNING',
];
const EXTENDED_CODES: Record<number, string> = {
  261: 'SQLITE_BUSY_RECOVERY', 517: 'SQLITE_BUSY_SNAPSHOT', 773: 'SQLITE_BUSY_TIMEOUT',
  262: 'SQLITE_LOCKED_SHAREDCACHE', 1032: 'SQLITE_READONLY_DBMOVED', 8: 'SQLITE_READONLY',
  275: 'SQLITE_CONSTRAINT_CHECK', 531: 'SQLITE_CONSTRAINT_COMMITHOOK', 787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1043: 'SQLITE_CONSTRAINT_FUNCTION', 1299: 'SQLITE_CONSTRAINT_NOTNULL', 1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  1811: 'SQLITE_CONSTRAINT_TRIGGER', 2067: 'SQLITE_CONSTRAINT_UNIQUE', 2323: 'SQLITE_CONSTRAINT_VTAB',
  2579: 'SQLITE_CONSTRAINT_ROWID', 2835: 'SQLITE_CONSTRAINT_PINNED', 3091: 'SQLITE_CONSTRAINT_DATATYPE',
};

export function sqliteCodeName(errcode: number): string {
  return EXTENDED_CODES[errcode] ?? PRIMARY_CODES[errcode & 0xff] ?? `SQLITE_UNKNOWN_${errcode}`;
}

/** node:sqlite reports `code: 'ERR_SQLITE_ERROR'` plus a number; give it better-sqlite3's name and code. */
function withSqliteCode(error: unknown): unknown {
  if (error instanceof Error && typeof (error as { errcode?: unknown }).errcode === 'number') {
    const code = sqliteCodeName((error as unknown as { errcode: number }).errcode);
    Object.defineProperty(error, 'code', { value: code, enumerable: true, configurable: true, writable: true });
    Object.defineProperty(error, 'name', { value: 'SqliteError', configurable: true, writable: true });
  }
  return error;
}

function translating<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw withSqliteCode(error);
  }
}

const plainRow = <Row>(row: Record<string, SqlValue> | undefined): Row | undefined =>
  row === undefined ? undefined : ({ ...row } as Row);

function nodeSqliteStatement<Row>(db: NodeSqliteDatabase, sql: string): Statement<Row> {
  const statement = translating(() => db.prepare(sql));
  // better-sqlite3 ignores keys the statement does not use; node:sqlite would throw on them.
  statement.setAllowUnknownNamedParameters?.(true);
  const expected = scanParameters(sql);

  // node:sqlite silently binds NULL for a missing value; better-sqlite3 refuses. Refuse here too.
  const bind = (params: unknown[]): unknown[] => {
    if (isNamedParams(params)) {
      for (const name of expected.named) {
        if (params[0][name] === undefined) throw new RangeError(`Missing named parameter "${name}"`);
      }
      return params;
    }
    if (params.length < expected.positional) throw new RangeError('Too few parameter values were provided');
    if (params.length > expected.positional) throw new RangeError('Too many parameter values were provided');
    return params;
  };

  return {
    get: (...params) => translating(() => plainRow<Row>(statement.get(...bind(params)))),
    all: (...params) => translating(() => statement.all(...bind(params)).map((row) => plainRow<Row>(row) as Row)),
    run: (...params) =>
      translating(() => {
        const result = statement.run(...bind(params));
        return { changes: Number(result.changes), lastInsertRowid: result.lastInsertRowid };
      }),
  };
}

function nodeSqliteDriver(sqlite: NodeSqliteModule): SqliteDriver {
  return {
    name: 'node:sqlite',
    open(path, busyTimeoutMs, options = {}) {
      const db = translating(() => new sqlite.DatabaseSync(path, { timeout: busyTimeoutMs, readOnly: options.readOnly ?? false }));
      let open = true;
      return {
        prepare: <Row>(sql: string) => nodeSqliteStatement<Row>(db, sql),
        exec: (sql) => translating(() => db.exec(sql)),
        get inTransaction() {
          // Unknown on older node:sqlite: answer yes, and the caller's ROLLBACK tolerates "no transaction".
          return db.isTransaction ?? true;
        },
        async backup(file) {
          if (sqlite.backup) {
            await sqlite.backup(db, file).catch((error: unknown) => Promise.reject(withSqliteCode(error)));
          } else {
            // VACUUM INTO writes only a new or empty file: it cannot restore into a live database.
            if (existsSync(file) && statSync(file).size > 0) {
              throw new Error(`this runtime's node:sqlite has no backup API, so it cannot copy into the existing database ${file}: run this command with Node (better-sqlite3) or a newer runtime`);
            }
            translating(() => db.prepare('VACUUM INTO ?').run(file));
          }
        },
        close: () => {
          if (open && db.isOpen !== false) db.close();
          open = false;
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------- choice

/**
 * better-sqlite3 when its addon loads (opening a memory database forces the load now, not at the first
 * real open); otherwise node:sqlite. If neither is there, the better-sqlite3 failure is the useful one.
 */
async function loadDriver(): Promise<SqliteDriver> {
  let nativeFailure: unknown;
  try {
    const { default: BetterSqlite3 } = await import('better-sqlite3');
    new BetterSqlite3(':memory:').close();
    return betterSqlite3Driver(BetterSqlite3);
  } catch (error) {
    nativeFailure = error;
  }
  // A variable specifier keeps TypeScript (types for Node 20, which lacks the module) out of it.
  const builtin = 'node:sqlite';
  try {
    return nodeSqliteDriver((await import(builtin)) as NodeSqliteModule);
  } catch {
    throw nativeFailure;
  }
}

export const sqliteDriver: SqliteDriver = await loadDriver();
