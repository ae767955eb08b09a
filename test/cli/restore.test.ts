import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { loadMigrations } from '../../src/db/migrate.ts';
import { sql } from '../../src/db/port.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const LATEST = loadMigrations('sqlite').at(-1)!.version;

/** Emails of the users in the SQLite file at `file`, read in-process. */
async function emailsIn(file: string): Promise<string[]> {
  const db = await openDatabase(file);
  try {
    return (await db.all(sql<{ email: string }>('SELECT email FROM users ORDER BY id'))).map((row) => row.email);
  } finally {
    await db.close();
  }
}

/** Files the restore must not leave behind: its private copy, a marker, partial safety copies. */
const leftovers = (dir: string) => readdirSync(dir).filter((name) => /\.restore-|\.serving|\.partial/.test(name));

describe('db:restore as a subprocess', () => {
  let w: CliWorkspace;
  let live: string;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  /** A workspace whose database holds `emails`, and a db:backup of it at <data>/backup.db. */
  async function backedUp(emails: string[]): Promise<string> {
    w = await createCliWorkspace();
    live = path.join(w.dataDir, 'sidekick.db');
    const sidekick = await w.open();
    for (const email of emails) await sidekick.services.accounts.createUser({ email, password: PASSWORD });
    await sidekick.close();
    const backup = path.join(w.dataDir, 'backup.db');
    expect((await w.run(['db:backup', backup])).code).toBe(0);
    return backup;
  }

  it('gives back the data of the backup, and keeps the database it replaced beside it, mode 0600', async () => {
    const backup = await backedUp(['ada@example.com', 'bob@example.com']);
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'carol@example.com', password: PASSWORD });
    await sidekick.services.accounts.deleteByEmail('bob@example.com');
    await sidekick.close();

    const result = await w.run(['db:restore', backup, '--json']);
    expect(result.code).toBe(0);
    const report = result.json();
    expect(report).toEqual({
      database: live,
      file: backup,
      fileSchemaVersion: LATEST,
      schemaVersion: LATEST,
      rows: { users: 2, sessions: 0, revoked_jwts: 0, pending_registrations: 0, throttle_events: 0, outbox: 0 },
      safetyCopy: expect.stringMatching(/sidekick\.db\.before-restore-\d{8}T\d{6}Z$/),
      serverRunning: false,
      restartServer: false,
    });
    expect(await emailsIn(live)).toEqual(['ada@example.com', 'bob@example.com']);
    expect(await emailsIn(report.safetyCopy)).toEqual(['ada@example.com', 'carol@example.com']);
    expect(statSync(report.safetyCopy).mode & 0o777).toBe(0o600);
    expect(leftovers(w.dataDir)).toEqual([]);

    // Once more, as a person reads it: one line.
    const again = await w.run(['db:restore', backup]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`^Restored ${live} from ${backup} \\(schema version ${LATEST}, 2 users\\); the database as it was is kept in \\S+\\.\\n$`),
    );
    expect(again.stdout).not.toMatch(/\$2[aby]\$/);
  });

  it('refuses a damaged copy (integrity_check) and changes nothing', async () => {
    const backup = await backedUp(['ada@example.com']);
    const db = await openDatabase(backup);
    const { rootpage } = (await db.get(sql<{ rootpage: number }>("SELECT rootpage FROM sqlite_master WHERE name = 'users'")))!;
    await db.close();
    const damaged = path.join(w.dataDir, 'damaged.db');
    const bytes = readFileSync(backup);
    // The users table's first freeblock pointer, sent off the end of its page.
    bytes.writeUInt16BE(0xffff, (rootpage - 1) * 4096 + 1);
    writeFileSync(damaged, bytes);
    const before = readFileSync(live);

    const result = failure(await w.run(['db:restore', damaged]));
    expect(result.code).toBe(2);
    expect(result.lines).toEqual([expect.stringMatching(new RegExp(`^Error: ${damaged} failed its integrity check: Tree \\d+ page \\d+: `))]);
    expect(result.stdout).toBe('');
    expect(readFileSync(live).equals(before)).toBe(true);
    expect(readdirSync(w.dataDir).filter((name) => name.includes('before-restore'))).toEqual([]);
    expect(leftovers(w.dataDir)).toEqual([]);
  });

  it('refuses what is not a Sidekick database: another file (2), a missing one (66), another SQLite database (2)', async () => {
    w = await createCliWorkspace();
    const notes = w.file('notes.txt', 'SQLite format 2, honestly\n');
    const foreign = path.join(w.dataDir, 'foreign.db');
    const other = await openDatabase(foreign);
    await other.exec('CREATE TABLE things (id INTEGER PRIMARY KEY)');
    await other.close();
    const missing = path.join(w.dataDir, 'nowhere.db');
    const [text, absent, sqlite, folder] = (
      await Promise.all([notes, missing, foreign, w.dataDir].map((file) => w.run(['db:restore', file])))
    ).map(failure);
    expect(text).toMatchObject({ code: 2, lines: [`Error: ${notes} is not a SQLite database`] });
    expect(absent).toMatchObject({ code: 66, lines: [`Error: cannot read ${missing}: no such file`] });
    expect(sqlite).toMatchObject({
      code: 2,
      lines: [`Error: ${foreign} is a SQLite database but not a Sidekick one (no schema_migrations and users tables)`],
    });
    expect(folder).toMatchObject({ code: 66, lines: [`Error: cannot read ${w.dataDir}: it is a folder`] });
  });

  it('refuses with exit 78 a backup whose schema is newer than this Sidekick', async () => {
    const backup = await backedUp(['ada@example.com']);
    const db = await openDatabase(backup);
    await db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-future.sql', 0)");
    await db.close();
    const before = readFileSync(live);
    const result = failure(await w.run(['db:restore', backup]));
    expect(result.code).toBe(78);
    expect(result.lines).toEqual([`Error: ${backup} has schema version 999 but this Sidekick knows only up to ${LATEST}: restore it with a newer Sidekick`]);
    expect(readFileSync(live).equals(before)).toBe(true);
    expect(leftovers(w.dataDir)).toEqual([]);
  });

  it('migrates a backup of an older schema, on its copy, before it replaces the database; the file is left as it was', async () => {
    w = await createCliWorkspace();
    live = path.join(w.dataDir, 'sidekick.db');
    const old = path.join(w.dataDir, 'old.db');
    const db = await openDatabase(old);
    await db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    for (const migration of loadMigrations('sqlite').slice(0, 5)) {
      await db.exec(migration.sql);
      await db.exec(`INSERT INTO schema_migrations VALUES (${migration.version}, '${migration.name}', 0)`);
    }
    await db.close();
    const original = readFileSync(old);

    const result = await w.run(['db:restore', old]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\(schema version 5, migrated to ${LATEST}, 0 users\\)`));
    const restored = await openDatabase(live);
    expect((await restored.get(sql('SELECT max(version) AS v FROM schema_migrations')))!.v).toBe(LATEST);
    await restored.close();
    expect(readFileSync(old).equals(original)).toBe(true);
    expect(readdirSync(w.dataDir).filter((name) => name.startsWith('old.db-'))).toEqual([]);
  });

  it('restores into a data folder with no database yet, and over a file that is not a database (kept aside)', async () => {
    const backup = await backedUp(['ada@example.com']);
    const fresh = path.join(w.dataDir, 'fresh', 'sidekick.db');
    const created = await w.run(['db:restore', backup, '--json'], { env: { SIDEKICK_DB: fresh } });
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({ database: fresh, safetyCopy: null, rows: { users: 1 } });
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(await emailsIn(fresh)).toEqual(['ada@example.com']);

    writeFileSync(live, 'overwritten by accident');
    const over = await w.run(['db:restore', backup, '--json']);
    expect(over.code).toBe(0);
    const { safetyCopy } = over.json();
    expect(readFileSync(safetyCopy, 'utf8')).toBe('overwritten by accident');
    expect(await emailsIn(live)).toEqual(['ada@example.com']);
  });

  it('restores a backup with another page size into the database, which keeps its own', async () => {
    const backup = await backedUp(['ada@example.com', 'bob@example.com']);
    const large = path.join(w.dataDir, 'large-pages.db');
    copyFileSync(backup, large);
    const db = await openDatabase(large);
    await db.exec('PRAGMA journal_mode = DELETE');
    await db.exec('PRAGMA page_size = 8192');
    await db.exec('VACUUM');
    expect((await db.get(sql('PRAGMA page_size')))!.page_size).toBe(8192);
    await db.close();
    const sidekick = await w.open();
    await sidekick.services.accounts.deleteByEmail('bob@example.com');
    await sidekick.close();

    const result = await w.run(['db:restore', large]);
    expect(result.code).toBe(0);
    expect(await emailsIn(live)).toEqual(['ada@example.com', 'bob@example.com']);
    const restored = await openDatabase(live);
    expect((await restored.get(sql('PRAGMA page_size')))!.page_size).toBe(4096);
    await restored.close();
  });

  it('fails with exit 75 and changes nothing while another connection holds the write lock past the busy timeout', async () => {
    const backup = await backedUp(['ada@example.com', 'bob@example.com']);
    const sidekick = await w.open();
    await sidekick.services.accounts.deleteByEmail('bob@example.com');
    let release!: () => void;
    const held = sidekick.db.transaction(() => new Promise<void>((resolve) => (release = resolve)));

    const result = failure(await w.run(['db:restore', backup]));
    release();
    await held;
    await sidekick.close();
    expect(result.code).toBe(75);
    expect(result.lines).toEqual(['Error: the database is locked by another process; try again']);
    expect(await emailsIn(live)).toEqual(['ada@example.com']);
    expect(readdirSync(w.dataDir).filter((name) => name.includes('before-restore'))).toEqual([]);
    expect(leftovers(w.dataDir)).toEqual([]);
  });

  it('refuses on PostgreSQL in one line pointing at its own tools, without the password', async () => {
    w = await createCliWorkspace({ migrate: false });
    const backup = w.file('backup.db', 'irrelevant');
    const result = failure(
      await w.run(['db:restore', backup], { env: { SIDEKICK_DATABASE_URL: 'postgres://sidekick:s3cret-pg@127.0.0.1:1/sidekick' } }),
    );
    expect(result.code).toBe(2);
    expect(result.lines).toEqual([expect.stringMatching(/^Error: db:restore restores SQLite databases; on PostgreSQL .*pg_restore.*psql/)]);
    expect(result.line).not.toContain('s3cret-pg');
    expect(existsSync(path.join(w.dataDir, 'sidekick.db'))).toBe(false);
  });
});
