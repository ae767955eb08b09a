import { rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { freshPostgresDatabase, postgresMissing } from '../helpers/postgres.ts';
import { codeIn, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { killHard, request, serverEnv, startServerProcess, tempDataDir, type ServerProcess } from '../chaos/helpers/server-process.ts';

/** A TCP relay to PostgreSQL that can be cut, as a network partition would cut one node off. */
async function startRelay(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(target);
  relayed.port = String((server.address() as { port: number }).port);
  const cut = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  return { url: relayed.toString(), cut, close: async () => cut() };
}

/**
 * Contract §9: three `serve` processes on one PostgreSQL database, as three nodes behind a load
 * balancer, each with its own data folder; every promise holds across them.
 */
describe.skipIf(postgresMissing() !== undefined)('three nodes on one PostgreSQL database', () => {
  let smtp: TestSmtpServer;
  let url: string;
  const nodes: ServerProcess[] = [];
  const folders: string[] = [];
  const others: { close(): Promise<void> }[] = [];

  async function startNode(databaseUrl = url): Promise<ServerProcess> {
    const dataDir = tempDataDir();
    folders.push(dataDir);
    const node = await startServerProcess(serverEnv(dataDir, { SIDEKICK_DATABASE_URL: databaseUrl, SIDEKICK_SMTP_URL: smtp.url }));
    nodes.push(node);
    return node;
  }

  beforeAll(async () => {
    await ensureBuilt();
    smtp = await startSmtpServer();
  }, 120_000);
  afterAll(async () => {
    await smtp.stop();
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) await killHard(node);
    for (const other of others.splice(0)) await other.close();
    for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
    smtp.received.length = 0;
  });

  async function threeNodes(): Promise<ServerProcess[]> {
    url = await freshPostgresDatabase();
    // One after another, as a rolling start would; each migrates (a no-op after the first) under the lock.
    return [await startNode(), await startNode(), await startNode()];
  }

  /** Registers `email` through `node`, the code read from the shared relay. */
  async function register(node: ServerProcess, email: string): Promise<void> {
    expect((await request(node.url, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
    await expect.poll(() => smtp.lastTo(email), { timeout: 10_000 }).toBeDefined();
    const otp = codeIn(smtp.lastTo(email)!);
    expect((await request(node.url, 'POST', '/api/users/register/', { body: registrationBody(email, { otp }) })).status).toBe(201);
  }

  it('refuses a logout on one node at the very next request on the others', async () => {
    const [a, b, c] = await threeNodes();
    await register(a, 'ada@example.com');
    const login = await request(b.url, 'POST', '/api/users/login/', { body: { email: 'ada@example.com', password: STRONG_PASSWORD } });
    const kitchen = await request(c.url, 'POST', '/token/', { body: { email: 'ada@example.com', password: STRONG_PASSWORD } });
    for (const node of [a, b, c]) {
      expect((await request(node.url, 'GET', '/api/users/profile/', { bearer: login.body.access })).status).toBe(200);
      expect((await request(node.url, 'GET', '/users/me/', { token: kitchen.body.token })).status).toBe(200);
    }
    expect((await request(a.url, 'POST', '/api/token/blacklist/', { body: { refresh: login.body.refresh } })).status).toBe(200);
    expect((await request(c.url, 'POST', '/api/token/refresh/', { body: { refresh: login.body.refresh } })).status).toBe(401);
    expect((await request(a.url, 'POST', '/logout/', { token: kitchen.body.token })).status).toBe(200);
    expect((await request(b.url, 'GET', '/users/me/', { token: kitchen.body.token })).status).toBe(401);
    expect((await request(c.url, 'GET', '/users/me/', { token: kitchen.body.token })).status).toBe(401);
  });

  it('counts wrong logins, one account and one address, across the nodes: exactly the limit is checked', async () => {
    const [a, b, c] = await threeNodes();
    await register(a, 'target@example.com');
    const body = { email: 'target@example.com', password: 'Wrong-Guess-Password-5' };
    // From one address (the relay forwards it), spread over the three nodes.
    const from = { 'x-forwarded-for': '198.51.100.7' };
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${[a, b, c][i % 3].url}/api/users/login/`, { method: 'POST', headers: { 'content-type': 'application/json', ...from }, body: JSON.stringify(body) }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(30);
  });

  it('accepts one of twenty parallel correct codes sent to different nodes', async () => {
    const nodes = await threeNodes();
    expect((await request(nodes[0].url, 'POST', '/api/users/register/', { body: registrationBody('once@example.com') })).status).toBe(200);
    await expect.poll(() => smtp.lastTo('once@example.com'), { timeout: 10_000 }).toBeDefined();
    const otp = codeIn(smtp.lastTo('once@example.com')!);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(nodes[i % 3].url, 'POST', '/api/users/register/', { body: registrationBody('once@example.com', { otp }) })),
    );
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 400)).toHaveLength(19);
  });

  it('delivers each queued mail once, whichever node queued it and whichever delivers it', async () => {
    const nodes = await threeNodes();
    const emails = Array.from({ length: 9 }, (_, i) => `mail${i}@example.com`);
    await Promise.all(emails.map((email, i) => request(nodes[i % 3].url, 'POST', '/api/users/register/', { body: registrationBody(email) })));
    await smtp.waitFor(9, 15_000);
    // Every node polls the shared outbox every second: give them time to send anything twice.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(smtp.received.flatMap((mail) => mail.rcptTo).sort()).toEqual(emails.sort());
  });

  it('loses no acknowledged write when a node is killed mid-write, and the others serve on', async () => {
    const [a, b] = await threeNodes();
    const acknowledged: string[] = [];
    const deadline = Date.now() + 10_000;
    const writing = (async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        try {
          const answer = await request(a.url, 'POST', '/users/', { body: { email: `w${i}@example.com`, password: STRONG_PASSWORD } });
          if (answer.status === 201) acknowledged.push(`w${i}@example.com`);
        } catch {
          return; // the node is gone
        }
      }
    })();
    await expect.poll(() => acknowledged.length, { timeout: 10_000 }).toBeGreaterThan(3);
    await killHard(a);
    await writing;
    for (const email of acknowledged) {
      expect((await request(b.url, 'POST', '/token/', { body: { email, password: STRONG_PASSWORD } })).status, email).toBe(200);
    }
  });

  it('keeps serving on the other nodes when one is cut off from the database, which then answers 503', async () => {
    const [a, b] = await threeNodes();
    const relay = await startRelay(new URL(url));
    others.push(relay);
    const cutOff = await startNode(relay.url);
    await register(a, 'steady@example.com');
    const { token } = (await request(cutOff.url, 'POST', '/token/', { body: { email: 'steady@example.com', password: STRONG_PASSWORD } })).body;
    relay.cut();
    const refused = await request(cutOff.url, 'GET', '/users/me/', { token });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'database_unavailable' });
    for (const node of [a, b]) {
      expect((await request(node.url, 'GET', '/users/me/', { token })).status).toBe(200);
      expect((await request(node.url, 'POST', '/users/', { body: { email: `after-${node.url.slice(-5)}@example.com`, password: STRONG_PASSWORD } })).status).toBe(201);
    }
  });
});
