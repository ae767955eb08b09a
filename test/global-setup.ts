import { migrateDatabase } from '../src/services/database-admin.ts';
import { adminQuery, postgresBinaries, startCluster, TEMPLATE_DATABASE } from './helpers/postgres.ts';

/**
 * Starts one throwaway PostgreSQL cluster for the whole run (when its binaries are installed) and
 * migrates a template database that every test database is copied from. Tests find its URL in
 * SIDEKICK_TEST_PG (workers inherit the environment); without it, PostgreSQL tests skip and say why.
 */
export default async function setup(): Promise<() => void> {
  const bin = postgresBinaries();
  if (!bin) {
    process.env.SIDEKICK_TEST_PG_MISSING = 'no PostgreSQL in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)';
    console.warn(`PostgreSQL tests are skipped: ${process.env.SIDEKICK_TEST_PG_MISSING}`);
    return () => {};
  }
  const cluster = await startCluster(bin);
  await adminQuery(cluster.url('postgres'), `CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await migrateDatabase(cluster.url(TEMPLATE_DATABASE));
  process.env.SIDEKICK_TEST_PG = cluster.url('postgres');
  return () => cluster.stop();
}
