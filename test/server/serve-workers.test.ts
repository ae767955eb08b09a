import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = path.join(ROOT, 'bin', 'run.js');

function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|js)$/.test(entry.name)) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The subprocess runs dist/; rebuild it when a source is newer. */
function ensureBuilt(): void {
  const sources = Math.max(newestMtime(path.join(ROOT, 'src')), newestMtime(path.join(ROOT, 'commands')));
  const built = Math.min(newestMtime(path.join(ROOT, 'dist', 'src')), newestMtime(path.join(ROOT, 'dist', 'commands')));
  if (built >= sources) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
}

/** One request on a fresh connection, so the cluster's round robin hands it to the next worker. */
function send(url: string, method: string, route: string, options: { body?: unknown; authorization?: string } = {}) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      `${url}${route}`,
      {
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(options.authorization ? { authorization: options.authorization } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}

/** Pids of the direct children of `pid` (the cluster workers). */
function childPids(pid: number): number[] {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

async function until<T>(probe: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(process.platform !== 'linux')('sidekick serve --workers', () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(workers: number, bcryptCost = 4) {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-workers-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SIDEKICK_DATA_DIR: dataDir,
      SIDEKICK_BCRYPT_COST: String(bcryptCost),
      SIDEKICK_PORT: '0',
      SIDEKICK_LOG_LEVEL: 'info',
    };
    for (const key of ['SIDEKICK_SECRET', 'SIDEKICK_SMTP_URL', 'SIDEKICK_DB']) delete env[key];
    execFileSync(process.execPath, [RUN, 'db:migrate'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync(process.execPath, [RUN, 'users:create', '--email', 'ada@example.com', '--password-stdin'], {
      cwd: ROOT,
      env,
      input: `${STRONG_PASSWORD}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    // Its own process group, as a service manager starts it, so a test can signal the whole group.
    const proc = spawn(process.execPath, [RUN, 'serve', '--workers', String(workers)], { cwd: ROOT, env, stdio: 'pipe', detached: true });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const url = await until(() => /listening on (http:\/\/\S+) \(2 workers\)/.exec(stdout)?.[1], `listening line; stderr: ${stderr}`);
    return { proc, url, exit, stderr: () => stderr, outbox: path.join(dataDir, 'outbox') };
  }

  it('serves from N worker processes on one port and exits 0, workers included, on SIGTERM', async () => {
    const { proc, url, exit } = await start(2);
    const workers = childPids(proc.pid!);
    expect(workers).toHaveLength(2);
    for (let i = 0; i < 6; i++) expect((await send(url, 'GET', '/healthz')).status).toBe(200);

    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    for (const pid of workers) expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(false);
  }, 60_000);

  it('keeps throttles and revocations correct across workers, and delivers each mail exactly once', async () => {
    const { proc, url, exit } = await start(2);
    const email = 'grace@example.com';
    expect((await send(url, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
    // The next requests land on the other worker too: the 1-a-minute code throttle lives in the database.
    for (let i = 0; i < 3; i++) {
      expect((await send(url, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(429);
    }
    const mails = await until(() => {
      const files = existsSync(path.join(dataDir!, 'outbox')) ? readdirSync(path.join(dataDir!, 'outbox')).filter((f) => f.endsWith('.eml')) : [];
      return files.length > 0 ? files : undefined;
    }, 'the code mail');

    const login = await send(url, 'POST', '/api/users/login/', { body: { email: 'ada@example.com', password: STRONG_PASSWORD } });
    expect(login.status).toBe(200);
    const bearer = `Bearer ${login.body.access}`;
    for (let i = 0; i < 2; i++) expect((await send(url, 'GET', '/api/users/profile/', { authorization: bearer })).status).toBe(200);
    expect((await send(url, 'POST', '/api/token/blacklist/', { body: { refresh: login.body.refresh } })).status).toBe(200);
    expect((await send(url, 'POST', '/api/token/refresh/', { body: { refresh: login.body.refresh } })).status).toBe(401);
    expect((await send(url, 'POST', '/api/token/refresh/', { body: { refresh: login.body.refresh } })).status).toBe(401);

    // Give any second deliverer time to act before counting: one code mail, delivered once.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(readdirSync(path.join(dataDir!, 'outbox')).filter((f) => f.endsWith('.eml'))).toEqual(mails);
    expect(mails).toHaveLength(1);

    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 60_000);

  it('counts parallel failed logins across workers: of 40 guesses at once, exactly 10 are checked', async () => {
    // A slow enough hash that all 40 are in flight together, as real guesses at cost 12 would be.
    const { proc, url, exit } = await start(2, 10);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () => send(url, 'POST', '/api/users/login/', { body: { email: 'ada@example.com', password: 'Wrong-Password-1' } })),
    );
    const counts = statuses.reduce<Record<number, number>>((tally, { status }) => ({ ...tally, [status]: (tally[status] ?? 0) + 1 }), {});
    expect(counts).toEqual({ 401: 10, 429: 30 });
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 60_000);

  it('finishes requests in flight when SIGTERM reaches the whole process group (systemd, docker stop)', async () => {
    // Cost 12: each wrong-password check takes a few hundred ms, so the logins are still running at the signal.
    const { proc, url, exit } = await start(2, 12);
    const logins = Array.from({ length: 4 }, () => send(url, 'POST', '/api/users/login/', { body: { email: 'ada@example.com', password: 'Wrong-Password-1' } }));
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The workers get it twice: from the kernel, then from their primary. The second must not kill them.
    process.kill(-proc.pid!, 'SIGTERM');
    expect((await Promise.all(logins)).map((answer) => answer.status)).toEqual([401, 401, 401, 401]);
    expect(await exit).toBe(0);
  }, 60_000);

  it('replaces a worker that dies', async () => {
    const { proc, url, exit } = await start(2);
    const [victim] = childPids(proc.pid!);
    process.kill(victim, 'SIGKILL');
    const replaced = await until(() => {
      const now = childPids(proc.pid!);
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    }, 'a replacement worker');
    expect(replaced).toHaveLength(2);
    for (let i = 0; i < 4; i++) expect((await send(url, 'GET', '/healthz')).status).toBe(200);
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 60_000);
});
