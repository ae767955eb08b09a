import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

interface Serving {
  child: ChildProcess;
  url: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `sidekick serve` on the workspace's database, on a free port; resolves once it listens. */
function serve(w: CliWorkspace, args: string[] = []): Promise<Serving> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'serve', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...w.env, SIDEKICK_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const url = /Sidekick listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) resolve({ child, url, exit });
    });
    void exit.then(({ code }) => reject(new Error(`serve exited with ${code}:\n${stderr}`)));
  });
}

const markers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.serving'));

describe('db:restore and a server serving the database', () => {
  let w: CliWorkspace;
  const servers: ChildProcess[] = [];
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    for (const child of servers.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    await w?.close();
  });

  async function started(args: string[] = []): Promise<Serving> {
    const serving = await serve(w, args);
    servers.push(serving.child);
    return serving;
  }

  /** A workspace with ada in its database and a backup of it. */
  async function withBackup(): Promise<string> {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    await sidekick.close();
    const backup = path.join(w.dataDir, 'backup.db');
    expect((await w.run(['db:backup', backup])).code).toBe(0);
    return backup;
  }

  const login = (url: string, email: string) =>
    fetch(`${url}/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    }).then((response) => response.status);

  it('refuses with exit 75 while a server serves the database; the server keeps serving; its clean stop removes the marker', async () => {
    const backup = await withBackup();
    const server = await started();
    expect(markers(w.dataDir)).toEqual(['sidekick.db.serving']);
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'bob@example.com', password: PASSWORD });
    await sidekick.close();

    const refused = failure(await w.run(['db:restore', backup]));
    expect(refused.code).toBe(75);
    expect(refused.lines).toEqual([
      `Error: a server (pid ${server.child.pid}) is serving ${path.join(w.dataDir, 'sidekick.db')}: stop it first, or pass --force to restore under it`,
    ]);
    expect(await login(server.url, 'bob@example.com')).toBe(200);
    expect(readdirSync(w.dataDir).filter((name) => name.includes('before-restore'))).toEqual([]);

    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });
    expect(markers(w.dataDir)).toEqual([]);
  });

  it('with --force, restores under the running server, which answers from the restored data at its next request', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    const { accounts, credentials } = sidekick.services;
    const ada = await accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    await accounts.createUser({ email: 'zed@example.com', password: PASSWORD });
    const token = await credentials.issueOpaqueToken(ada);
    const backup = path.join(w.dataDir, 'backup.db');
    expect((await w.run(['db:backup', backup])).code).toBe(0);

    const server = await started();
    const me = () => fetch(`${server.url}/users/me/`, { headers: { authorization: `Token ${token}` } }).then((r) => r.status);
    expect(await me()).toBe(200);
    // Gone from the live database, while the server watches: it answers so.
    await accounts.revokeAllTokens('ada@example.com');
    await accounts.deleteByEmail('zed@example.com');
    await sidekick.close();
    expect(await me()).toBe(401);
    expect(await login(server.url, 'zed@example.com')).toBe(400);

    const result = await w.run(['db:restore', backup, '--force', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ serverRunning: true, restartServer: false, rows: { users: 2, sessions: 1 } });
    expect(await me()).toBe(200);
    expect(await login(server.url, 'zed@example.com')).toBe(200);
    expect(markers(w.dataDir)).toEqual(['sidekick.db.serving']);

    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });

  it('is not held off by the marker a SIGKILLed server left', async () => {
    const backup = await withBackup();
    const server = await started();
    server.child.kill('SIGKILL');
    await server.exit;
    expect(markers(w.dataDir)).toEqual(['sidekick.db.serving']);

    const result = await w.run(['db:restore', backup]);
    expect(result.code).toBe(0);
    expect(existsSync(path.join(w.dataDir, 'sidekick.db.serving'))).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('serve --workers 2 makes one marker, naming its primary', async () => {
    const backup = await withBackup();
    const server = await started(['--workers', '2']);
    expect(markers(w.dataDir)).toEqual(['sidekick.db.serving']);
    const refused = failure(await w.run(['db:restore', backup]));
    expect(refused.code).toBe(75);
    expect(refused.line).toContain(`a server (pid ${server.child.pid}) is serving`);

    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
    expect(markers(w.dataDir)).toEqual([]);
  });
});
