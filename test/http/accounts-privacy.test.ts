import { sql } from '../../src/db/port.ts';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, type JsonResponse } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { codeFrom, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { loginToken, NEW_PASSWORD, requestResetPath } from '../helpers/accounts-flows.ts';

/** What a client can see of an answer, minus the per-request id. */
function visible(response: JsonResponse) {
  const headers = [...response.headers.entries()].filter(([name]) => name !== 'x-request-id');
  return { status: response.status, headers, text: response.text };
}

describe('no enumeration, no secrets in logs or the database', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('answers register, reset and login identically for a known and an unknown email', async () => {
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('known@example.com') });
    const otp = codeFrom(await t.deliver(), 'known@example.com');
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('known@example.com', { otp }) });
    t.clock.advanceSeconds(61);

    for (const [method, path, body] of [
      ['POST', '/api/users/register/', (email: string) => registrationBody(email)],
      ['POST', '/api/users/reset-password/', (email: string) => ({ email })],
      ['POST', '/api/users/login/', (email: string) => ({ email, password: 'Wrong-Password-1' })],
      ['POST', '/api/token/', (email: string) => ({ email, password: 'Wrong-Password-1' })],
    ] as const) {
      const known = await call(t.app, method, path, { body: body('known@example.com') });
      const unknown = await call(t.app, method, path, { body: body('unknown@example.com') });
      expect(visible(unknown), path).toEqual(visible(known));
      expect(known.status, path).toBeLessThan(500);
    }
  });

  it('never logs a password, code, token or reset link, nor stores them in plain form', async () => {
    const email = 'secretive@example.com';
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(email) });
    const otp = codeFrom(await t.deliver(), email);
    const created = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(email, { otp }) });
    expect(created.status).toBe(201);
    const login = await call(t.app, 'POST', '/api/users/login/', { body: { email, password: STRONG_PASSWORD } });
    const { access, refresh } = login.body;
    const opaque = await loginToken(t, email);
    await call(t.app, 'GET', '/api/users/profile/', { bearer: access });
    await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } });
    await call(t.app, 'POST', '/api/users/login/', { body: { email, password: 'Wrong-Guess-Password-5' } });
    const resetPath = await requestResetPath(t, email);
    const resetToken = resetPath.split('/').filter(Boolean).at(-1)!;
    await call(t.app, 'GET', resetPath);
    const reset = await call(t.app, 'POST', resetPath, { body: { new_password: NEW_PASSWORD } });
    expect(reset.status).toBe(200);
    await t.deliver();

    const secrets = { password: STRONG_PASSWORD, wrong: 'Wrong-Guess-Password-5', newPassword: NEW_PASSWORD, otp, access, refresh, opaque, resetToken };
    expect(t.logs.lines.length).toBeGreaterThan(5);
    for (const [name, value] of Object.entries(secrets)) {
      expect(t.logs.text.includes(value), `${name} in the logs`).toBe(false);
    }
    expect(t.logs.text).not.toContain(t.config.secret);

    // SQLite: the file's bytes, free pages included. PostgreSQL: every row of every table, as text.
    let dbBytes: string;
    if (t.sidekick.db.engine === 'sqlite') {
      await t.sidekick.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      dbBytes = readFileSync(t.config.dbPath).toString('latin1');
    } else {
      const tables = await t.sidekick.db.all(sql<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"));
      const rows = await Promise.all(tables.map(({ name }) => t.sidekick.db.all(sql(`SELECT * FROM ${name}`))));
      dbBytes = JSON.stringify(rows, (_key, value) => (value?.type === 'Buffer' ? Buffer.from(value.data).toString('latin1') : value));
    }
    for (const [name, value] of Object.entries({ ...secrets, otpMail: `registration code is ${otp}`, otpSubject: `code: ${otp}` })) {
      if (name === 'otp') continue; // six digits can occur by chance in binary pages; the mail text cannot
      expect(dbBytes.includes(value), `${name} in the database`).toBe(false);
    }
  });
});
