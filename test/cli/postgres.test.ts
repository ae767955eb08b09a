import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveSecret } from '../../src/config.ts';
import { openDatabase, sql, type Database } from '../../src/db/database.ts';
import { createLogger } from '../../src/logger.ts';
import { createSidekick, type Sidekick } from '../../src/sidekick.ts';
import { freshPostgresDatabase, postgresMissing } from '../helpers/postgres.ts';
import { TEST_SECRET } from '../helpers/sidekick.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, runCli, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const COUNTS = sql<{ t: string; n: number }>(`SELECT 'users' AS t, count(*) AS n FROM users UNION ALL
  SELECT 'sessions', count(*) FROM sessions UNION ALL SELECT 'revoked_jwts', count(*) FROM revoked_jwts UNION ALL
  SELECT 'pending_registrations', count(*) FROM pending_registrations UNION ALL
  SELECT 'throttle_events', count(*) FROM throttle_events UNION ALL SELECT 'outbox', count(*) FROM outbox`);

async function counts(db: Database): Promise<Record<string, number>> {
  return Object.fromEntries((await db.all(COUNTS)).map((row) => [row.t, row.n]));
}

describe.skipIf(postgresMissing() !== undefined)('the CLI on PostgreSQL', () => {
  let w: CliWorkspace;
  const opened: Sidekick[] = [];
  const cleanups: string[] = [];
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    for (const sidekick of opened.splice(0)) await sidekick.close();
    for (const dir of cleanups.splice(0)) rmSync(dir, { recursive: true, force: true });
    await w?.close();
  });

  /** A Sidekick on `url` (PostgreSQL) or the SQLite file `db`, as another node or a later server. */
  async function open(target: { url?: string; db?: string }) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-node-'));
    cleanups.push(dataDir);
    const env = { SIDEKICK_DATA_DIR: dataDir, SIDEKICK_SECRET: TEST_SECRET, SIDEKICK_BCRYPT_COST: '4', SIDEKICK_DATABASE_URL: target.url, SIDEKICK_DB: target.db };
    const sidekick = await createSidekick(resolveSecret(loadConfig(env)), { logger: createLogger('silent') });
    opened.push(sidekick);
    return sidekick;
  }

  it('refuses to start without SIDEKICK_SECRET, with exit 78', async () => {
    w = await createCliWorkspace({ migrate: false });
    const url = await freshPostgresDatabase();
    const result = failure(await w.run(['users:list'], { env: { SIDEKICK_SECRET: undefined, SIDEKICK_DATABASE_URL: url } }));
    expect(result.code).toBe(78);
    expect(result.lines).toEqual([expect.stringMatching(/^Error: SIDEKICK_SECRET: must be set when SIDEKICK_DATABASE_URL is/)]);
  });

  it('reports an unreachable database in one line, without its password', async () => {
    w = await createCliWorkspace({ migrate: false });
    const result = failure(await w.run(['users:list'], { env: { SIDEKICK_DATABASE_URL: 'postgres://sidekick:hunter2@127.0.0.1:1/nowhere' } }));
    expect(result.code).toBe(69);
    expect(result.lines).toEqual([expect.stringMatching(/^Error: the database cannot be reached \(ECONNREFUSED\)/)]);
    expect(result.line).not.toContain('hunter2');
  });

  it('db:backup on PostgreSQL names the tools to use instead', async () => {
    w = await createCliWorkspace({ migrate: false });
    const url = await freshPostgresDatabase();
    const result = failure(await w.run(['db:backup', path.join(w.dataDir, 'copy.db')], { env: { SIDEKICK_DATABASE_URL: url } }));
    expect(result.code).toBe(2);
    expect(result.lines).toEqual([expect.stringMatching(/pg_dump/)]);
  });

  it('db:copy moves SQLite to PostgreSQL and back, ids and counters kept, and refuses a target with data', async () => {
    w = await createCliWorkspace();
    const sqlite = await w.open();
    const { accounts, credentials } = sqlite.services;
    const ada = await accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    await accounts.createUser({ email: 'gone@example.com', password: PASSWORD });
    const token = await credentials.issueOpaqueToken(ada);
    const { refresh } = await credentials.issueJwtPair(ada);
    await credentials.blacklist(refresh);
    await sqlite.services.registration.requestCode({ email: 'later@example.com', password: PASSWORD, preferences: 'x', dob: '1990-01-01' }, '192.0.2.1');
    // The highest id ever handed out is gone: it must never be handed out again, after the move either.
    await accounts.deleteByEmail('gone@example.com');
    const before = await counts(sqlite.db);

    const url = await freshPostgresDatabase();
    const copied = await w.run(['db:copy', '--to', url, '--json']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.json()).toMatchObject({ from: path.join(w.dataDir, 'sidekick.db'), rows: before });
    const onPostgres = await open({ url });
    expect(await counts(onPostgres.db)).toEqual(before);
    expect((await onPostgres.services.credentials.authenticate(`Token ${token}`)).user.email).toBe('ada@example.com');
    await expect(onPostgres.services.credentials.refresh(refresh)).rejects.toMatchObject({ code: 'token_not_valid' });
    const next = await onPostgres.services.accounts.createUser({ email: 'next@example.com', password: PASSWORD });
    expect(next.id).toBe(3);

    const again = failure(await w.run(['db:copy', '--to', url]));
    expect(again.code).toBe(2);
    expect(again.lines).toEqual([expect.stringMatching(/is not empty \(its users table has rows\)/)]);
    expect(await counts(onPostgres.db)).toEqual({ ...before, users: before.users + 1 });

    const back = path.join(w.dataDir, 'back', 'sidekick.db');
    const returned = await runCli(['db:copy', '--to', back], { ...w.env, SIDEKICK_DATABASE_URL: url });
    expect(returned.code, returned.stderr).toBe(0);
    expect(returned.stdout).toMatch(/^Copied \d+ rows from postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+ to /);
    const onSqlite = await open({ db: back });
    expect(await counts(onSqlite.db)).toEqual({ ...before, users: before.users + 1 });
    expect((await onSqlite.services.accounts.createUser({ email: 'last@example.com', password: PASSWORD })).id).toBe(4);
    const sqliteAgain = await openDatabase(back);
    try {
      expect(await sqliteAgain.get(sql("SELECT seq FROM sqlite_sequence WHERE name = 'users'"))).toEqual({ seq: 4 });
    } finally {
      await sqliteAgain.close();
    }
  });
});
