import { readdirSync, readFileSync } from 'node:fs';
import { sql, type Database, type Engine } from './port.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The engine's migrations, in order. Both engines reach the same schema at the same version; PostgreSQL's
 * history starts at the schema SQLite had when it arrived (006), so its first file is that whole schema.
 */
export function loadMigrations(engine: Engine): Migration[] {
  const dir = new URL(`${engine}/`, MIGRATIONS_DIR);
  return readdirSync(dir)
    .filter((file) => /^\d+-.+\.sql$/.test(file))
    .map((file) => ({
      version: Number(file.split('-')[0]),
      name: file,
      sql: readFileSync(new URL(file, dir), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

export class SchemaTooNewError extends Error {}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;
const CURRENT_VERSION = sql<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
const RECORD = sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
/** Any constant: every Sidekick process migrating one PostgreSQL database takes this same lock. */
const MIGRATION_LOCK = 'sidekick:migrate';

/**
 * Applies the migrations the database has not seen, each in its own transaction, so that several
 * processes starting together apply each one exactly once (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
 * advisory lock held through the check and the migration). Returns the versions applied.
 */
export async function migrate(db: Database, now: () => number = Date.now): Promise<number[]> {
  // PostgreSQL: two processes creating the table at once could both pass IF NOT EXISTS; the lock orders them.
  await db.transaction(async (tx) => {
    await tx.lock([MIGRATION_LOCK]);
    await tx.exec(CREATE_TABLE);
  });
  const migrations = loadMigrations(db.engine);
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const current = (await db.get(CURRENT_VERSION))?.v ?? 0;
  if (current > latestKnown) {
    throw new SchemaTooNewError(
      `the database schema is version ${current} but this Sidekick knows only up to ${latestKnown}: upgrade Sidekick`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    await db.transaction(async (tx) => {
      await tx.lock([MIGRATION_LOCK]);
      if (((await tx.get(CURRENT_VERSION))?.v ?? 0) >= migration.version) return;
      await tx.exec(migration.sql);
      await tx.run(RECORD, [migration.version, migration.name, Math.floor(now() / 1000)]);
      applied.push(migration.version);
    });
  }
  return applied;
}

export async function schemaVersion(db: Database): Promise<number> {
  return (await db.get(CURRENT_VERSION))?.v ?? 0;
}
