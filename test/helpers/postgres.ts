import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

/**
 * A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary folder, started on a free
 * loopback port with durability off (fsync=off: nothing here must survive the machine), stopped and
 * removed at the end. Debian's packages put the binaries in /usr/lib/postgresql/<version>/bin.
 */

export const TEMPLATE_DATABASE = 'sidekick_template';

export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Cluster {
  /** A URL for `database` on the cluster (as the superuser, no password: trust on loopback). */
  url(database: string): string;
  stop(): void;
}

export async function startCluster(bin: string): Promise<Cluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-pg-'));
  // PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args]] : [path.join(bin, command), args];
    const result = spawnSync(file, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=400',
    '-c shared_buffers=64MB',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-o', settings, '-l', path.join(dir, 'log'), '-w', 'start']);
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    url,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

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
