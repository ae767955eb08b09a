import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { createUnchangedCache } from '../../src/services/unchanged-cache.ts';
import { loginJwt, registerUser } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenSignUp, meStatus } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

describe('unchanged cache', () => {
  let dir: string;
  let db: Database;
  let other: Database;
  let reads: number;
  const readName = (database: Database) => () => {
    reads++;
    return database.prepare<{ name: string }>('SELECT name FROM things WHERE id = 1').get()?.name;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-cache-'));
    db = openDatabase(path.join(dir, 'cache.db'));
    db.exec("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO things VALUES (1, 'first')");
    other = openDatabase(path.join(dir, 'cache.db'));
    reads = 0;
  });
  afterEach(() => {
    db.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from memory while nothing is written', () => {
    const cache = createUnchangedCache<string>(db, 10);
    for (let i = 0; i < 5; i++) expect(cache.get('thing', readName(db))).toBe('first');
    expect(reads).toBe(1);
  });

  it('reads again after a write on its own connection', () => {
    const cache = createUnchangedCache<string>(db, 10);
    expect(cache.get('thing', readName(db))).toBe('first');
    db.prepare("UPDATE things SET name = 'second' WHERE id = 1").run();
    expect(cache.get('thing', readName(db))).toBe('second');
    expect(reads).toBe(2);
  });

  it('reads again after a commit by another connection', () => {
    const cache = createUnchangedCache<string>(db, 10);
    expect(cache.get('thing', readName(db))).toBe('first');
    other.immediate(() => other.prepare("UPDATE things SET name = 'from elsewhere' WHERE id = 1").run());
    expect(cache.get('thing', readName(db))).toBe('from elsewhere');
    other.prepare('DELETE FROM things').run();
    expect(cache.get('thing', readName(db))).toBeUndefined();
  });

  it('never remembers a missing answer, and keeps at most maxEntries', () => {
    const cache = createUnchangedCache<string>(db, 2);
    expect(cache.get('none', () => (reads++, undefined))).toBeUndefined();
    expect(cache.get('none', () => (reads++, undefined))).toBeUndefined();
    expect(reads).toBe(2);
    for (const key of ['a', 'b', 'c']) cache.get(key, () => key);
    expect(cache.size).toBe(2);
    expect(cache.get('a', () => 'read again')).toBe('read again');
  });
});

describe('authenticated requests with remembered sessions', () => {
  let t: TestSidekick;
  let elsewhere: Database;
  beforeEach(() => {
    t = createTestSidekick();
    // Another connection to the same file, as the CLI or a second worker has.
    elsewhere = openDatabase(t.config.dbPath);
  });
  afterEach(async () => {
    elsewhere.close();
    await t.close();
  });

  const profileStatus = async (access: string) =>
    (await call(t.app as Hono<any>, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${access}` } })).status;

  it('see a deactivation or a revoked session committed by another connection on the next request', async () => {
    await registerUser(t, 'ada@example.com');
    const { access } = await loginJwt(t, 'ada@example.com');
    const { token } = await kitchenSignUp(t, 'bob@example.com');
    expect(await profileStatus(access)).toBe(200);
    expect(await profileStatus(access)).toBe(200);
    expect(await meStatus(t, `Token ${token}`)).toBe(200);

    elsewhere.immediate(() => elsewhere.prepare("UPDATE users SET is_active = 0 WHERE email = 'ada@example.com'").run());
    expect(await profileStatus(access)).toBe(401);
    elsewhere.immediate(() => elsewhere.prepare("UPDATE users SET is_active = 1 WHERE email = 'ada@example.com'").run());
    expect(await profileStatus(access)).toBe(200);

    elsewhere.immediate(() => elsewhere.prepare("DELETE FROM sessions WHERE kind = 'token'").run());
    expect(await meStatus(t, `Token ${token}`)).toBe(401);
    expect(await profileStatus(access)).toBe(200);
  });

  it('see a session end by the clock alone, with nothing written', async () => {
    const { token } = await kitchenSignUp(t, 'bob@example.com');
    expect(await meStatus(t, `Token ${token}`)).toBe(200);
    t.clock.advanceSeconds(t.config.tokenTtl - 1);
    expect(await meStatus(t, `Token ${token}`)).toBe(200);
    t.clock.advanceSeconds(1);
    expect(await meStatus(t, `Token ${token}`)).toBe(401);
  });
});
