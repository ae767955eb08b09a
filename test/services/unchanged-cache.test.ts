import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, sql, type Database } from '../../src/db/database.ts';
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts';
import { createUnchangedCache } from '../../src/services/unchanged-cache.ts';
import { loginJwt, registerUser } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenSignUp, meStatus } from '../helpers/kitchen.ts';
import { suiteEngine } from '../helpers/postgres.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

describe('unchanged cache', () => {
  let dir: string;
  let db: SqliteDatabase;
  let other: SqliteDatabase;
  let reads: number;
  const readName = (database: Database) => async () => {
    reads++;
    return (await database.get(sql<{ name: string }>('SELECT name FROM things WHERE id = 1')))?.name;
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-cache-'));
    db = openSqlite(path.join(dir, 'cache.db'));
    await db.exec("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO things VALUES (1, 'first')");
    other = openSqlite(path.join(dir, 'cache.db'));
    reads = 0;
  });
  afterEach(async () => {
    await db.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from memory while nothing is written', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 10);
    for (let i = 0; i < 5; i++) expect(await cache.get('thing', readName(db))).toBe('first');
    expect(reads).toBe(1);
  });

  it('reads again after a write on its own connection', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 10);
    expect(await cache.get('thing', readName(db))).toBe('first');
    await db.run(sql("UPDATE things SET name = 'second' WHERE id = 1"));
    expect(await cache.get('thing', readName(db))).toBe('second');
    expect(reads).toBe(2);
  });

  it('reads again after a commit by another connection', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 10);
    expect(await cache.get('thing', readName(db))).toBe('first');
    await other.transaction((tx) => tx.run(sql("UPDATE things SET name = 'from elsewhere' WHERE id = 1")));
    expect(await cache.get('thing', readName(db))).toBe('from elsewhere');
    await other.run(sql('DELETE FROM things'));
    expect(await cache.get('thing', readName(db))).toBeUndefined();
  });

  it('keeps no answer read while the database changed under the read', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 10);
    const racing = async () => {
      reads++;
      await other.run(sql("UPDATE things SET name = 'changed meanwhile' WHERE id = 1"));
      return 'read before the change';
    };
    expect(await cache.get('thing', racing)).toBe('read before the change');
    expect(await cache.get('thing', readName(db))).toBe('changed meanwhile');
    expect(reads).toBe(2);
  });

  it('knows, without a promise, only what a read left and the database has not changed since', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 10);
    expect(cache.known('thing')).toBeUndefined();
    await cache.get('thing', readName(db));
    expect(cache.known('thing')).toBe('first');
    await other.run(sql("UPDATE things SET name = 'second' WHERE id = 1"));
    expect(cache.known('thing')).toBeUndefined();
    expect(createUnchangedCache<string>(undefined, 10).known('thing')).toBeUndefined();
  });

  it('remembers nothing without a change stamp (PostgreSQL)', async () => {
    const cache = createUnchangedCache<string>(undefined, 10);
    for (let i = 0; i < 3; i++) expect(await cache.get('thing', readName(db))).toBe('first');
    expect(reads).toBe(3);
    expect(cache.size).toBe(0);
  });

  it('never remembers a missing answer, and keeps at most maxEntries', async () => {
    const cache = createUnchangedCache<string>(db.changeStamp, 2);
    expect(await cache.get('none', async () => (reads++, undefined))).toBeUndefined();
    expect(await cache.get('none', async () => (reads++, undefined))).toBeUndefined();
    expect(reads).toBe(2);
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => key);
    expect(cache.size).toBe(2);
    expect(await cache.get('a', async () => 'read again')).toBe('read again');
  });
});

