import { closeSync, openSync, realpathSync } from 'node:fs';
import { createChangeStamp } from './change-stamp.ts';
import { databaseError } from './errors.ts';
import { isPositional, type Database, type Executor, type Sql, type SqlParams, type TransactionOptions } from './port.ts';
import { sqliteDriver, type SqliteConnection, type Statement } from './sqlite-driver.ts';

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

/** Runs `work` now; its result or its error (in the one error model) as a promise. */
function settled<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(databaseError(error));
  }
}

/** Spreads positional values; passes named ones as the object better-sqlite3 binds from. */
const bind = (params: SqlParams | undefined): never[] =>
  (params === undefined ? [] : isPositional(params) ? params : [params]) as never[];

/**
 * One gate per database file in this process, shared by its connections: while one of them has a
 * transaction open, a statement of another would wait for SQLite's write lock synchronously, blocking
 * the very event loop the open transaction needs to finish. So they wait here instead, asynchronously.
 */
interface Gate {
  /** Settles when the open transaction ends; undefined while none is open. */
  current: Promise<void> | undefined;
  release(): void;
}
const gates = new Map<string, { gate: Gate; users: number }>();

function gateFor(path: string): Gate {
  let key: string | undefined;
  try {
    key = path === ':memory:' || path.startsWith('file:') ? undefined : realpathSync(path);
  } catch {
    key = undefined;
  }
  if (key === undefined) return { current: undefined, release: () => {} };
  const known = key;
  const entry = gates.get(known) ?? {
    users: 0,
    gate: {
      current: undefined,
      release: () => {
        const held = gates.get(known);
        if (held && --held.users === 0) gates.delete(known);
      },
    },
  };
  entry.users++;
  gates.set(known, entry);
  return entry.gate;
}

/** The port, and which source the change stamp reads (diagnostics and tests). */
export interface SqliteDatabase extends Database {
  readonly changeStamp: () => string;
  readonly changeStampSource: 'wal-index' | 'sql';
}

/**
 * The SQLite engine behind the port, over one connection (better-sqlite3 on Node, node:sqlite where
 * that cannot load; see sqlite-driver.ts). Statements run synchronously; the promises only carry
 * their results.
 *
 * A transaction is BEGIN IMMEDIATE on this connection, so while one is open every statement of this
 * process would land inside it: statements from outside wait until it ends, and transactions queue
 * (with those of this process's other connections to the file: see gateFor). Other processes are held
 * off by SQLite's write lock (busy timeout 5 s).
 */
export function openSqlite(path: string): SqliteDatabase {
  createOwnerOnly(path);
  let connection: SqliteConnection;
  try {
    connection = sqliteDriver.open(path, BUSY_TIMEOUT_MS);
  } catch (error) {
    throw databaseError(error);
  }
  const statements = new Map<string, Statement<unknown>>();
  const prepared = <Row>(query: Sql<Row>): Statement<Row> => {
    let statement = statements.get(query.sqlite);
    if (!statement) {
      statement = connection.prepare(query.sqlite);
      statements.set(query.sqlite, statement);
    }
    return statement as Statement<Row>;
  };

  let walMode: boolean;
  try {
    walMode = connection.prepare<{ journal_mode: string }>('PRAGMA journal_mode = WAL').get()?.journal_mode === 'wal';
    // FULL: a revocation or a consumed code that was acknowledged must survive power loss.
    connection.exec('PRAGMA synchronous = FULL');
    connection.exec('PRAGMA foreign_keys = ON');
    connection.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // SQLite checkpoints the WAL every 1000 pages (~4 MB) but never shrinks the file: a burst of writes
    // would leave it at its high-water mark forever. This truncates it back whenever it is reset.
    connection.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  } catch (error) {
    connection.close();
    throw databaseError(error);
  }

  const begin = connection.prepare('BEGIN IMMEDIATE');
  const beginSnapshot = connection.prepare('BEGIN DEFERRED');
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

  /** Statements straight on the connection: the open transaction's own. */
  const inTransaction: Executor = {
    get: (query, params) => settled(() => prepared(query).get(...bind(params))),
    all: (query, params) => settled(() => prepared(query).all(...bind(params))),
    run: (query, params) => settled(() => prepared(query).run(...bind(params)).changes),
    exec: (text) => settled(() => connection.exec(text)),
    lock: () => Promise.resolve(),
  };

  const gate = gateFor(path);
  const afterTransaction = async <T>(work: () => Promise<T>): Promise<T> => {
    while (gate.current) await gate.current;
    return work();
  };
  const outside = <T>(work: () => Promise<T>): Promise<T> => (gate.current ? afterTransaction(work) : work());

  return {
    engine: 'sqlite',
    driver: sqliteDriver.name,
    location: path,
    get: (query, params) => outside(() => inTransaction.get(query, params)),
    all: (query, params) => outside(() => inTransaction.all(query, params)),
    run: (query, params) => outside(() => inTransaction.run(query, params)),
    exec: (text) => outside(() => inTransaction.exec(text)),
    lock: () => Promise.resolve(),
    changeStamp: () => (connection.inTransaction ? `in transaction ${++readsInTransaction}` : stamp.read()),
    changeStampSource: stamp.source,
    async transaction<T>(work: (tx: Executor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      while (gate.current) await gate.current;
      let end!: () => void;
      gate.current = new Promise((resolve) => (end = resolve));
      try {
        await settled(() => (options.snapshot ? beginSnapshot : begin).run());
        try {
          const result = await work(inTransaction);
          await settled(() => commit.run());
          return result;
        } catch (error) {
          if (connection.inTransaction) {
            try {
              rollback.run();
            } catch {
              // SQLite already ended the transaction (it does on some errors); the original error matters.
            }
          }
          throw databaseError(error);
        }
      } finally {
        gate.current = undefined;
        end();
      }
    },
    backup: (file) => connection.backup(file).catch((error: unknown) => Promise.reject(databaseError(error))),
    close: async () => {
      connection.close();
      stamp.close();
      gate.release();
    },
  };
}
