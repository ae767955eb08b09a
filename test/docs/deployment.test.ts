import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { freePort } from '../helpers/net.ts';
import { readRepoFile, REPO } from './guide-helpers.ts';
import {
  execArgv,
  parseEnvFile,
  parseUnit,
  unitEnvironment,
  unitSeconds,
  unitValue,
} from './deploy-parsers.ts';

/**
 * deploy/: the systemd units are checked by systemd's own tools and then run as systemd would run them
 * (paths moved into temporary folders); the wrapper runs real commands. The environment file and the
 * proxies' files are proxies.test.ts's.
 */

const SERVICE = readRepoFile('deploy/sidekick.service');
const BACKUP_SERVICE = readRepoFile('deploy/sidekick-backup.service');
const BACKUP_TIMER = readRepoFile('deploy/sidekick-backup.timer');
const ENV_EXAMPLE = readRepoFile('deploy/env.example');
const DEPLOYMENT_GUIDE = readRepoFile('docs/deployment.md');
const unit = parseUnit(SERVICE);
const backupUnit = parseUnit(BACKUP_SERVICE);

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((file) => existsSync(file));
const NO_SYSTEMD_ANALYZE = 'systemd-analyze is not installed (it comes with systemd)';
const which = (name: string) => {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
};

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'sidekick-deploy-'));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The installed layout (/opt/sidekick, /var/lib/…, /usr/bin/node) moved to this checkout and `root`. */
function relocate(text: string, root: string): string {
  return text
    .replaceAll('/usr/bin/node', process.execPath)
    .replaceAll('/opt/sidekick/', `${REPO}/`)
    .replaceAll('/var/lib/sidekick-backups', path.join(root, 'backups'))
    .replaceAll('/var/lib/sidekick', path.join(root, 'state'));
}

