import pg from 'pg';
import { SidekickError } from '../errors.ts';
import { databaseError } from './errors.ts';
import { postgresValues, withoutPassword, type Database, type Executor, type Sql, type SqlParams, type TransactionOptions } from './port.ts';

/**
 * Limits every connection carries, so that one stuck node or statement cannot hold the others up:
 * - idle_in_transaction_session_timeout: a node cut off mid-transaction holds its row and advisory locks
 *   until the server notices; this ends such a session (and frees its locks) after 5 s. No transaction
 *   of Sidekick waits on anything but SQL, so none is idle for even a millisecond when healthy.
 * - lock_timeout: a statement waits at most 5 s for a lock, then fails as "busy" (503, Retry-After).
 * - statement_timeout: no statement of Sidekick's runs for more than a few milliseconds; 30 s stops a
 *   runaway one (a copy or an import in one statement is still far below it).
 */
export const SESSION_SETTINGS = {
  idle_in_transaction_session_timeout: '5s',
  lock_timeout: '5s',
  statement_timeout: '30s',
} as const;

const CONNECT_TIMEOUT_MS = 5000;
/** TCP keepalives after 10 s idle: a dead peer (either side) is found out in well under a minute. */
const KEEPALIVE_DELAY_MS = 10_000;

// int8 (count(*), BIGINT columns: epoch milliseconds and ids) and numeric (sum()) as numbers, as SQLite
// gives them; every value Sidekick stores fits a double exactly.
const toNumber = (text: string) => Number(text);
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 || oid === 1700 ? toNumber : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** `work`'s result, or its failure in the one error model. */
async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw databaseError(error);
  }
}

export interface PostgresOptions {
  /** Connections this process may hold. */
  maxConnections?: number;
  /** Told about connection errors that no query was waiting on (an idle connection dropped). */
  onIdleError?: (error: Error) => void;
}

/**
 * The PostgreSQL engine behind the port: a pool of connections (node-postgres), named prepared
 * statements, READ COMMITTED transactions on one connection each, advisory locks for rules that read
 * before they write. Any number of processes on any number of machines may share the database.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Connections stay open while idle: closing idle ones means a timer set and cleared on every query
    // (about a quarter of the driver's CPU per query, measured), and a node needs its connections again soon.
    idleTimeoutMillis: 0,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    application_name: 'sidekick',
    options: Object.entries(SESSION_SETTINGS)
      .map(([name, value]) => `-c ${name}=${value}`)
      .join(' '),
    types,
  });
  // An idle connection that drops (a restart of PostgreSQL, a network cut) is replaced at the next query;
  // without a listener the pool's 'error' event would end the process.
  pool.on('error', (error) => options.onIdleError?.(error));

  const run = (client: pg.Pool | pg.PoolClient, query: Sql<unknown>, params: SqlParams | undefined) =>
    translated(() => client.query({ name: query.id, text: query.postgres, values: postgresValues(query, params) }));
  const executor = (client: pg.Pool | pg.PoolClient): Executor => ({
    get: async <Row>(query: Sql<Row>, params?: SqlParams) => (await run(client, query, params)).rows[0] as Row | undefined,
    all: async <Row>(query: Sql<Row>, params?: SqlParams) => (await run(client, query, params)).rows as Row[],
    run: async (query, params) => (await run(client, query, params)).rowCount ?? 0,
    exec: async (text) => void (await translated(() => client.query(text))),
    lock: async (keys) => {
      if (keys.length === 0) return;
      // One statement, the keys sorted: two transactions that want the same keys take them in the same
      // order, so they queue and never deadlock.
      const sorted = [...new Set(keys)].sort();
      const text = `SELECT ${sorted.map((_, i) => `pg_advisory_xact_lock(hashtextextended($${i + 1}, 0))`).join(', ')}`;
      await translated(() => client.query({ name: `sk_lock_${sorted.length}`, text, values: sorted }));
    },
  });

  // Fails now, with a clear error, when the server cannot be reached or refuses the login.
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw databaseError(error);
  }

  const shared = executor(pool);
  let closed: Promise<void> | undefined;
  return {
    engine: 'postgres',
    driver: 'pg',
    location: withoutPassword(url),
    ...shared,
    changeStamp: undefined,
    async transaction<T>(work: (tx: Executor) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      const client = await translated(() => pool.connect());
      let broken: Error | undefined;
      try {
        await client.query(options.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        const result = await work(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is gone or unusable: the pool must not hand it out again.
          broken = rollbackError as Error;
        }
        throw databaseError(error);
      } finally {
        client.release(broken ?? false);
      }
    },
    async backup() {
      throw new SidekickError(
        'invalid',
        "db:backup copies SQLite files; on PostgreSQL use the server's own tools (pg_dump, or base backups with WAL archiving)",
      );
    },
    close: () => (closed ??= pool.end()),
  };
}
