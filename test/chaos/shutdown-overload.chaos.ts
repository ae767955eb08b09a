import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { request, serverEnv, startServerProcess, tempDataDir, type HttpResult } from './helpers/server-process.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function dataDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Settles every promise, turning network failures into their error code. */
const settle = (calls: Promise<HttpResult>[]) =>
  Promise.all(calls.map((call) => call.then((r) => r, (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message)));

/** A new TCP connection's fate: 'connected', or the error code (ECONNREFUSED once nothing listens). */
const connectOutcome = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });

/** How many of these client ports have an established connection to `port`, as the kernel counts them. */
const establishedTo = (port: number, clientPorts: number[]) => {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const wanted = new Set(clientPorts.map(hex));
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const [, local, remote, state] = line.trim().split(/\s+/);
      return local?.endsWith(`:${hex(port)}`) && wanted.has(remote.split(':')[1]) && state === '01';
    }).length;
};

/**
 * One JSON POST on its own connection, from a forwarded client address. `written` settles once the whole request is handed to the
 * kernel, with the client's port; `status` is the answer's status, or the network error's code.
 */
function sendJson(port: number, pathname: string, body: unknown, client: string): { written: Promise<number>; status: Promise<number | string> } {
  const payload = JSON.stringify(body);
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    path: pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-forwarded-for': client },
  });
  const status = new Promise<number | string>((resolve) => {
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  const written = new Promise<number>((resolve) => {
    req.once('finish', () => resolve(req.socket!.localPort!));
    req.once('error', () => resolve(0));
  });
  req.end(payload);
  return { written, status };
}

describe('graceful shutdown under load', () => {
  it('answers every in-flight request, refuses new connections, closes the database and exits 0', async () => {
    const dir = dataDir();
    // bcrypt at cost 10 makes each login take tens of milliseconds: a real queue of work is in flight.
    const env = serverEnv(dir, { SIDEKICK_BCRYPT_COST: '10', SIDEKICK_DRAIN_TIMEOUT: '8s' });
    const server = await startServerProcess(env);
    const port = Number(new URL(server.url).port);
    // Several accounts: more than ten logins in flight on one account would be throttled (429) by design.
    const emails = Array.from({ length: 6 }, (_, i) => `drain${i}@example.com`);
    for (const email of emails) {
      expect((await request(server.url, 'POST', '/users/', { body: { email, password: STRONG_PASSWORD } })).status).toBe(201);
    }

    // The whole burst waits in the kernel's accept queue when the signal comes: the server is paused
    // while it arrives, and SIGTERM is pending when it resumes.
    server.child.kill('SIGSTOP');
    const sent = Array.from({ length: 24 }, (_, i) => {
      const body = { email: emails[i % emails.length], password: STRONG_PASSWORD };
      return sendJson(port, i % 2 === 0 ? '/api/users/login/' : '/token/', body, `10.9.0.${i + 1}`);
    });
    const clientPorts = await Promise.all(sent.map((request) => request.written));
    await expect.poll(() => establishedTo(port, clientPorts), { timeout: 5000, interval: 10 }).toBe(sent.length);
    const inFlight = Promise.all(sent.map((request) => request.status));
    const termAt = performance.now();
    server.child.kill('SIGTERM');
    server.child.kill('SIGCONT');
    await expect.poll(() => server.stderr(), { timeout: 5000, interval: 10 }).toMatch(/"msg":"stopping"/);
    // Soon after the stop began, a brand-new TCP connection is refused: the listening socket is closed.
    await expect.poll(() => connectOutcome(port), { timeout: 2000, interval: 20 }).toBe('ECONNREFUSED');

    const statuses = await inFlight;
    const exitCode = await server.exited;
    const drainMs = performance.now() - termAt;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(drainMs).toBeLessThan(8000);
    // A clean close checkpoints the WAL and removes it; a crash would leave it behind.
    expect(existsSync(path.join(dir, 'sidekick.db-wal'))).toBe(false);
    const db = new Database(path.join(dir, 'sidekick.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    expect(server.stderr()).toMatch(/"msg":"stopped"/);
    console.log(`graceful shutdown: ${statuses.length} in-flight requests all answered 200, exit 0 after ${Math.round(drainMs)} ms`);
  });

  it('answers a request sent on a connection opened just before SIGTERM instead of resetting it', async () => {
    const server = await startServerProcess(serverEnv(dataDir()));
    const port = Number(new URL(server.url).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const ended = new Promise<string>((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.once('close', () => resolve('closed'));
    });
    server.child.kill('SIGTERM');
    // The request leaves the client after the stop began, as a request queued behind a busy event loop would.
    await new Promise((resolve) => setTimeout(resolve, 150));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await ended).toBe('closed');
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(await server.exited).toBe(0);
  });

  it('stops within the drain timeout even when a client never finishes its request', async () => {
    const dir = dataDir();
    const server = await startServerProcess(serverEnv(dir, { SIDEKICK_DRAIN_TIMEOUT: '1s' }));
    const port = Number(new URL(server.url).port);
    // Headers sent, body promised but never sent: without a bound, this would hold the process open.
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    socket.write('POST /api/users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const termAt = performance.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const drainMs = performance.now() - termAt;
    socket.destroy();
    expect(drainMs).toBeGreaterThanOrEqual(900);
    expect(drainMs).toBeLessThan(4000);
    expect(server.stderr()).toMatch(/drain timeout reached/);
    console.log(`graceful shutdown with a stuck client: exit 0 after ${Math.round(drainMs)} ms (drain timeout 1 s)`);
  });
});

describe('overload', () => {
  it('answers a login burst far beyond bcrypt with bounded latency, 503 + Retry-After for the excess, and keeps serving reads', async () => {
    const dir = dataDir();
    const env = serverEnv(dir, { SIDEKICK_BCRYPT_COST: '10', SIDEKICK_HASH_QUEUE: '6' });
    const server = await startServerProcess(env);
    try {
      const signup = await request(server.url, 'POST', '/users/', { body: { email: 'busy@example.com', password: STRONG_PASSWORD } });
      expect(signup.status).toBe(201);
      const { access } = (await request(server.url, 'POST', '/api/users/login/', { body: { email: 'busy@example.com', password: STRONG_PASSWORD } })).body;
      const rssBefore = rssKb(server.child.pid!);

      // Waves of logins, while one client keeps reading its profile, one read at a time.
      const burst: Promise<HttpResult>[] = [];
      const burstPaths: string[] = [];
      let overloaded = true;
      const readLatencies: number[] = [];
      const reader = (async () => {
        while (overloaded) {
          const read = await request(server.url, 'GET', '/api/users/profile/', { bearer: access });
          expect(read.status).toBe(200);
          readLatencies.push(read.ms);
        }
      })();
      // About 100 logins a second for three seconds: ten times what bcrypt at cost 10 can serve here.
      for (let wave = 0; wave < 15; wave++) {
        for (let i = 0; i < 20; i++) {
          // Mostly logins, some sign-ups: both hash a password.
          const signUp = i % 5 === 0;
          burstPaths.push(signUp ? '/users/' : '/api/users/login/');
          burst.push(
            signUp
              ? request(server.url, 'POST', '/users/', { body: { email: `burst${wave}-${i}@example.com`, password: STRONG_PASSWORD } })
              : request(server.url, 'POST', '/api/users/login/', { body: { email: 'busy@example.com', password: STRONG_PASSWORD } }),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const answers = await settle(burst);
      overloaded = false;
      await reader;

      const failures = answers.filter((a) => typeof a === 'string');
      expect(failures).toEqual([]);
      const results = answers as HttpResult[];
      expect(results.filter((r) => ![200, 201, 503].includes(r.status)).map((r) => r.status)).toEqual([]);
      const refused = results.filter((r) => r.status === 503);
      const served = results.filter((r) => r.status === 200 || r.status === 201);
      expect(refused.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThan(0);
      for (const r of refused) {
        // Accounts-API errors also carry the detail as `message` (contract §1).
        const accountsApi = burstPaths[results.indexOf(r)].startsWith('/api/');
        expect(r.body).toEqual({ detail: expect.any(String), code: 'overloaded', ...(accountsApi ? { message: r.body.detail } : {}) });
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      // Latency is bounded by the queue, not by the size of the burst.
      const slowestServed = Math.max(...served.map((r) => r.ms));
      const slowestRefused = Math.max(...refused.map((r) => r.ms));
      expect(slowestServed).toBeLessThan(5000);
      expect(readLatencies.length).toBeGreaterThan(3);
      const slowestRead = Math.max(...readLatencies);
      expect(slowestRead).toBeLessThan(3000);

      // Unknown emails go through the timing equaliser: a refused first hash must not poison it.
      const unknown = await settle(
        Array.from({ length: 40 }, (_, i) =>
          request(server.url, 'POST', '/api/users/login/', { body: { email: `nobody${i}@example.com`, password: STRONG_PASSWORD } }),
        ),
      );
      expect((unknown as HttpResult[]).filter((r) => r.status !== 401 && r.status !== 503)).toEqual([]);
      const later = await request(server.url, 'POST', '/api/users/login/', { body: { email: 'nobody@example.com', password: STRONG_PASSWORD } });
      expect(later.status).toBe(401);
      const afterwards = await request(server.url, 'POST', '/api/users/login/', { body: { email: 'busy@example.com', password: STRONG_PASSWORD } });
      expect(afterwards.status).toBe(200);

      const rssAfter = rssKb(server.child.pid!);
      expect(rssAfter - rssBefore).toBeLessThan(100 * 1024);
      expect(server.child.exitCode).toBeNull();
      expect(server.stderr()).not.toMatch(/unhandled|uncaught/i);
      console.log(
        `overload: ${results.length} logins and sign-ups, ${refused.length} got 503 (${Math.round((100 * refused.length) / results.length)}%), ` +
          `slowest 2xx ${Math.round(slowestServed)} ms, slowest 503 ${Math.round(slowestRefused)} ms, ${readLatencies.length} reads meanwhile, slowest ${Math.round(slowestRead)} ms, median ${Math.round(readLatencies.sort((x, y) => x - y)[readLatencies.length >> 1])} ms, ` +
          `RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MB`,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
