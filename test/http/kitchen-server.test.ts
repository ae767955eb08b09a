import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

/** The kitchen API over a real socket, as a client would use it. */
describe('kitchen API over a listening server', () => {
  let t: TestSidekick;
  let server: RunningServer;
  beforeEach(async () => {
    t = await createTestSidekick();
    server = await startServer(t.sidekick, { host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await server.close();
    await t.close();
  });

  const send = async (method: string, path: string, init: { json?: unknown; form?: Record<string, string>; auth?: string } = {}) => {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    if (init.auth) headers.authorization = init.auth;
    const response = await fetch(`${server.url}${path}`, { method, headers, body });
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  };

  it('signs up with a form, logs in, edits the profile and logs out', async () => {
    const created = await send('POST', '/auth/users/', { form: { email: 'socket@example.com', password: STRONG_PASSWORD } });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);

    const login = await send('POST', '/token/', { json: { email: 'socket@example.com', password: STRONG_PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ user_id: created.body.user_id, email: 'socket@example.com' });
    const auth = `Token ${login.body.token}`;

    const updated = await send('PUT', '/users/me/', { json: { name: 'Socket Hero', date_of_birth: '1995-05-05' }, auth });
    expect(updated.status).toBe(201);
    expect(updated.body).toMatchObject({ name: 'Socket Hero', date_of_birth: '1995-05-05', profile_picture: null });

    expect((await send('POST', '/logout/', { auth })).body).toEqual({ detail: 'Logged out successfully.' });
    const after = await send('GET', '/users/me', { auth });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toBe('Token');
    expect((await send('GET', '/auth/users/me/', { auth: `Token ${created.body.token}` })).status).toBe(200);
  });

  it('counts failed logins per client address and answers 429 with Retry-After past the limit', async () => {
    // 100 failures per 15 minutes per client: spread over unknown emails so no account limit is hit first.
    for (let i = 0; i < 100; i++) {
      const response = await send('POST', '/token/', { json: { email: `ghost${i % 50}-${i}@example.com`, password: 'Wrong-Horse-Battery-9' } });
      expect(response.status).toBe(400);
    }
    const throttled = await send('POST', '/token/', { json: { email: 'ghost-last@example.com', password: 'Wrong-Horse-Battery-9' } });
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe('throttled');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
