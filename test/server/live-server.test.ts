import { HEALTHY } from '../helpers/http.ts';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { codeIn, resetLinkIn, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';

const NEW_PASSWORD = 'Brand-New-Secret-77';

describe('a real listening server', () => {
  let smtp: TestSmtpServer;
  let live: LiveSidekick;
  let server: RunningServer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await smtp.stop();
  });
  beforeEach(async () => {
    smtp.received.length = 0;
    live = await createLiveSidekick({
      SIDEKICK_SMTP_URL: smtp.url,
      SIDEKICK_PUBLIC_URL: 'https://sidekick.example',
      SIDEKICK_LOG_LEVEL: 'info',
    });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await server.close();
    await live.close();
  });

  async function api(method: string, path: string, options: { body?: unknown; bearer?: string } = {}) {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('json');
    return { status: response.status, headers: response.headers, text, body: json ? JSON.parse(text) : text };
  }

  /** Waits for the background deliverer to hand the next mail to `to` over to the SMTP server. */
  async function nextMailTo(to: string) {
    const [mail] = (await smtp.waitFor(smtp.received.length + 1)).slice(-1);
    expect(mail.rcptTo).toEqual([to]);
    return mail;
  }

  it('listens on an OS-assigned port on 127.0.0.1 and answers /healthz', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
    const health = await api('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(health.body).toEqual(HEALTHY);
  });

  it('runs register, mailed OTP, login, profile, refresh, reset, and delete end to end', async () => {
    const email = 'hero@example.com';
    expect((await api('POST', '/api/users/register/', { body: registrationBody(email) })).body).toEqual({
      message: 'OTP sent to your email',
    });
    const otp = codeIn(await nextMailTo(email));
    const created = await api('POST', '/api/users/register/', { body: registrationBody(email, { otp }) });
    expect(created.status).toBe(201);
    const { superhero_name } = created.body;

    const login = await api('POST', '/api/users/login/', { body: { email, password: STRONG_PASSWORD } });
    expect(login.status).toBe(200);
    const { access, refresh } = login.body;

    const profile = await api('GET', '/api/users/profile/', { bearer: access });
    expect(profile.body).toEqual({ email, gender: 'Male', preferences: 'Chatting, Gaming', dob: '2000-05-15', superhero_name });
    const patched = await api('PATCH', '/api/users/profile/', { bearer: access, body: { preferences: 'Flying' } });
    expect(patched.body.preferences).toBe('Flying');

    const refreshed = await api('POST', '/api/token/refresh/', { body: { refresh } });
    expect(refreshed.status).toBe(200);
    expect((await api('GET', '/api/users/profile/', { bearer: refreshed.body.access })).status).toBe(200);

    expect((await api('POST', '/api/users/reset-password/', { body: { email } })).status).toBe(200);
    const link = resetLinkIn(await nextMailTo(email));
    expect(link.startsWith('https://sidekick.example/api/users/reset/')).toBe(true);
    const path = new URL(link).pathname;
    const page = await api('GET', path);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const reset = await api('POST', path, { body: { new_password: NEW_PASSWORD } });
    expect(reset.body).toEqual({ message: 'Password reset successful' });
    const notice = await nextMailTo(email);
    expect(notice.parsed.subject).toMatch(/password was changed/i);

    // The reset ended every session; the new password works, the old one does not.
    expect((await api('GET', '/api/users/profile/', { bearer: refreshed.body.access })).status).toBe(401);
    expect((await api('POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
    expect((await api('POST', '/api/users/login/', { body: { email, password: STRONG_PASSWORD } })).status).toBe(401);
    const again = await api('POST', '/api/users/login/', { body: { email, password: NEW_PASSWORD } });
    expect(again.status).toBe(200);

    const deleted = await api('DELETE', '/api/users/delete/', { bearer: again.body.access });
    expect(deleted.body).toEqual({ message: 'user deleted successfully' });
    expect((await api('GET', '/api/users/profile/', { bearer: again.body.access })).status).toBe(401);
    expect((await api('POST', '/api/users/login/', { body: { email, password: NEW_PASSWORD } })).status).toBe(401);
  });

  it('answers every path with and without its trailing slash', async () => {
    for (const path of ['/healthz', '/healthz/']) {
      expect((await api('GET', path)).body).toEqual(HEALTHY);
    }
    for (const path of ['/api/users/login', '/api/users/login/', '/auth/token', '/auth/token/']) {
      const response = await api('POST', path, { body: { email: 'nobody@example.com', password: 'Whatever-123' } });
      expect([400, 401]).toContain(response.status);
      expect(response.body).not.toEqual({ detail: 'Not found.', code: 'not_found' });
    }
    for (const path of ['/api/users/profile', '/api/users/profile/', '/auth/users/me', '/auth/users/me/']) {
      expect((await api('GET', path)).body.code).toBe('not_authenticated');
    }
  });

  it('refuses a streamed body over 64 KiB without Content-Length with 413, and keeps serving', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${server.url}/api/users/login/`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.write('{"email":"big@example.com","password":"');
      const chunk = 'x'.repeat(8 * 1024);
      let sent = 0;
      // Stops streaming once the server has answered, as a real client would.
      const pump = () => {
        while (sent < 200 && !req.destroyed && !req.writableEnded) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.writableEnded && !req.destroyed) req.end('"}');
      };
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'payload_too_large' });
    expect((await api('GET', '/healthz')).body).toEqual(HEALTHY);
  });

  it('throttles failed logins by the connecting client address', async () => {
    // Each email fails once, so only the per-client limit (100 per 15 minutes) can trip.
    for (let i = 0; i < 100; i++) {
      const response = await rawRequest(`${server.url}/api/users/login/`, {
        method: 'POST',
        body: { email: `nobody${i}@example.com`, password: 'Wrong-Password-1' },
        localAddress: '127.0.0.1',
      });
      expect(response.status).toBe(401);
    }
    const blocked = await rawRequest(`${server.url}/api/users/login/`, {
      method: 'POST',
      body: { email: 'fresh@example.com', password: 'Wrong-Password-1' },
      localAddress: '127.0.0.1',
    });
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('throttled');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);

    // Another client address is not held back by the first one's failures…
    const other = await rawRequest(`${server.url}/api/users/login/`, {
      method: 'POST',
      body: { email: 'fresh@example.com', password: 'Wrong-Password-1' },
      localAddress: '127.0.0.2',
    });
    expect(other.status).toBe(401);
    // …and a spoofed forwarding header does not get the first one out.
    const spoofed = await rawRequest(`${server.url}/api/users/login/`, {
      method: 'POST',
      body: { email: 'fresh@example.com', password: 'Wrong-Password-1' },
      headers: { 'x-forwarded-for': '10.9.8.7', 'x-real-ip': '10.9.8.7' },
      localAddress: '127.0.0.1',
    });
    expect(spoofed.status).toBe(429);
  });
});
