import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loginJwt, registerUser, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { resetLinkFrom } from '../helpers/accounts-flows.ts';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

/** The headers of contract §1: pages and answers that carry a token. */
describe('page and token headers', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  async function resetPath(): Promise<string> {
    await registerUser(t, 'hero@example.com');
    await t.deliver();
    await call(t.app, 'POST', '/api/users/reset-password/', { body: { email: 'hero@example.com' } });
    return new URL(resetLinkFrom(await t.deliver(), 'hero@example.com')).pathname;
  }

  function expectPageHeaders(response: Response): void {
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
  }

  it('sends every reset page with a strict CSP, nosniff, no referrer and no-store', async () => {
    const path = await resetPath();
    expectPageHeaders(await t.app.request(path));
    expectPageHeaders(await t.app.request('/api/users/reset/MQ/not-a-token/'));
    const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
    const refused = await t.app.request(path, { method: 'POST', headers: form, body: 'new_password=123' });
    expect(refused.status).toBe(400);
    expectPageHeaders(refused);
    const done = await t.app.request(path, { method: 'POST', headers: form, body: 'new_password=Brand-New-Secret-77' });
    expect(done.status).toBe(200);
    expectPageHeaders(done);
  });

  it('keeps every answer that carries a token out of caches', async () => {
    const signUp = await call(t.app, 'POST', '/users/', { body: { email: 'cook@example.com', password: STRONG_PASSWORD } });
    const kitchenLogin = await call(t.app, 'POST', '/auth/token/', { body: { email: 'cook@example.com', password: STRONG_PASSWORD } });
    const login = await call(t.app, 'POST', '/api/token/', { body: { email: 'cook@example.com', password: STRONG_PASSWORD } });
    const refresh = await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: login.body.refresh } });
    for (const [name, response] of Object.entries({ signUp, kitchenLogin, login, refresh })) {
      expect(response.status, name).toBeLessThan(300);
      expect(response.headers.get('cache-control'), name).toBe('no-store');
    }
    const { access } = await loginJwt(t, 'cook@example.com');
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: access })).headers.get('cache-control')).toBeNull();
  });
});
