import { sql } from '../../src/db/port.ts';
import { existsSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeFrom, loginJwt, registerUser, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const INSERT_EVENT = sql('INSERT INTO throttle_events (bucket, at) VALUES (?, ?)');

describe('bounded growth', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  const count = async (table: string, where = '1') =>
    ((await t.sidekick.db.get(sql(`SELECT count(*) AS n FROM ${table} WHERE ${where}`))) as { n: number }).n;
  const purge = () => t.sidekick.services.maintenance.purgeExpired();

  it('purges expired registrations, sessions, revocations, spent throttle windows and old delivered mail, and nothing live', async () => {
    await registerUser(t, 'kept@example.com');
    const jwt = await loginJwt(t, 'kept@example.com');
    const kitchen = await call(t.app, 'POST', '/token/', { body: { email: 'kept@example.com', password: STRONG_PASSWORD } });
    expect(kitchen.status).toBe(200);
    expect((await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh: jwt.refresh } })).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/users/login/', { body: { email: 'kept@example.com', password: 'Not-The-Password-1' } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('abandoned@example.com') })).status).toBe(200);
    const abandonedCode = codeFrom(await t.deliver(), 'abandoned@example.com');

    // Delivered mail keeps no body: codes and links leave the database as soon as they are sent.
    expect(await count('outbox', 'sealed_body IS NOT NULL')).toBe(0);
    expect(await count('outbox', "status = 'sent'")).toBeGreaterThan(0);
    expect(await count('pending_registrations')).toBe(1);
    expect(await count('revoked_jwts')).toBe(1);
    expect(await count('sessions')).toBe(2);
    expect(await count('throttle_events')).toBeGreaterThan(0);

    // Nothing is due yet: a purge right away keeps everything.
    expect(await purge()).toEqual({ sessions: 0, registrations: 0, throttleEvents: 0, sentMail: 0, failedMail: 0, orphanUploads: 0, mailFiles: 0 });

    t.clock.advanceSeconds(11 * 60); // past the OTP's 10 minutes
    expect((await purge()).registrations).toBe(1);
    expect(await count('pending_registrations')).toBe(0);
    const late = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('abandoned@example.com', { otp: abandonedCode }) });
    expect(late.status).toBe(400);

    t.clock.advanceSeconds(60 * 60); // past the longest throttle window (an hour)
    expect((await purge()).throttleEvents).toBeGreaterThan(0);
    expect(await count('throttle_events')).toBe(0);

    t.clock.advanceSeconds(24 * 3600); // past the refresh token's day: its session and its revocation go
    await purge();
    expect(await count('revoked_jwts')).toBe(0);
    expect(await count('sessions', "kind = 'jwt'")).toBe(0);
    // The 30-day opaque token is still live, and still works.
    expect(await count('sessions', "kind = 'token'")).toBe(1);
    expect((await call(t.app, 'GET', '/users/me/', { token: kitchen.body.token })).status).toBe(200);
    // The revoked refresh token stays refused after its revocation row is gone: it has expired by now.
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: jwt.refresh } })).status).toBe(401);

    t.clock.advanceSeconds(7 * 24 * 3600); // delivered mail is kept a week for operators, then dropped
    expect((await purge()).sentMail).toBeGreaterThan(0);
    expect(await count('outbox')).toBe(0);
    t.clock.advanceSeconds(30 * 24 * 3600);
    await purge();
    expect(await count('sessions')).toBe(0);
    expect(await count('users')).toBe(1);
  });

  it('keeps the WAL file bounded under sustained writes', async () => {
    const walPath = `${t.config.dbPath}-wal`;
    let largest = 0;
    const filler = 'x'.repeat(400);
    // About 50 MB of pages written through the WAL, in 1000 short transactions, as a busy server would.
    for (let batch = 0; batch < 1000; batch++) {
      await t.sidekick.db.transaction(async (tx) => {
        for (let i = 0; i < 100; i++) await tx.run(INSERT_EVENT, [`${filler}${batch}-${i}`, t.clock.now()]);
      });
      if (batch % 100 === 99) {
        // Old windows are purged as the server's maintenance does, so the data itself stays small too.
        t.clock.advanceSeconds(2 * 3600);
        await purge();
      }
      if (existsSync(walPath)) largest = Math.max(largest, statSync(walPath).size);
    }
    // The next small write after a checkpointed WAL restarts it and truncates the file to the limit.
    await t.sidekick.db.run(INSERT_EVENT, ['last', t.clock.now()]);
    const final = existsSync(walPath) ? statSync(walPath).size : 0;
    console.log(`WAL: largest ${(largest / 2 ** 20).toFixed(1)} MB, final ${(final / 2 ** 20).toFixed(1)} MB after ~50 MB of writes`);
    // The high-water mark is one checkpoint interval (~4 MB) plus the largest single transaction (a purge).
    expect(largest).toBeLessThan(12 * 2 ** 20);
    expect(final).toBeLessThanOrEqual(4 * 2 ** 20 + 64 * 1024);
  });
});
