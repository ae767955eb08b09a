import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';

/** A client that hangs up halfway through its body is the network's doing, not a server error. */
describe('a client that drops the connection mid-body', () => {
  let live: LiveSidekick;
  let server: RunningServer;
  beforeEach(async () => {
    live = await createLiveSidekick({ SIDEKICK_LOG_LEVEL: 'info' });
    server = await startServer(live.sidekick, { host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await server.close();
    await live.close();
  });

  // Within 64 KiB the body is read before the app sees the request (body.ts's readBodyFirst); past it, it
  // streams to the app. Both must end the same way.
  it.each([1000, 100_000])('is logged as one request line, with no unhandled error or stack, and the server keeps serving (declared length %i)', async (declared) => {
    const { port } = new URL(server.url);
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(`POST /api/users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"email": "ada@ex`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
        socket.once('error', reject);
      });
    }
    // The request lines are written when the handler settles, right after the hang-up.
    const deadline = Date.now() + 5000;
    const requestLines = () => live.logEntries().filter((entry) => entry.msg === 'request' && entry.route === '/api/users/login');
    while (requestLines().length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(requestLines().map((entry) => entry.status)).toEqual([400, 400, 400]);
    expect(live.logs.text).not.toMatch(/unhandled error/);
    expect(live.logs.text).not.toMatch(/\s+at /);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers a body that arrives in pieces after its headers, and times the request from its arrival', async () => {
    const { port } = new URL(server.url);
    const body = JSON.stringify({ refresh: 'not-a-token' });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        setTimeout(() => socket.write(body.slice(0, 10)), 150);
        setTimeout(() => socket.write(body.slice(10)), 300);
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.once('end', () => resolve(text));
      socket.once('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"code":"token_not_valid"');
    const [line] = live.logEntries().filter((entry) => entry.msg === 'request' && entry.route === '/api/token/refresh');
    expect(line.status).toBe(401);
    expect(line.ms).toBeGreaterThanOrEqual(250);
  });
});
