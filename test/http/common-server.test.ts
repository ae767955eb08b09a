import { HEALTHY } from '../helpers/http.ts';
import { sql } from '../../src/db/port.ts';
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

/** One raw HTTP request; `chunks` are written one by one, so without a length the body goes chunked. */
function send(url: string, path: string, options: { method?: string; headers?: Record<string, string>; chunks?: string[] } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const req = request(new URL(path, url), { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    // The server may answer 413 and close before the whole body is written.
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(error)));
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

describe('over a real listening socket', () => {
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

  it('answers /healthz on 127.0.0.1 with an OS-assigned port', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await send(server.url, '/healthz');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual(HEALTHY);
  });

  it('echoes the request id and names the charset on every kind of answer', async () => {
    const cases: [string, string, number, string][] = [
      ['GET', '/healthz', 200, 'application/json; charset=utf-8'],
      ['GET', '/nowhere/', 404, 'application/json; charset=utf-8'],
      ['DELETE', '/api/users/login/', 405, 'application/json; charset=utf-8'],
      ['GET', '/users/me/', 401, 'application/json; charset=utf-8'],
      ['GET', '/api/users/reset/MQ/not-a-token/', 400, 'text/html; charset=UTF-8'],
    ];
    for (const [method, path, status, type] of cases) {
      const response = await send(server.url, path, { method, headers: { 'x-request-id': `probe-${status}` } });
      expect([response.status, response.headers['content-type'], response.headers['x-request-id']], path).toEqual([status, type, `probe-${status}`]);
    }
    const options = await send(server.url, '/api/users/login/', { method: 'OPTIONS' });
    expect(options.status).toBe(200);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expect(options.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const notAllowed = await send(server.url, '/api/users/login/', { method: 'GET' });
    expect(notAllowed.headers.allow).toBe('POST, OPTIONS');
  });

  it('refuses a chunked body over 64 KiB with 413 payload_too_large', async () => {
    const response = await send(server.url, '/api/users/login/', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: Array.from({ length: 5 }, () => 'x'.repeat(16 * 1024)),
    });
    expect(response.status).toBe(413);
    const body = JSON.parse(response.text);
    expect(body).toEqual({ detail: expect.any(String), code: 'payload_too_large', message: body.detail });
    expect(response.headers.connection).toBe('close');
  });

  it('refuses a body over 64 KiB announced by Content-Length with 413', async () => {
    const body = 'x'.repeat(65 * 1024);
    const response = await send(server.url, '/api/users/login/', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      chunks: [body],
    });
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
  });

  it('counts failed logins per client address from the socket', async () => {
    const login = (email: string) =>
      send(server.url, '/api/users/login/', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        chunks: [JSON.stringify({ email, password: 'Wrong-Password-1' })],
      });
    expect((await login('a@example.com')).status).toBe(401);
    const rows = await t.sidekick.db.all(sql<{ bucket: string }>('SELECT bucket FROM throttle_events ORDER BY bucket'));
    expect(rows.map((r) => r.bucket)).toEqual([
      'login:account:a@example.com all',
      'login:account:a@example.com from 127.0.0.1',
      'login:client:127.0.0.1',
    ]);
  });
});
