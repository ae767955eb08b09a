import { HEALTHY } from '../helpers/http.ts';
import { sql } from '../../src/db/port.ts';
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';

interface SlowRequest {
  req: ClientRequest;
  /** Resolves once the server has read the headers (it answered `100 Continue`): the request is in flight. */
  inFlight: Promise<void>;
  response: Promise<{ status: number; text: string }>;
  /** Sends the body the server is waiting for. */
  finish(): void;
}

/** A login whose body is held back until finish(), so the request stays in flight on the server. */
function slowLogin(url: string, agent: Agent | false = false): SlowRequest {
  const payload = JSON.stringify({ email: 'slow@example.com', password: 'Wrong-Password-1' });
  const req = request(`${url}/api/users/login/`, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), expect: '100-continue' },
  });
  const inFlight = new Promise<void>((resolve) => req.once('continue', resolve));
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
  });
  req.flushHeaders();
  return { req, inFlight, response, finish: () => req.end(payload) };
}

async function connectionError(url: string): Promise<string | undefined> {
  try {
    await fetch(`${url}/healthz`);
    return undefined;
  } catch (error) {
    return ((error as { cause?: { code?: string } }).cause?.code) ?? String(error);
  }
}

describe('stopping the server', () => {
  let live: LiveSidekick | undefined;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    await live?.close();
    live = server = undefined;
  });

  it('answers a request in flight, refuses new connections meanwhile, then closes the database', async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
    const slow = slowLogin(server.url);
    await slow.inFlight;

    let closed = false;
    const closing = server.close().then(() => void (closed = true));
    // Connections already queued when the stop began are still accepted and answered; then none.
    await expect.poll(() => connectionError(server!.url), { timeout: 2000, interval: 20 }).toBe('ECONNREFUSED');
    expect(closed).toBe(false);
    expect(await live.sidekick.services.health.check()).toBe(true);

    slow.finish();
    const answer = await slow.response;
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'no_active_account' });

    await closing;
    await expect(live!.sidekick.db.get(sql('SELECT 1'))).rejects.toThrow(/not open/);
  });

  it('does not wait out the drain timeout for a keep-alive client whose request was answered', async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info', SIDEKICK_DRAIN_TIMEOUT: '8s' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
    const agent = new Agent({ keepAlive: true });
    try {
      const slow = slowLogin(server.url, agent);
      await slow.inFlight;
      const started = performance.now();
      const closing = server.close();
      slow.finish();
      expect((await slow.response).status).toBe(401);
      await closing;
      expect(performance.now() - started).toBeLessThan(4000);
      expect(live.logs.text).not.toMatch(/drain timeout reached/);
    } finally {
      agent.destroy();
    }
  });

  it('closes an idle keep-alive connection at once instead of waiting for it', async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info', SIDEKICK_DRAIN_TIMEOUT: '8s' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
    // fetch keeps its connection open after this answer.
    const health = await fetch(`${server.url}/healthz`);
    expect(await health.json()).toEqual(HEALTHY);
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(4000);
    expect(live.logs.text).not.toMatch(/drain timeout reached/);
  });

  it('gives up on a request that outlives the drain timeout and still closes', async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info', SIDEKICK_DRAIN_TIMEOUT: '1s' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
    const stuck = slowLogin(server.url);
    await stuck.inFlight;
    const outcome = stuck.response.then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    const started = performance.now();
    await server.close();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000);
    expect(await outcome).toBe('ECONNRESET');
    expect(live.logs.text).toMatch(/drain timeout reached/);
    await expect(live!.sidekick.db.get(sql('SELECT 1'))).rejects.toThrow(/not open/);
  });

  it('can be closed twice without error', async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
    await Promise.all([server.close(), server.close()]);
    await server.close();
  });
});
