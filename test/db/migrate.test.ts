import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, sql, type Database } from '../../src/db/database.ts';
import { loadMigrations, migrate, SchemaTooNewError, schemaVersion } from '../../src/db/migrate.ts';
import { loadConfig, resolveSecret } from '../../src/config.ts';
import { createSidekick } from '../../src/sidekick.ts';
import { adminQuery, bothEngines, postgresMissing, type TestEngine } from '../helpers/postgres.ts';
import { TEST_SECRET } from '../helpers/sidekick.ts';

const RECORD = sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
const APPLIED = sql('SELECT * FROM schema_migrations ORDER BY version');

/** An empty database (no schema at all) on `engine`: where it is, for openDatabase. */
async function emptyDatabase(engine: TestEngine, dir: string): Promise<string> {
  if (engine === 'sqlite') return path.join(dir, 'sidekick.db');
  const name = `empty_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await adminQuery(process.env.SIDEKICK_TEST_PG!, `CREATE DATABASE ${name}`);
  return process.env.SIDEKICK_TEST_PG!.replace(/\/postgres$/, `/${name}`);
}

/** Every table's columns, by name, as each engine describes them. */
async function columns(db: Database): Promise<Record<string, string[]>> {
  const rows =
    db.engine === 'sqlite'
      ? await db.all(
          sql<{ t: string; c: string }>(`SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY t, c`),
        )
      : await db.all(
          sql<{ t: string; c: string }>(`SELECT table_name AS t, column_name AS c FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY t, c`),
        );
  const tables: Record<string, string[]> = {};
  for (const { t, c } of rows) (tables[t] ??= []).push(c);
  return tables;
}

describe.each(bothEngines())('migrations on %s', (engine) => {
  let dir: string;
  let target: string;
  let db: Database;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-migrate-'));
    target = await emptyDatabase(engine, dir);
    db = await openDatabase(target);
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates a fresh database to the latest version', async () => {
    const known = loadMigrations(engine).map((m) => m.version);
    expect(known.length).toBeGreaterThan(0);
    expect(await migrate(db)).toEqual(known);
    expect(await schemaVersion(db)).toBe(7);
    expect(Object.keys(await columns(db))).toEqual(
      expect.arrayContaining(['users', 'sessions', 'revoked_jwts', 'pending_registrations', 'throttle_events', 'outbox', 'schema_migrations']),
    );
  });

  it('does nothing when run again', async () => {
    await migrate(db);
    const before = await db.all(APPLIED);
    expect(await migrate(db)).toEqual([]);
    expect(await db.all(APPLIED)).toEqual(before);
  });

  it('applies each migration exactly once when several processes start together', async () => {
    const others = await Promise.all(Array.from({ length: 4 }, () => openDatabase(target)));
    try {
      const applied = await Promise.all([db, ...others].map((each) => migrate(each)));
      expect(applied.flat().sort()).toEqual(loadMigrations(engine).map((m) => m.version).sort());
      expect(await db.all(APPLIED)).toHaveLength(loadMigrations(engine).length);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it('keeps the data when run again from another connection', async () => {
    await migrate(db);
    await db.exec("INSERT INTO throttle_events (bucket, at) VALUES ('b', 1)");
    const other = await openDatabase(target);
    try {
      expect(await migrate(other)).toEqual([]);
      expect((await other.get(sql<{ n: number }>('SELECT count(*) AS n FROM throttle_events')))!.n).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('refuses a database with a newer schema version than it knows', async () => {
    await migrate(db);
    const newer = (loadMigrations(engine).at(-1)?.version ?? 0) + 1;
    await db.run(RECORD, [newer, `${newer}-future.sql`, 0]);
    await expect(migrate(db)).rejects.toThrow(SchemaTooNewError);
    await expect(migrate(db)).rejects.toThrow(new RegExp(`version ${newer}`));
  });

  it('makes createSidekick refuse to start on a newer schema', async () => {
    await migrate(db);
    await db.run(RECORD, [999, '999-future.sql', 0]);
    const env = { SIDEKICK_DATA_DIR: dir, SIDEKICK_SECRET: TEST_SECRET, SIDEKICK_BCRYPT_COST: '4' };
    const config = resolveSecret(loadConfig(engine === 'sqlite' ? env : { ...env, SIDEKICK_DATABASE_URL: target }));
    await expect(createSidekick(config)).rejects.toThrow(SchemaTooNewError);
  });
});

describe('migrations', () => {
  it('creates a new SQLite file, and its WAL, readable by the owner alone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-migrate-'));
    const file = path.join(dir, 'sidekick.db');
    const db = await openDatabase(file);
    try {
      await migrate(db);
      for (const created of [file, `${file}-wal`]) expect(statSync(created).mode & 0o777).toBe(0o600);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(postgresMissing() !== undefined)('brings both engines to the same tables and columns', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-migrate-'));
    const [sqlite, postgres] = await Promise.all(['sqlite', 'postgres'].map(async (engine) => openDatabase(await emptyDatabase(engine as TestEngine, dir))));
    try {
      await Promise.all([migrate(sqlite), migrate(postgres)]);
      expect(await columns(postgres)).toEqual(await columns(sqlite));
    } finally {
      await Promise.all([sqlite.close(), postgres.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
