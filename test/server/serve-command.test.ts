import { HEALTHY } from '../helpers/http.ts';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { freePort } from '../helpers/net.ts';
import { codeIn, TestSmtpServer } from '../helpers/smtp.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = path.join(ROOT, 'bin', 'run.js');

/** Newest modification time of the TypeScript the CLI runs, and of its compiled output. */
function newestMtime(dir: string, extension: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(extension)) {
      newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** The subprocess runs dist/; rebuild it when a source is newer. */
function ensureBuilt(): void {
  const sources = Math.max(newestMtime(path.join(ROOT, 'src'), '.ts'), newestMtime(path.join(ROOT, 'commands'), '.ts'));
  const built = Math.min(
    newestMtime(path.join(ROOT, 'dist', 'src'), '.js'),
    newestMtime(path.join(ROOT, 'dist', 'commands'), '.js'),
  );
  if (built >= sources && existsSync(path.join(ROOT, 'dist', 'src', 'db', 'migrations'))) return;
  // Twice: another build writing dist/ at the same moment can make one attempt fail.
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
      return;
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
      if (attempt === 2) throw new Error(`npm run build failed:\n${stdout ?? ''}${stderr ?? ''}`);
    }
  }
}

/** The parent's environment without any SIDEKICK_* variable, so the test decides every setting. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SIDEKICK_') && key !== 'DEBUG') env[key] = value;
  return { ...env, ...extra };
}

interface Serving {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runServe(args: string[], env: Record<string, string>): Serving {
  const child = spawn(process.execPath, [RUN, 'serve', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, url: '', stdout: () => stdout, stderr: () => stderr, exit };
}

/** Starts `serve` and resolves once it prints the address it listens on. */
async function startServe(args: string[], env: Record<string, string>): Promise<Serving> {
  const serving = runServe(args, env);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${serving.stderr()}`)), 15_000);
    const onData = () => {
      const match = /Sidekick listening on (http:\/\/\S+)/.exec(serving.stdout());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    serving.child.stdout!.on('data', onData);
    serving.exit.then(({ code }) => reject(new Error(`serve exited with ${code}:\n${serving.stderr()}`)));
  });
  return { ...serving, url };
}

describe('sidekick serve as a subprocess', () => {
  let dataDir: string;
  const running: ChildProcess[] = [];

  beforeAll(() => {
    ensureBuilt();
  }, 120_000);
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-serve-'));
  });
  afterEach(async () => {
    for (const child of running.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const baseEnv = () => ({ SIDEKICK_DATA_DIR: dataDir, SIDEKICK_BCRYPT_COST: '4', SIDEKICK_LOG_LEVEL: 'info' });

  async function serve(port: number): Promise<Serving> {
    const serving = await startServe(['--port', String(port)], baseEnv());
    running.push(serving.child);
    return serving;
  }

  it('prints the public URL it was given and the SMTP relay without its credentials', async () => {
    const serving = await startServe(['--port', String(await freePort())], {
      ...baseEnv(),
      SIDEKICK_PUBLIC_URL: 'https://id.example.com',
      SIDEKICK_SMTP_URL: 'smtp://mailer:s3cret-relay-pass@127.0.0.1:2525',
    });
    running.push(serving.child);
    serving.child.kill('SIGTERM');
    expect(await serving.exit).toEqual({ code: 0, signal: null });
    expect(serving.stdout().split('\n').slice(1, 3)).toEqual([
      '  public URL (links in mail, JWT issuer): https://id.example.com',
      '  mail: SMTP smtp://127.0.0.1:2525',
    ]);
    expect(serving.stdout() + serving.stderr()).not.toContain('s3cret-relay-pass');
  });

  it('starts on the --port given, answers /healthz and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const serving = await serve(port);
    expect(serving.url).toBe(`http://127.0.0.1:${port}`);
    const health = await fetch(`${serving.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual(HEALTHY);

    serving.child.kill('SIGTERM');
    expect(await serving.exit).toEqual({ code: 0, signal: null });
    // With SIDEKICK_PUBLIC_URL unset, the public URL follows the port.
    expect(serving.stdout().split('\n')).toEqual([
      `Sidekick listening on ${serving.url}`,
      `  public URL (links in mail, JWT issuer): http://localhost:${port}`,
      `  mail: .eml files in ${path.join(dataDir, 'outbox')}`,
      '',
    ]);
    expect(serving.stderr()).not.toMatch(/\n\s+at /);
    expect(serving.stderr()).toMatch(/"msg":"stopped"/);
  });

  it.skipIf(process.platform !== 'linux')('as an executable, starts V8 with --max-semi-space-size=2 on its command line, not at run time', async () => {
    const child = spawn(RUN, ['serve', '--port', String(await freePort())], { cwd: ROOT, env: cleanEnv(baseEnv()), stdio: 'pipe' });
    running.push(child);
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => stdout.includes('listening on') && resolve());
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(0, 2)).toEqual([expect.stringMatching(/node$/), '--max-semi-space-size=2']);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('exits 0 on SIGINT as well', async () => {
    const serving = await serve(await freePort());
    serving.child.kill('SIGINT');
    expect((await serving.exit).code).toBe(0);
  });

  it('writes <data>/secret.key with mode 0600 on first start and reuses it on the next', async () => {
    // A data folder that does not exist yet, as on a fresh install.
    const freshData = path.join(dataDir, 'var', 'data');
    const keyFile = path.join(freshData, 'secret.key');
    // One port for both runs: without SIDEKICK_PUBLIC_URL the JWT issuer is http://localhost:<port>,
    // so a token from a run on another port would be refused for its issuer, whatever the key.
    const port = await freePort();
    const serveFresh = async () => {
      const serving = await startServe(['--port', String(port)], { ...baseEnv(), SIDEKICK_DATA_DIR: freshData });
      running.push(serving.child);
      return serving;
    };
    const first = await serveFresh();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(keyFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(first.stdout() + first.stderr()).not.toContain(secret);

    // A JWT signed in the first run must verify in the second, which it only does with the same key.
    const created = await fetch(`${first.url}/users/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keeper@example.com', password: STRONG_PASSWORD }),
    });
    expect(created.status).toBe(201);
    const login = await fetch(`${first.url}/api/users/login/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keeper@example.com', password: STRONG_PASSWORD }),
    });
    const { access } = (await login.json()) as { access: string };
    first.child.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);

    const second = await serveFresh();
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(secret);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const profile = await fetch(`${second.url}/api/users/profile/`, { headers: { authorization: `Bearer ${access}` } });
    expect(profile.status).toBe(200);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
  });

  it('writes mail as .eml files under <data>/outbox/ when no SMTP server is configured', async () => {
    const serving = await serve(await freePort());
    const response = await fetch(`${serving.url}/api/users/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'eml@example.com', password: STRONG_PASSWORD, preferences: 'Tea', dob: '1990-01-01' }),
    });
    expect(response.status).toBe(200);
    const outbox = path.join(dataDir, 'outbox');
    const started = Date.now();
    while (!(existsSync(outbox) && readdirSync(outbox).some((name) => name.endsWith('.eml')))) {
      if (Date.now() - started > 5000) throw new Error('no .eml file written');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    serving.child.kill('SIGTERM');
    expect((await serving.exit).code).toBe(0);
    const [file] = readdirSync(outbox).filter((name) => name.endsWith('.eml'));
    const code = /registration code is (\d{6})/.exec(readFileSync(path.join(outbox, file), 'utf8'))![1];
    const delivered = serving
      .stderr()
      .split('\n')
      .filter((line) => line.includes('"mail delivered"'));
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toContain(file);
    expect(serving.stdout() + serving.stderr()).not.toContain(code);
  });

  it('refuses a bad SIDEKICK_PORT with one line naming the variable, no stack trace, non-zero exit', async () => {
    const serving = runServe([], { ...baseEnv(), SIDEKICK_PORT: 'abc' });
    running.push(serving.child);
    const { code } = await serving.exit;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const lines = serving.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('SIDEKICK_PORT');
    expect(lines[0]).toContain('abc');
    expect(serving.stderr()).not.toMatch(/\bat .+:\d+:\d+/);
    expect(serving.stdout()).toBe('');
    expect(existsSync(path.join(dataDir, 'sidekick.db'))).toBe(false);
  });

  it('keeps a code mailed while SMTP is down across a restart and delivers it once SMTP is back', async () => {
    const smtp = await new TestSmtpServer().start();
    await smtp.stop();
    try {
      const env = { ...baseEnv(), SIDEKICK_SMTP_URL: smtp.url };
      const first = await startServe(['--port', String(await freePort())], env);
      running.push(first.child);
      const post = (url: string, body: unknown) =>
        fetch(`${url}/api/users/register/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post(first.url, registrationBody('outage@example.com'))).status).toBe(200);
      const started = Date.now();
      while (!first.stderr().includes('mail delivery failed; will retry')) {
        if (Date.now() - started > 5000) throw new Error(`no failed attempt logged:\n${first.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      first.child.kill('SIGTERM');
      expect((await first.exit).code).toBe(0);

      await smtp.start();
      const second = await startServe(['--port', String(await freePort())], env);
      running.push(second.child);
      const [mail] = await smtp.waitFor(1, 8000);
      expect(mail.rcptTo).toEqual(['outage@example.com']);
      const done = await post(second.url, registrationBody('outage@example.com', { otp: codeIn(mail) }));
      expect(done.status).toBe(201);
      second.child.kill('SIGTERM');
      expect((await second.exit).code).toBe(0);
    } finally {
      await smtp.stop();
    }
  });

  it.each<{ name: string; env: Record<string, string>; args: string[] }>([
    { name: 'SIDEKICK_SMTP_URL', env: { SIDEKICK_SMTP_URL: 'smtp://mailer:Hunter2-Relay@mail.example.com:bad' }, args: [] },
    { name: '--port', env: {}, args: ['--port', 'abc'] },
  ])('refuses a bad $name the same way, naming it', async ({ name, env, args }) => {
    const serving = runServe(args, { ...baseEnv(), ...env });
    running.push(serving.child);
    const { code } = await serving.exit;
    expect(code).not.toBe(0);
    const lines = serving.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    // A malformed SMTP URL still holds the relay's real password.
    expect(lines[0]).not.toContain('Hunter2-Relay');
    expect(serving.stderr()).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('refuses a port already in use with one line and a non-zero exit', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const serving = runServe(['--port', String(port)], baseEnv());
      running.push(serving.child);
      const { code } = await serving.exit;
      expect(code).not.toBe(0);
      const errorLines = serving.stderr().split('\n').filter((line) => line.startsWith('Error'));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toMatch(/EADDRINUSE|in use/);
      expect(serving.stderr()).not.toMatch(/\bat .+:\d+:\d+/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