function folder(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('deploy/sidekick.service', () => {
  const service = (key: string) => unitValue(unit, 'Service', key);

  it.skipIf(!SYSTEMD_ANALYZE)(`passes systemd-analyze verify, with the backup unit and its timer${SYSTEMD_ANALYZE ? '' : ` (skipped: ${NO_SYSTEMD_ANALYZE})`}`, () => {
    const dir = folder('verify');
    for (const [name, text] of [['sidekick.service', SERVICE], ['sidekick-backup.service', BACKUP_SERVICE], ['sidekick-backup.timer', BACKUP_TIMER]]) {
      writeFileSync(path.join(dir, name), relocate(text, dir));
    }
    const run = spawnSync(SYSTEMD_ANALYZE!, ['verify', '--man=no', ...['sidekick.service', 'sidekick-backup.service', 'sidekick-backup.timer'].map((n) => path.join(dir, n))], {
      encoding: 'utf8',
    });
    // verify exits 0 even for unknown keys and bad values: it only warns, naming the file.
    const warnings = run.stderr.split('\n').filter((line) => line.includes(dir));
    expect(warnings).toEqual([]);
    expect(run.status).toBe(0);
  });

  it.skipIf(!SYSTEMD_ANALYZE)(`is rated as the guide says by systemd-analyze security${SYSTEMD_ANALYZE ? '' : ` (skipped: ${NO_SYSTEMD_ANALYZE})`}`, () => {
    const file = path.join(folder('security'), 'sidekick.service');
    writeFileSync(file, relocate(SERVICE, path.dirname(file)));
    const run = spawnSync(SYSTEMD_ANALYZE!, ['security', '--offline=yes', '--no-pager', file], { encoding: 'utf8' });
    const rating = /Overall exposure level for sidekick\.service: (\d+\.\d) (\w+)/.exec(run.stdout);
    expect(rating, run.stdout + run.stderr).not.toBeNull();
    expect(['PERFECT', 'SAFE', 'OK']).toContain(rating![2]);
    const claimed = /`systemd-analyze security sidekick` rates\s+it "OK" \((\d+\.\d) with systemd (\d+)\)/.exec(DEPLOYMENT_GUIDE);
    expect(claimed, 'docs/deployment.md states the rating').not.toBeNull();
    const version = /systemd (\d+)/.exec(spawnSync(SYSTEMD_ANALYZE!, ['--version'], { encoding: 'utf8' }).stdout)?.[1];
    if (version === claimed![2]) expect(rating![1]).toBe(claimed![1]);
  });

  it('carries the hardening the guide lists, and no MemoryDenyWriteExecute', () => {
    expect(service('User')).toBe('sidekick');
    expect(service('StateDirectory')).toBe('sidekick');
    expect(unitEnvironment(unit).SIDEKICK_DATA_DIR).toBe('/var/lib/sidekick');
    expect(service('EnvironmentFile')).toBe('-/etc/sidekick/env');
    for (const key of [
      'NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectKernelModules',
      'ProtectKernelLogs', 'ProtectControlGroups', 'LockPersonality', 'RestrictNamespaces', 'RestrictSUIDSGID', 'RestrictRealtime',
    ]) {
      expect(service(key), key).toBe('yes');
    }
    expect(service('ProtectSystem')).toBe('strict');
    expect(service('RestrictAddressFamilies')?.split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(unit.get('Service')!.get('SystemCallFilter')).toEqual(['@system-service']);
    expect(unit.get('Service')!.get('CapabilityBoundingSet')).toEqual([]);
    expect(service('UMask')).toBe('0077');
    expect(service('MemoryDenyWriteExecute')).toBeUndefined();
    expect(SERVICE).toMatch(/# No MemoryDenyWriteExecute=yes: V8/);
    expect(service('RestartPreventExitStatus')?.split(/\s+/).sort()).toEqual(['66', '78']);
  });

  it('gives a stop more time than the drain and the mail stop take', () => {
    expect(service('KillSignal')).toBe('SIGTERM');
    expect(service('KillMode')).toBe('mixed');
    const config = loadConfig({ ...unitEnvironment(unit), ...parseEnvFile(ENV_EXAMPLE) });
    const MAIL_STOP_SECONDS = 5; // src/mail/deliverer.ts: stop() waits that long for a send in progress.
    expect(unitSeconds(service('TimeoutStopSec')!)).toBeGreaterThan(config.drainTimeout + MAIL_STOP_SECONDS + 5);
  });

  it(
    'runs its ExecStart with --workers 2, and on KillSignal to the main process only (KillMode=mixed) answers the request in flight and exits 0',
    { timeout: 120_000 },
    async () => {
      await ensureBuilt();
      const root = folder('serve');
      const port = await freePort();
      const argv = [...execArgv(relocate(service('ExecStart')!, root)), '--workers', '2'];
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...unitEnvironment(parseUnit(relocate(SERVICE, root))),
        ...parseEnvFile(ENV_EXAMPLE),
        SIDEKICK_PORT: String(port),
        SIDEKICK_BCRYPT_COST: '4',
      };
      env.SIDEKICK_DATA_DIR = path.join(root, 'state');
      const server = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
      let stderr = '';
      server.stderr!.on('data', (chunk) => (stderr += chunk));
      await untilOutput(server, /Sidekick listening on http:\/\/127\.0\.0\.1:\d+ \(2 workers\)/);

      // A request whose headers have arrived and whose body has not: in flight when the signal comes.
      const body = JSON.stringify({ email: 'nobody@example.com', password: 'Correct-Horse-Battery-9' });
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`POST /api/users/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));

      server.kill(service('KillSignal') as NodeJS.Signals);
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Not end(): a half-closed socket is one Node may close before it answers.
      socket.write(body.slice(10));
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);

      const stopBound = unitSeconds(service('TimeoutStopSec')!) * 1000;
      const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(resolve, stopBound, 'timeout'))]);
      if (code === 'timeout') server.kill('SIGKILL');
      expect(code, stderr).toBe(0);
      expect(stderr).toContain('"msg":"stopped"');
    },
  );
});

function untilOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${seen}`)), timeoutMs);
    child.stdout!.on('data', (chunk) => {
      seen += chunk;
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${pattern}; stdout: ${seen}`)));
  });
}

const isRoot = process.getuid?.() === 0;
const NOT_ROOT = 'the wrapper switches user with setpriv, which needs root';

describe('deploy/sidekick (the wrapper)', () => {
  it.skipIf(!isRoot || !which('setpriv'))(
    `runs commands with the env file's settings, private files and the command's exit code${isRoot ? '' : ` (skipped: ${NOT_ROOT})`}`,
    { timeout: 120_000 },
    async () => {
      await ensureBuilt();
      const root = folder('wrapper');
      const envFile = path.join(root, 'env');
      writeFileSync(envFile, `${ENV_EXAMPLE}\nSIDEKICK_DATA_DIR=${root}/state\nSIDEKICK_BCRYPT_COST=4\n`);
      const run = (...args: string[]) =>
        spawnSync(path.join(REPO, 'deploy/sidekick'), args, {
          encoding: 'utf8',
          input: 'Correct-Horse-Battery-9',
          env: { PATH: process.env.PATH, SIDEKICK_USER: userInfo().username, SIDEKICK_HOME: REPO, SIDEKICK_ENV_FILE: envFile, SIDEKICK_NODE: process.execPath },
        });
      const migrated = run('db:migrate', '--json');
      expect(migrated.status, migrated.stderr).toBe(0);
      expect(JSON.parse(migrated.stdout).database).toBe(`${root}/state/sidekick.db`);
      expect(run('users:create', '--email', 'ops@example.com', '--password-stdin', '--json').status).toBe(0);
      const issued = run('token:issue', 'ops@example.com', '--json');
      expect(issued.status, issued.stderr).toBe(0);
      const claims = JSON.parse(Buffer.from(JSON.parse(issued.stdout).access.split('.')[1], 'base64url').toString());
      expect(claims.iss).toBe(parseEnvFile(ENV_EXAMPLE).SIDEKICK_PUBLIC_URL);
      // umask 077, as the unit's UMask=0077: even the file SQLite makes with 0644 is private.
      expect(statSync(`${root}/state/sidekick.db`).mode & 0o777).toBe(0o600);
      expect(run('users:show', 'nobody@example.com').status).toBe(3);
    },
  );
});

describe('deploy/sidekick-backup.service', () => {
  it('carries the service user, the env file and the private umask', () => {
    expect(unitValue(backupUnit, 'Service', 'Type')).toBe('oneshot');
    expect(unitValue(backupUnit, 'Service', 'User')).toBe('sidekick');
    expect(unitValue(backupUnit, 'Service', 'EnvironmentFile')).toBe('-/etc/sidekick/env');
    expect(unitValue(backupUnit, 'Service', 'UMask')).toBe('0077');
    expect(unitValue(backupUnit, 'Service', 'StateDirectory')?.split(/\s+/)).toEqual(['sidekick', 'sidekick-backups']);
    expect(unitValue(parseUnit(BACKUP_TIMER), 'Timer', 'Persistent')).toBe('true');
  });

  it(
    "runs its ExecStart lines as systemd would: a checked 0600 copy, the pictures' archive, and 14 days kept",
    { timeout: 120_000 },
    async () => {
      await ensureBuilt();
      const root = folder('backup');
      const state = path.join(root, 'state');
      const backups = path.join(root, 'backups');
      mkdirSync(path.join(state, 'media'), { recursive: true });
      mkdirSync(backups, { recursive: true });
      writeFileSync(path.join(state, 'media', 'picture.png'), 'not really a picture');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...unitEnvironment(parseUnit(relocate(BACKUP_SERVICE, root))) };
      expect(env.SIDEKICK_DATA_DIR).toBe(state);
      const migrate = spawnSync(process.execPath, [path.join(REPO, 'bin/run.js'), 'db:migrate'], { env, encoding: 'utf8' });
      expect(migrate.status, migrate.stderr).toBe(0);

      const old = Date.now() / 1000 - 20 * 86400;
      for (const name of ['sidekick-2000-01-01.db', 'media-2000-01-01.tar', 'keep-me.txt']) {
        writeFileSync(path.join(backups, name), '');
        utimesSync(path.join(backups, name), old, old);
      }
      const recent = path.join(backups, 'sidekick-1999-12-31.db');
      writeFileSync(recent, '');

      const lines = backupUnit.get('Service')!.get('ExecStart')!;
      expect(lines).toHaveLength(4);
      for (const line of lines) {
        const [file, ...args] = execArgv(relocate(line, root));
        const ran = spawnSync(file, args, { env, encoding: 'utf8', cwd: '/' });
        expect(ran.status, `${line}\n${ran.stderr}`).toBe(0);
      }
      // date +%F, as the unit's `$$(date +%%F)` becomes once systemd has undone its escapes.
      const today = spawnSync('date', ['+%F'], { encoding: 'utf8' }).stdout.trim();
      const made = readdirSync(backups).sort();
      expect(made).toEqual([`media-${today}.tar`, 'keep-me.txt', 'sidekick-1999-12-31.db', `sidekick-${today}.db`].sort());
      expect(statSync(path.join(backups, `sidekick-${today}.db`)).mode & 0o777).toBe(0o600);
      const listing = spawnSync('tar', ['-tf', path.join(backups, `media-${today}.tar`)], { encoding: 'utf8' }).stdout;
      expect(listing.split('\n')).toContain('media/picture.png');
    },
  );
});
