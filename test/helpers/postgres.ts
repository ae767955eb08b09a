import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

/** PostgreSQL for the tests: databases on the run's throwaway cluster (see pg-cluster.mjs, global-setup.ts). */

export const TEMPLATE_DATABASE = 'sidekick_template';

export { postgresBinaries, startCluster, type Cluster } from './pg-cluster.mjs';

/** Runs one statement as the cluster's superuser, on its `postgres` database. */
export async function adminQuery(serverUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export type TestEngine = 'sqlite' | 'postgres';

/** The engine the suite runs on: SIDEKICK_TEST_DB=postgres, or SQLite. */
export const suiteEngine = (): TestEngine => (process.env.SIDEKICK_TEST_DB === 'postgres' ? 'postgres' : 'sqlite');

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export const postgresMissing = (): string | undefined =>
  process.env.SIDEKICK_TEST_PG ? undefined : (process.env.SIDEKICK_TEST_PG_MISSING ?? 'the global setup started no PostgreSQL');

/** Engines a test that must hold on both runs on: PostgreSQL only where a cluster runs (see global-setup.ts). */
export const bothEngines = (): TestEngine[] => (postgresMissing() ? ['sqlite'] : ['sqlite', 'postgres']);

let databases = 0;

/** A new database on the test cluster, copied from the migrated template; its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const server = process.env.SIDEKICK_TEST_PG;
  if (!server) throw new Error(`no PostgreSQL for this test: ${postgresMissing()}`);
  const name = `t_${process.pid}_${++databases}_${Math.random().toString(36).slice(2, 8)}`;
  await adminQuery(server, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  return server.replace(/\/postgres$/, `/${name}`);
}

/** A migrated database of its own on `engine` (SQLite: a file in a temporary folder), for store and service tests. */
export async function openTestDatabase(engine: TestEngine): Promise<Database> {
  if (engine === 'postgres') return openDatabase(await freshPostgresDatabase());
  const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-db-'));
  const db = await openDatabase(path.join(dir, 'sidekick.db'));
  await migrate(db);
  const close = db.close;
  return { ...db, close: async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  } };
}
