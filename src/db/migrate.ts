import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d+-.+\.sql$/.test(file))
    .map((file) => ({
      version: Number(file.split('-')[0]),
      name: file,
      sql: readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

export class SchemaTooNewError extends Error {}

/**
 * Applies the migrations the database has not seen, each in its own immediate transaction so that
 * several processes starting together apply each one exactly once. Returns the versions applied.
 */
export function migrate(db: Database, now: () => number = Date.now): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const migrations = loadMigrations();
  const latestKnown = migrations.at(-1)?.version ?? 0;
  const currentVersion = db.prepare<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');

  const current = currentVersion.get()?.v ?? 0;
  if (current > latestKnown) {
    throw new SchemaTooNewError(
      `the database schema is version ${current} but this Sidekick knows only up to ${latestKnown}: upgrade Sidekick`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    db.immediate(() => {
      if ((currentVersion.get()?.v ?? 0) >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Math.floor(now() / 1000));
      applied.push(migration.version);
    });
  }
  return applied;
}

export function schemaVersion(db: Database): number {
  return db.prepare<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations').get()?.v ?? 0;
}
