import { sql } from '../../src/db/port.ts';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenLogin, kitchenSignUp, meStatus } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const DAY = 86_400;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe('kitchen opaque tokens (contract §4)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('are 40 lower-case hex characters and never repeat', async () => {
    const { token } = await kitchenSignUp(t, 'format@example.com');
    const tokens = [token];
    for (let i = 0; i < 20; i++) tokens.push(await kitchenLogin(t, 'format@example.com'));
    for (const value of tokens) expect(value).toMatch(/^[0-9a-f]{40}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('are stored only as a hash: neither the rows nor the database files hold one in plain form', async () => {
    const tokens = [(await kitchenSignUp(t, 'plain@example.com')).token];
    tokens.push(await kitchenLogin(t, 'plain@example.com'));
    tokens.push(await kitchenLogin(t, 'plain@example.com'));
    const rows = await t.sidekick.db.all(sql<Record<string, unknown>>("SELECT * FROM sessions WHERE kind = 'token'"));
    expect(rows).toHaveLength(3);
    const stored = JSON.stringify(rows);
    for (const token of tokens) {
      expect(stored).not.toContain(token);
      // What is stored is the token's digest, so a lost database copy yields no usable token.
      expect(rows.map((row) => row.id)).toContain(sha256(token));
    }
    // The database's own files (SQLite; a PostgreSQL cluster's files are not this process's to read).
    if (t.sidekick.db.engine !== 'sqlite') return;
    const files = [t.sidekick.db.location, `${t.sidekick.db.location}-wal`].filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const token of tokens) {
        expect(bytes.includes(Buffer.from(token, 'latin1')), `${file} holds a token`).toBe(false);
        expect(bytes.includes(Buffer.from(token, 'hex')), `${file} holds a token's raw bytes`).toBe(false);
      }
    }
  });

  it('never write a token or a password to the log', async () => {
    const { token } = await kitchenSignUp(t, 'quiet@example.com');
    const second = await kitchenLogin(t, 'quiet@example.com');
    await call(t.app, 'GET', '/users/me/', { token });
    await call(t.app, 'POST', '/logout/', { token: second });
    await call(t.app, 'POST', '/token/', { body: { email: 'quiet@example.com', password: 'Wrong-Horse-Battery-9' } });
    expect(t.logs.lines.length).toBeGreaterThan(0);
    for (const secret of [token, second, STRONG_PASSWORD, 'Wrong-Horse-Battery-9']) expect(t.logs.text).not.toContain(secret);
  });

  it('expire after the default 30 days', async () => {
    const { token } = await kitchenSignUp(t, 'expire@example.com');
    t.clock.advanceSeconds(30 * DAY - 1);
    expect(await meStatus(t, `Token ${token}`)).toBe(200);
    t.clock.advanceSeconds(1);
    const response = await call(t.app, 'GET', '/users/me/', { token });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('authentication_failed');
    // A fresh login still works: only the old token died.
    expect(await meStatus(t, `Token ${await kitchenLogin(t, 'expire@example.com')}`)).toBe(200);
  });

  it('revocation by logout, reset, deletion and deactivation takes effect on the next request', async () => {
    // Each case gets its own user, so one revocation cannot mask another.
    const cases: Record<string, (email: string) => Promise<void>> = {
      async logout(email) {
        const token = await kitchenLogin(t, email);
        expect((await call(t.app, 'POST', '/logout/', { token })).status).toBe(200);
      },
      async 'token:revoke'(email) {
        const token = await kitchenLogin(t, email);
        expect(await t.sidekick.services.credentials.revokeToken(token)).toBe(true);
      },
      async 'operator deactivation'(email) {
        await t.sidekick.services.accounts.updateAdmin(email, { isActive: false });
      },
      async deletion(email) {
        const token = await kitchenLogin(t, email);
        expect((await call(t.app, 'DELETE', '/api/users/delete/', { token })).status).toBe(200);
      },
    };
    for (const [name, revoke] of Object.entries(cases)) {
      const email = `${name.replace(/\W/g, '-')}@example.com`;
      const { token } = await kitchenSignUp(t, email);
      expect(await meStatus(t, `Token ${token}`), name).toBe(200);
      await revoke(email);
      if (name === 'logout' || name === 'token:revoke') {
        // One session ended; the sign-up token is a different session.
        expect(await meStatus(t, `Token ${token}`), name).toBe(200);
      } else {
        expect(await meStatus(t, `Token ${token}`), name).toBe(401);
      }
    }
  });

  it('die when the account is deactivated, even with the session rows still in place', async () => {
    const { token, user_id } = await kitchenSignUp(t, 'inactive@example.com');
    (await t.sidekick.db.run(sql('UPDATE users SET is_active = 0 WHERE id = ?'), [user_id]));
    const response = await call(t.app, 'GET', '/users/me/', { token });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('authentication_failed');
    expect(response.headers.get('www-authenticate')).toBe('Token');
    // And an inactive account cannot log in for a new one.
    const login = await call(t.app, 'POST', '/token/', { body: { email: 'inactive@example.com', password: STRONG_PASSWORD } });
    expect(login.status).toBe(400);
  });

  it('stay dead after an operator deactivates and then reactivates the account', async () => {
    const { token } = await kitchenSignUp(t, 'again@example.com');
    await t.sidekick.services.accounts.updateAdmin('again@example.com', { isActive: false });
    await t.sidekick.services.accounts.updateAdmin('again@example.com', { isActive: true });
    expect(await meStatus(t, `Token ${token}`)).toBe(401);
    expect(await meStatus(t, `Token ${await kitchenLogin(t, 'again@example.com')}`)).toBe(200);
  });

  it('all die when the password is reset through the mailed link', async () => {
    const { token } = await kitchenSignUp(t, 'reset@example.com');
    const other = await kitchenLogin(t, 'reset@example.com');
    expect((await call(t.app, 'POST', '/api/users/reset-password/', { body: { email: 'reset@example.com' } })).status).toBe(200);
    const mail = (await t.deliver()).find((m) => m.to === 'reset@example.com');
    const link = mail && /https?:\/\/\S+\/api\/users\/reset\/\S+\/\S+\//.exec(mail.text)?.[0];
    expect(link).toBeDefined();
    const path = new URL(link!).pathname;
    const reset = await call(t.app, 'POST', path, { body: { new_password: 'Fresh-Staple-Orbit-42' } });
    expect(reset.status).toBe(200);
    expect(await meStatus(t, `Token ${token}`)).toBe(401);
    expect(await meStatus(t, `Token ${other}`)).toBe(401);
    expect((await call(t.app, 'POST', '/token/', { body: { email: 'reset@example.com', password: STRONG_PASSWORD } })).status).toBe(400);
    expect(await kitchenLogin(t, 'reset@example.com', 'Fresh-Staple-Orbit-42')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('of a deleted account never work for a new account with the same email', async () => {
    const { token, user_id } = await kitchenSignUp(t, 'phoenix@example.com');
    expect((await call(t.app, 'DELETE', '/api/users/delete/', { token })).status).toBe(200);
    const reborn = await kitchenSignUp(t, 'phoenix@example.com');
    expect(reborn.user_id).not.toBe(user_id);
    expect(await meStatus(t, `Token ${token}`)).toBe(401);
    expect(await meStatus(t, `Token ${reborn.token}`)).toBe(200);
  });

  it('are refused when malformed', async () => {
    const { token } = await kitchenSignUp(t, 'malformed@example.com');
    for (const header of [`Token ${token.toUpperCase()}`, `Token ${token.slice(0, 39)}`, `Token ${token} extra`, 'Token', `Basic ${token}`]) {
      const response = await call(t.app, 'GET', '/users/me/', { headers: { authorization: header } });
      expect(response.status, header).toBe(401);
      expect(response.body.code, header).toBe('authentication_failed');
    }
    // The scheme is case-insensitive, as DRF's is.
    expect(await meStatus(t, `token ${token}`)).toBe(200);
  });
});

describe('kitchen token TTL from configuration', () => {
  it('expires tokens after SIDEKICK_TOKEN_TTL', async () => {
    const t = await createTestSidekick({ SIDEKICK_TOKEN_TTL: '1h' });
    try {
      const { token } = await kitchenSignUp(t, 'short@example.com');
      t.clock.advanceSeconds(3599);
      expect(await meStatus(t, `Token ${token}`)).toBe(200);
      t.clock.advanceSeconds(1);
      expect(await meStatus(t, `Token ${token}`)).toBe(401);
    } finally {
      await t.close();
    }
  });
});

describe('kitchen login cost', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('spends the same bcrypt work on an unknown email as on a wrong password', async () => {
    await kitchenSignUp(t, 'timed@example.com');
    const roundsSpentBy = async (email: string) => {
      const before = t.sidekick.hasher.verifiedRounds;
      const response = await call(t.app, 'POST', '/token/', { body: { email, password: 'Wrong-Horse-Battery-9' } });
      expect(response.status).toBe(400);
      return t.sidekick.hasher.verifiedRounds - before;
    };
    const wrongPassword = await roundsSpentBy('timed@example.com');
    expect(wrongPassword).toBe(2 ** t.config.bcryptCost);
    expect(await roundsSpentBy('nobody@example.com')).toBe(wrongPassword);
    expect(await roundsSpentBy('nobody-else@example.com')).toBe(wrongPassword);
  });
});
