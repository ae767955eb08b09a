import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { loadMigrations, migrate, SchemaTooNewError, schemaVersion } from '../../src/db/migrate.ts';
import { loadConfig, resolveSecret } from '../../src/config.ts';
import { createSidekick } from '../../src/sidekick.ts';
import { TEST_SECRET } from '../helpers/sidekick.ts';

describe('migrations', () => {
  let dir: string;
  let file: string;
  let db: Database;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-migrate-'));
    file = path.join(dir, 'sidekick.db');
    db = openDatabase(file);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tables = () =>
    db
      .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((row) => row.name);

  it('creates a new database file, and its WAL, readable by the owner alone', () => {
    migrate(db);
    for (const created of [file, `${file}-wal`]) expect(statSync(created).mode & 0o777).toBe(0o600);
  });

  it('migrates a fresh database to the latest version', () => {
    const known = loadMigrations().map((m) => m.version);
    expect(known.length).toBeGreaterThan(0);
    expect(migrate(db)).toEqual(known);
    expect(schemaVersion(db)).toBe(known.at(-1));
    expect(tables()).toEqual(
      expect.arrayContaining(['users', 'sessions', 'revoked_jwts', 'pending_registrations', 'throttle_events', 'outbox', 'schema_migrations']),
    );
  });

  it('does nothing when run again', () => {
    migrate(db);
    const before = db.prepare('SELECT * FROM schema_migrations').all();
    expect(migrate(db)).toEqual([]);
    expect(db.prepare('SELECT * FROM schema_migrations').all()).toEqual(before);
  });

  it('keeps the data when run again from another connection', () => {
    migrate(db);
    db.exec("INSERT INTO throttle_events (bucket, at) VALUES ('b', 1)");
    const other = openDatabase(file);
    try {
      expect(migrate(other)).toEqual([]);
      expect(other.prepare<{ n: number }>('SELECT count(*) AS n FROM throttle_events').get()!.n).toBe(1);
    } finally {
      other.close();
    }
  });

  it('refuses a database with a newer schema version than it knows', () => {
    migrate(db);
    const newer = (loadMigrations().at(-1)?.version ?? 0) + 1;
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(newer, `${newer}-future.sql`, 0);
    expect(() => migrate(db)).toThrow(SchemaTooNewError);
    expect(() => migrate(db)).toThrow(new RegExp(`version ${newer}`));
  });

  it('makes createSidekick refuse to start on a newer schema', () => {
    migrate(db);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(999, '999-future.sql', 0);
    const config = resolveSecret(loadConfig({ SIDEKICK_DATA_DIR: dir, SIDEKICK_SECRET: TEST_SECRET, SIDEKICK_BCRYPT_COST: '4' }));
    expect(() => createSidekick(config)).toThrow(SchemaTooNewError);
  });
});
