import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { TEST_SECRET } from '../helpers/sidekick.ts';
import { createEmlReader } from './helpers/eml-outbox.ts';
import { request, runCli, serverEnv, startServerProcess, tempDataDir, type HttpResult } from './helpers/server-process.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function dataDir(): string {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
}

describe('concurrent writers', () => {
  it('lets the CLI write while the server is under write load: no 500 and no "database is locked" for anyone', async () => {
    const dir = dataDir();
    const env = serverEnv(dir);
    const server = await startServerProcess(env);
    try {
      const seeded = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const email = `writer${i}@example.com`;
          const created = await request(server.url, 'POST', '/users/', { body: { email, password: STRONG_PASSWORD } });
          expect(created.status).toBe(201);
          return { email, token: created.body.token as string };
        }),
      );

      // HTTP write load: profile updates, sign-ups and logins (each a transaction) from 6 clients.
      let loading = true;
      const statuses: number[] = [];
      let signups = 0;
      const load = seeded.map(async ({ email, token }, lane) => {
        let n = 0;
        while (loading) {
          n++;
          let answer: HttpResult;
          if (n % 3 === 0) {
            answer = await request(server.url, 'POST', '/users/', { body: { email: `load${lane}-${n}@example.com`, password: STRONG_PASSWORD } });
            signups++;
          } else if (n % 3 === 1) {
            answer = await request(server.url, 'PATCH', '/users/me/', { token, body: { bio: `bio ${n}` } });
            // token:revoke --user below may have revoked this lane's token: log in again.
            if (answer.status === 401) {
              const login = await request(server.url, 'POST', '/token/', { body: { email, password: STRONG_PASSWORD } });
              statuses.push(login.status);
              token = login.body.token;
            }
          } else {
            answer = await request(server.url, 'POST', '/api/users/login/', { body: { email, password: STRONG_PASSWORD } });
          }
          statuses.push(answer.status);
        }
      });

      const importFile = path.join(dir, 'import.json');
      writeFileSync(
        importFile,
        JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ email: `imported${i}@example.com`, password: STRONG_PASSWORD, name: `Imported ${i}` }))),
      );
      const cliRuns = [
        ...Array.from({ length: 4 }, (_, i) => ['users:create', '--email', `cli${i}@example.com`, '--password', STRONG_PASSWORD, '--json']),
        ['token:revoke', '--user', 'writer0@example.com', '--json'],
        ['token:revoke', '--user', 'writer1@example.com', '--json'],
        ['users:import', importFile, '--json'],
      ];
      const cliResults = [];
      // Two CLI processes at a time, on top of the HTTP load.
      for (let i = 0; i < cliRuns.length; i += 2) {
        cliResults.push(...(await Promise.all(cliRuns.slice(i, i + 2).map((args) => runCli(args, env)))));
      }
      loading = false;
      await Promise.all(load);

      for (const [i, result] of cliResults.entries()) {
        expect(result.code, `${cliRuns[i].join(' ')}: ${result.stderr}`).toBe(0);
        expect(result.stderr).not.toMatch(/locked|busy/i);
      }
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(statuses.filter((s) => s !== 200 && s !== 201 && s !== 401)).toEqual([]);
      expect(server.stderr()).not.toMatch(/database is locked|SQLITE_BUSY|unhandled error/);

      const listed = await runCli(['users:list', '--json'], env);
      expect(listed.code, listed.stderr).toBe(0);
      const emails = (JSON.parse(listed.stdout) as { email: string }[] | { users: { email: string }[] });
      const all = (Array.isArray(emails) ? emails : emails.users).map((u) => u.email);
      for (const email of ['cli0@example.com', 'cli3@example.com', 'imported0@example.com', 'imported39@example.com']) {
        expect(all).toContain(email);
      }
      console.log(
        `concurrent writers: ${statuses.length} HTTP writes/logins (${signups} sign-ups) alongside ${cliResults.length} CLI writes, ` +
          `0 errors, users now ${all.length}`,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('logs', () => {
  it('log one structured line per request and never a password, code, token, reset link or the secret', async () => {
    const dir = dataDir();
    const server = await startServerProcess(serverEnv(dir));
    const mails = createEmlReader(dir);
    const secrets: string[] = [TEST_SECRET, STRONG_PASSWORD];
    let requests = 0;
    const call = async (method: string, pathname: string, options: Parameters<typeof request>[3] = {}) => {
      requests++;
      return request(server.url, method, pathname, options);
    };
    try {
      const email = 'logged@example.com';
      expect((await call('POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
      await expect.poll(() => mails.latestCode(email), { timeout: 5000 }).toBeTruthy();
      const code = (await mails.latestCode(email))!;
      secrets.push(code);
      // A wrong code first: failures must not log what was tried either.
      const wrong = code === '000000' ? '111111' : '000000';
      secrets.push(wrong);
      expect((await call('POST', '/api/users/register/', { body: registrationBody(email, { otp: wrong }) })).status).toBe(400);
      expect((await call('POST', '/api/users/register/', { body: registrationBody(email, { otp: code }) })).status).toBe(201);

      const jwt = (await call('POST', '/api/users/login/', { body: { email, password: STRONG_PASSWORD } })).body;
      secrets.push(jwt.access, jwt.refresh);
      expect((await call('GET', '/api/users/profile/', { bearer: jwt.access })).status).toBe(200);
      expect((await call('POST', '/api/token/refresh/', { body: { refresh: jwt.refresh } })).status).toBe(200);
      expect((await call('POST', '/api/users/login/', { body: { email, password: 'Wrong-Password-123' } })).status).toBe(401);
      secrets.push('Wrong-Password-123');
      const kitchen = (await call('POST', '/token/', { body: { email, password: STRONG_PASSWORD } })).body;
      secrets.push(kitchen.token);
      expect((await call('GET', '/users/me/', { token: kitchen.token })).status).toBe(200);
      expect((await call('POST', '/logout/', { token: kitchen.token })).status).toBe(200);
      expect((await call('POST', '/api/token/blacklist/', { body: { refresh: jwt.refresh } })).status).toBe(200);

      expect((await call('POST', '/api/users/reset-password/', { body: { email } })).status).toBe(200);
      await expect.poll(() => mails.latestResetLink(email), { timeout: 5000 }).toBeTruthy();
      const link = (await mails.latestResetLink(email))!;
      const linkPath = new URL(link).pathname;
      const linkToken = linkPath.split('/').filter(Boolean).at(-1)!;
      secrets.push(linkToken, 'New-Password-For-Logs-5');
      expect((await call('GET', linkPath)).status).toBe(200);
      expect((await call('POST', linkPath, { body: { new_password: 'New-Password-For-Logs-5' } })).status).toBe(200);
      expect((await call('POST', linkPath, { body: { new_password: 'New-Password-For-Logs-5' } })).status).toBe(400);
      expect((await call('POST', '/api/users/register/', { body: 'not json' })).status).toBe(400);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }

    const log = server.stderr();
    for (const secret of secrets) expect(log, `a log line carries ${secret.slice(0, 12)}…`).not.toContain(secret);
    expect(log).not.toMatch(/Bearer |Token [0-9a-f]{40}/);
    const lines = log.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = lines.filter((line) => line.msg === 'request');
    expect(requestLines).toHaveLength(requests);
    for (const line of requestLines) {
      expect(line).toMatchObject({ method: expect.any(String), route: expect.any(String), status: expect.any(Number), ms: expect.any(Number), reqId: expect.any(String) });
    }
    // The route pattern, not the path: a reset link's path carries its token.
    expect(requestLines.map((l) => l.route)).toContain('/api/users/reset/:uidb64/:token');
  });
});