describe('authenticated requests with remembered sessions', () => {
  let t: TestSidekick;
  let elsewhere: Database;
  beforeEach(async () => {
    t = await createTestSidekick();
    // Another connection to the same database, as the CLI, a second worker or another node has.
    elsewhere = await openDatabase(t.config.databaseUrl ?? t.config.dbPath);
  });
  afterEach(async () => {
    await elsewhere.close();
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

    await elsewhere.run(sql("UPDATE users SET is_active = 0 WHERE email = 'ada@example.com'"));
    expect(await profileStatus(access)).toBe(401);
    await elsewhere.run(sql("UPDATE users SET is_active = 1 WHERE email = 'ada@example.com'"));
    expect(await profileStatus(access)).toBe(200);

    await elsewhere.run(sql("DELETE FROM sessions WHERE kind = 'token'"));
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

  describe('answered at once when every check is remembered', () => {
    const authenticate = (header: string) => t.sidekick.services.credentials.authenticate(header);

    // PostgreSQL has no change stamp: there every check asks the database (the suite's other tests).
    it.skipIf(suiteEngine() === 'postgres')('answers a known credential without a promise, and every refusal with one', async () => {
      await registerUser(t, 'ada@example.com');
      const { access, refresh } = await loginJwt(t, 'ada@example.com');
      const { token } = await kitchenSignUp(t, 'bob@example.com');
      expect(authenticate(`Bearer ${access}`)).toBeInstanceOf(Promise);
      expect(authenticate(`Token ${token}`)).toBeInstanceOf(Promise);
      await authenticate(`Bearer ${access}`);
      await authenticate(`Token ${token}`);
      expect(authenticate(`Bearer ${access}`)).not.toBeInstanceOf(Promise);
      expect(authenticate(`bearer ${access}`)).not.toBeInstanceOf(Promise);
      expect((authenticate(`Token ${token}`) as { user: { email: string } }).user.email).toBe('bob@example.com');

      // Known tokens under the wrong scheme or spelled otherwise go the whole way, and are refused there
      // or accepted as before.
      await expect(authenticate(`Token ${access}`)).rejects.toMatchObject({ code: 'authentication_failed' });
      await expect(authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'token_not_valid' });
      await t.sidekick.services.credentials.refresh(refresh);
      await expect(authenticate(`Bearer ${refresh}`)).rejects.toMatchObject({ code: 'token_not_valid' });
      expect((await authenticate(`  Bearer   ${access} `)).user.email).toBe('ada@example.com');

      await elsewhere.run(sql("UPDATE users SET is_active = 0 WHERE email = 'ada@example.com'"));
      const refused = authenticate(`Bearer ${access}`);
      expect(refused).toBeInstanceOf(Promise);
      await expect(refused).rejects.toMatchObject({ code: 'token_not_valid' });
    });

    it.skipIf(suiteEngine() === 'postgres')('refreshes with a known refresh token without a promise, and refuses with one', async () => {
      const { credentials } = t.sidekick.services;
      await registerUser(t, 'ada@example.com');
      const { access, refresh } = await loginJwt(t, 'ada@example.com');
      expect(credentials.refresh(refresh)).toBeInstanceOf(Promise);
      await credentials.refresh(refresh);
      const known = credentials.refresh(refresh);
      expect(known).not.toBeInstanceOf(Promise);
      const { access: fresh } = known as { access: string };
      expect(fresh).not.toBe(access);
      expect((await authenticate(`Bearer ${fresh}`)).user.email).toBe('ada@example.com');

      // An access token is no refresh token, known or not.
      await authenticate(`Bearer ${access}`);
      await expect(credentials.refresh(access)).rejects.toMatchObject({ code: 'token_not_valid' });

      // A blacklisted refresh token (SimpleJWT's logout) is refused at its next use.
      const second = await loginJwt(t, 'ada@example.com');
      await credentials.refresh(second.refresh);
      expect(credentials.refresh(second.refresh)).not.toBeInstanceOf(Promise);
      await t.sidekick.services.auth.blacklist({ refresh: second.refresh });
      await expect(credentials.refresh(second.refresh)).rejects.toMatchObject({ code: 'token_not_valid' });

      // A deactivation committed by another connection: the very next refresh goes the whole way, refused.
      await elsewhere.run(sql("UPDATE users SET is_active = 0 WHERE email = 'ada@example.com'"));
      const refused = credentials.refresh(refresh);
      expect(refused).toBeInstanceOf(Promise);
      await expect(refused).rejects.toMatchObject({ code: 'token_not_valid' });
    });

    it.skipIf(suiteEngine() === 'postgres')('sees a known refresh token expire by the clock alone', async () => {
      const { credentials } = t.sidekick.services;
      await registerUser(t, 'ada@example.com');
      const { refresh } = await loginJwt(t, 'ada@example.com');
      await credentials.refresh(refresh);
      t.clock.advanceSeconds(t.config.refreshTtl - 1);
      expect(credentials.refresh(refresh)).not.toBeInstanceOf(Promise);
      t.clock.advanceSeconds(1);
      await expect(credentials.refresh(refresh)).rejects.toMatchObject({ code: 'token_not_valid' });
    });

    it('sees an access token expire by the clock alone', async () => {
      await registerUser(t, 'ada@example.com');
      const { access } = await loginJwt(t, 'ada@example.com');
      expect(await profileStatus(access)).toBe(200);
      t.clock.advanceSeconds(t.config.accessTtl - 1);
      expect(await profileStatus(access)).toBe(200);
      t.clock.advanceSeconds(1);
      expect(await profileStatus(access)).toBe(401);
    });
  });
});
