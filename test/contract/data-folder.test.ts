import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, selectedRuntimes, startServerProcess, type Runtime } from './runtimes.ts';
import { wire, type Wire } from './wire.ts';

/**
 * One data folder served in turn by Node and Deno: the database, the generated secret.key, bcrypt
 * hashes, opaque tokens, JWTs, pending codes and the outbox all carry over in both directions.
 * Needs both runtimes, so it runs only when Deno is selected (`npm run test:deno`).
 */
const PASSWORD = 'Tr0ub4dor&3-horse';

describe.skipIf(!selectedRuntimes().includes('deno'))('a data folder shared by Node and Deno', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-shared-'));
    // No SIDEKICK_SECRET: the first server generates secret.key and the others must reuse it.
    env = { SIDEKICK_DATA_DIR: dataDir, SIDEKICK_BCRYPT_COST: '4' };
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function serving<T>(runtime: Runtime, work: (http: Wire) => Promise<T>): Promise<T> {
    const server = await startServerProcess(runtime, env);
    try {
      return await work(wire(server.url));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }

  /** The newest registration code written to <data>/outbox/ for `email` (no SMTP configured here). */
  async function codeFromOutbox(email: string): Promise<string> {
    const outbox = path.join(dataDir, 'outbox');
    for (const file of readdirSync(outbox).filter((name) => name.endsWith('.eml')).sort().reverse()) {
      const mail = await simpleParser(readFileSync(path.join(outbox, file)));
      const to = [mail.to ?? []].flat().flatMap((address) => address.value.map((value) => value.address));
      const match = /registration code is (\d{6})/.exec(mail.text ?? '');
      if (match && to.includes(email)) return match[1];
    }
    throw new Error(`no registration code for ${email} in ${outbox}`);
  }

  async function waitForCode(email: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await codeFromOutbox(email);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  const registration = (email: string) => ({ email, password: PASSWORD, gender: 'Male', preferences: 'Gaming', dob: '1999-09-09' });

  let nodeToken = '';
  let nodeRefresh = '';
  let denoToken = '';

  it('Node writes users, tokens and a pending registration', async () => {
    await serving('node', async (http) => {
      const created = await http('POST', '/users/', { body: { email: 'from-node@example.com', password: PASSWORD } });
      expect(created.status).toBe(201);
      nodeToken = created.json.token;
      const login = await http('POST', '/api/users/login/', { body: { email: 'from-node@example.com', password: PASSWORD } });
      expect(login.status).toBe(200);
      nodeRefresh = login.json.refresh;
      expect((await http('PATCH', '/users/me/', { token: nodeToken, body: { name: 'Node Hero' } })).status).toBe(200);
      expect((await http('POST', '/api/users/register/', { body: registration('pending-node@example.com') })).status).toBe(200);
      await waitForCode('pending-node@example.com');
    });
  });

  it('Deno reads all of it: hash, opaque token, JWT signed with the generated secret, pending code', async () => {
    await serving('deno', async (http) => {
      const me = await http('GET', '/users/me/', { token: nodeToken });
      expect(me.status).toBe(200);
      expect(me.json).toMatchObject({ email: 'from-node@example.com', name: 'Node Hero' });

      const refreshed = await http('POST', '/api/token/refresh/', { body: { refresh: nodeRefresh } });
      expect(refreshed.status).toBe(200);
      expect((await http('GET', '/api/users/profile/', { bearer: refreshed.json.access })).status).toBe(200);

      const login = await http('POST', '/token/', { body: { email: 'from-node@example.com', password: PASSWORD } });
      expect(login.status).toBe(200);

      const otp = await codeFromOutbox('pending-node@example.com');
      const finished = await http('POST', '/api/users/register/', { body: { ...registration('pending-node@example.com'), otp } });
      expect(finished.status).toBe(201);

      const created = await http('POST', '/users/', { body: { email: 'from-deno@example.com', password: PASSWORD } });
      expect(created.status).toBe(201);
      denoToken = created.json.token;
      expect((await http('POST', '/logout/', { token: nodeToken, body: {} })).status).toBe(200);
      expect((await http('POST', '/api/users/register/', { body: registration('pending-deno@example.com') })).status).toBe(200);
      await waitForCode('pending-deno@example.com');

      // Both drivers on one live WAL database: Node's CLI reads while the Deno server holds it open.
      const listed = await runCli('node', ['users:list', '--json'], env);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout).total).toBe(3);
    });
  });

  it('Node reads what Deno wrote, including the logout', async () => {
    await serving('node', async (http) => {
      expect((await http('GET', '/users/me/', { token: nodeToken })).status).toBe(401);
      expect((await http('GET', '/users/me/', { token: denoToken })).json).toMatchObject({ email: 'from-deno@example.com' });
      expect((await http('POST', '/api/users/login/', { body: { email: 'from-deno@example.com', password: PASSWORD } })).status).toBe(200);
      expect((await http('POST', '/api/users/login/', { body: { email: 'pending-node@example.com', password: PASSWORD } })).status).toBe(200);

      const otp = await codeFromOutbox('pending-deno@example.com');
      const finished = await http('POST', '/api/users/register/', { body: { ...registration('pending-deno@example.com'), otp } });
      expect(finished.status).toBe(201);
    });
  });

  it("opens a Deno backup with Node's CLI", async () => {
    const backup = path.join(dataDir, 'backup.db');
    const made = await runCli('deno', ['db:backup', backup], env);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const listed = await runCli('node', ['users:list', '--json'], { ...env, SIDEKICK_DB: backup });
    expect(listed.code).toBe(0);
    const emails = (JSON.parse(listed.stdout) as { users: { email: string }[] }).users.map((user) => user.email).sort();
    expect(emails).toEqual(['from-deno@example.com', 'from-node@example.com', 'pending-deno@example.com', 'pending-node@example.com']);
  });
});
