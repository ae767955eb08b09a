import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser, STRONG_PASSWORD } from '../helpers/accounts.ts';

const LOGIN = '/api/users/login/';
const NO_ACCOUNT = {
  detail: 'No active account found with the given credentials',
  code: 'no_active_account',
  message: 'No active account found with the given credentials',
};

describe('JWT login (contract §2, §5)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
    await registerUser(t, 'hero@example.com');
  });
  afterEach(async () => {
    await t.close();
  });

  const login = (email: string, password: string) => call(t.app, 'POST', LOGIN, { body: { email, password } });

  it('answers a wrong password and an unknown email with the same 401 body and header', async () => {
    const wrong = await login('hero@example.com', 'Not-The-Password-1');
    const unknown = await login('nobody@example.com', STRONG_PASSWORD);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(NO_ACCOUNT);
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.text).toBe(wrong.text);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
  });

  it('refuses an inactive user with the same 401 as a wrong password', async () => {
    await t.sidekick.services.accounts.updateAdmin('hero@example.com', { isActive: false });
    const response = await login('hero@example.com', STRONG_PASSWORD);
    expect(response.status).toBe(401);
    expect(response.body).toEqual(NO_ACCOUNT);
  });

  it('requires both fields', async () => {
    const response = await call(t.app, 'POST', LOGIN, { body: {} });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      email: ['This field is required.'],
      password: ['This field is required.'],
      message: 'This field is required.',
    });
  });

  it('does not trim or alter the password', async () => {
    expect((await login('hero@example.com', ` ${STRONG_PASSWORD}`)).status).toBe(401);
    expect((await login('hero@example.com', `${STRONG_PASSWORD} `)).status).toBe(401);
  });

  it('throttles the eleventh try after ten failed logins of one account in 15 minutes, even with the right password', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await login('hero@example.com', `Wrong-Password-${i}`)).status, `try ${i + 1}`).toBe(401);
      t.clock.advanceSeconds(10);
    }
    const blocked = await login('hero@example.com', STRONG_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('throttled');
    // The first failure was 100 s ago: the 15-minute window frees a slot 800 s from now.
    expect(blocked.headers.get('retry-after')).toBe('800');
    expect(blocked.body.detail).toBe('Request was throttled. Expected available in 800 seconds.');
  });

  it('throttles an unknown email exactly like a known one', async () => {
    for (let i = 0; i < 10; i++) expect((await login('nobody@example.com', `Wrong-Password-${i}`)).status).toBe(401);
    const blocked = await login('nobody@example.com', STRONG_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe(String(15 * 60));
  });

  it('counts failures per account: another account still logs in', async () => {
    await registerUser(t, 'other@example.com');
    for (let i = 0; i < 10; i++) await login('hero@example.com', `Wrong-Password-${i}`);
    expect((await login('hero@example.com', STRONG_PASSWORD)).status).toBe(429);
    expect((await login('other@example.com', STRONG_PASSWORD)).status).toBe(200);
  });

  it('lets the account log in again once the 15-minute window has passed', async () => {
    for (let i = 0; i < 10; i++) await login('hero@example.com', `Wrong-Password-${i}`);
    t.clock.advanceSeconds(15 * 60 - 1);
    expect((await login('hero@example.com', STRONG_PASSWORD)).status).toBe(429);
    t.clock.advanceSeconds(1);
    const response = await login('hero@example.com', STRONG_PASSWORD);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ access: expect.any(String), refresh: expect.any(String), email: 'hero@example.com' });
  });

  it('lets no more than ten of twenty parallel wrong passwords be tried', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login('hero@example.com', `Wrong-Password-${i}`)));
    const tried = answers.filter((a) => a.status === 401).length;
    expect(tried).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(20 - tried);
    expect((await login('hero@example.com', STRONG_PASSWORD)).status).toBe(429);
  });

  it('throttles one client address after 100 failed logins in 15 minutes, whatever the email', async () => {
    for (let i = 0; i < 100; i++) {
      const response = await login(`user${i % 20}@example.com`, `Wrong-Password-${i}`);
      expect(response.status, `try ${i + 1}`).toBe(401);
    }
    const blocked = await login('fresh@example.com', 'Wrong-Password-x');
    expect(blocked.status).toBe(429);
  }, 30_000);

  it('issues HS256 tokens carrying the contract claims', async () => {
    const { access, refresh } = await loginJwt(t, 'hero@example.com');
    for (const [token, type, ttl] of [
      [access, 'access', 300],
      [refresh, 'refresh', 86_400],
    ] as const) {
      const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      expect(header.alg).toBe('HS256');
      expect(payload).toMatchObject({ token_type: type, user_id: expect.any(Number), jti: expect.any(String), iss: t.config.publicUrl });
      expect(payload.exp - payload.iat).toBe(ttl);
      expect(payload.iat).toBe(Math.floor(t.clock.now() / 1000));
    }
  });

  it('spends the same bcrypt work on an unknown email as on a wrong password', async () => {
    // Counted in bcrypt rounds rather than timed: skipping the check, or checking against a cheaper
    // hash, shows as a different count.
    const roundsSpentBy = async (email: string) => {
      const before = t.sidekick.hasher.verifiedRounds;
      const response = await call(t.app, 'POST', LOGIN, { body: { email, password: 'Wrong-Password-1' } });
      expect(response.status).toBe(401);
      return t.sidekick.hasher.verifiedRounds - before;
    };
    const wrongPassword = await roundsSpentBy('hero@example.com');
    expect(wrongPassword).toBe(2 ** t.config.bcryptCost);
    expect(await roundsSpentBy('nobody@example.com')).toBe(wrongPassword);
    expect(await roundsSpentBy('nobody-else@example.com')).toBe(wrongPassword);
  });
});
