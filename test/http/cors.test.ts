import { afterEach, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const ADMIN = 'http://admin.example.com:5173';
const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'access-control-allow-credentials',
];
const corsHeadersOf = (response: Response) => CORS_HEADERS.filter((name) => response.headers.has(name));

describe('CORS for browser front ends (SIDEKICK_CORS_ORIGINS, contract §1)', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t.close();
  });
  const preflight = (path: string, origin: string, method = 'PUT') =>
    t.app.request(path, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers a preflight to an authenticated path with 204 before authentication, naming its methods', async () => {
    t = await createTestSidekick({ SIDEKICK_CORS_ORIGINS: `https://other.example.com, ${ADMIN}` });
    for (const path of ['/auth/users/me/', '/users/me', '/api/users/profile/']) {
      const response = await preflight(path, ADMIN);
      expect(response.status, path).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(ADMIN);
      expect(response.headers.get('access-control-allow-methods')!.split(',')).toEqual(expect.arrayContaining(['GET', 'PUT', 'PATCH']));
      expect(response.headers.get('access-control-allow-methods')).not.toContain('POST');
      const allowed = response.headers.get('access-control-allow-headers')!.toLowerCase().split(',');
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type']));
      expect(response.headers.get('vary')).toMatch(/Origin/);
    }
    const login = await preflight('/api/users/login/', ADMIN, 'POST');
    expect(login.headers.get('access-control-allow-methods')!.split(',')).toEqual(expect.arrayContaining(['POST']));
    const reset = await preflight('/api/users/reset/MQ/abc-def/', ADMIN, 'POST');
    expect(reset.headers.get('access-control-allow-methods')!.split(',')).toEqual(expect.arrayContaining(['GET', 'POST']));
  });

  it('makes every answer to an allowed origin readable, errors included, exposing Retry-After', async () => {
    t = await createTestSidekick({ SIDEKICK_CORS_ORIGINS: ADMIN });
    const { token } = await kitchenSignUp(t, 'cors@example.com');
    const answers = [
      await t.app.request('/users/me/', { headers: { origin: ADMIN, authorization: `Token ${token}` } }),
      await t.app.request('/users/me/', { headers: { origin: ADMIN } }),
      await t.app.request('/no/such/path/', { headers: { origin: ADMIN } }),
      await t.app.request('/api/users/login/', {
        method: 'POST',
        headers: { origin: ADMIN, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'cors@example.com', password: 'wrong-password-1' }),
      }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 401, 404, 401]);
    for (const response of answers) {
      expect(response.headers.get('access-control-allow-origin')).toBe(ADMIN);
      expect(response.headers.get('vary')).toMatch(/Origin/);
      expect(response.headers.get('access-control-expose-headers')!.split(',')).toContain('Retry-After');
    }
    // The answers are otherwise the same: the body and the contract's headers survive.
    expect(answers[1].headers.get('www-authenticate')).toBe('Token');
    expect(answers[1].headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await answers[1].json()).toEqual({ detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
  });

  it('gives an unlisted origin no CORS headers at all, preflight included', async () => {
    t = await createTestSidekick({ SIDEKICK_CORS_ORIGINS: ADMIN });
    const pre = await preflight('/users/me/', 'http://evil.example.com');
    expect(corsHeadersOf(pre)).toEqual([]);
    expect(pre.status).not.toBe(204);
    const get = await t.app.request('/users/me/', { headers: { origin: 'http://evil.example.com' } });
    expect(corsHeadersOf(get)).toEqual([]);
    // Exact match only: a scheme, port or suffix away is another origin.
    for (const near of ['https://admin.example.com:5173', 'http://admin.example.com', 'http://admin.example.com:5173.evil.com']) {
      expect(corsHeadersOf(await preflight('/users/me/', near)), near).toEqual([]);
    }
  });

  it('sends no CORS headers when SIDEKICK_CORS_ORIGINS is unset', async () => {
    t = await createTestSidekick();
    const pre = await preflight('/users/me/', ADMIN);
    expect(corsHeadersOf(pre)).toEqual([]);
    const get = await t.app.request('/users/me/', { headers: { origin: ADMIN } });
    expect(corsHeadersOf(get)).toEqual([]);
  });

  it('allows any origin with *', async () => {
    t = await createTestSidekick({ SIDEKICK_CORS_ORIGINS: '*' });
    const pre = await preflight('/auth/users/me/', 'http://anything.example');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const login = await t.app.request('/auth/token/', {
      method: 'POST',
      headers: { origin: 'http://anything.example', 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nobody@example.com', password: STRONG_PASSWORD }),
    });
    expect(login.status).toBe(400);
    expect(login.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('leaves a plain OPTIONS (no preflight) to the resource, which answers with Allow', async () => {
    t = await createTestSidekick({ SIDEKICK_CORS_ORIGINS: ADMIN });
    const response = await t.app.request('/api/users/login/', { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    expect(response.headers.get('allow')).toContain('POST');
    expect(corsHeadersOf(response)).toEqual([]);
  });
});
