import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/errors.ts';
import { loadConfig, resolveSecret } from '../../src/config.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { createSidekick } from '../../src/sidekick.ts';
import { openDatabase } from '../../src/db/database.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { call } from '../helpers/http.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { postgresBinaries, postgresMissing } from '../helpers/postgres.ts';
import { createTestSidekick, LogCapture, testConfig, type TestSidekick } from '../helpers/sidekick.ts';
import { parseUnit, unitValue } from './deploy-parsers.ts';
import { codeBlocks, readRepoFile, REPO } from './guide-helpers.ts';

/**
 * The operator guides (docs/*.md, except the benchmark) against the code they describe: every command
 * and flag they show exists, every variable they name is read, every link leads somewhere, and what
 * they say about logs, newer schemas and PostgreSQL dumps is what happens.
 */

const GUIDES = ['deployment', 'backups', 'upgrading', 'several-nodes', 'verifying-tokens', 'logs'].map((name) => `docs/${name}.md`);
const DEPLOY_FILES = ['deploy/sidekick.service', 'deploy/sidekick-backup.service', 'deploy/env.example', 'deploy/sidekick', 'deploy/nginx.conf', 'deploy/Caddyfile', 'Dockerfile'];
const text = (file: string) => readRepoFile(file);

/** Commands other work adds; a guide may show one before it lands, and it is checked once it has. */
const ANNOUNCED_COMMANDS = new Set(['db:restore']);
/** The wrapper's own knobs (deploy/sidekick), not Sidekick settings. */
const WRAPPER_VARIABLES = new Set(['SIDEKICK_USER', 'SIDEKICK_HOME', 'SIDEKICK_ENV_FILE', 'SIDEKICK_NODE']);

interface Shown {
  file: string;
  command: string;
  flags: string[];
}

/** `sidekick <command> …` and `bin/run.js <command> …` as the guides and deploy files show them, with their flags. */
function shownCommands(): Shown[] {
  const shown: Shown[] = [];
  for (const file of [...GUIDES, ...DEPLOY_FILES]) {
    for (const line of text(file).split('\n')) {
      for (const match of line.matchAll(/(?:\bsidekick|bin\/run\.js)\s+(serve|[a-z]+:[a-z-]+)\b([^|;&#`'"\n]*)/g)) {
        const command = match[1];
        shown.push({ file, command, flags: [...match[2].matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)].map((m) => m[1]) });
      }
    }
  }
  return shown;
}

async function commandFlags(command: string): Promise<Set<string> | undefined> {
  const [topic, name] = command.includes(':') ? command.split(':') : [undefined, command];
  const file = topic ? path.join(REPO, 'commands', topic, `${name}.ts`) : path.join(REPO, 'commands', `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const { default: Command } = (await import(file)) as { default: { flags?: Record<string, { allowNo?: boolean }>; baseFlags?: Record<string, unknown> } };
  const flags = new Set<string>();
  for (const [flag, definition] of Object.entries({ ...Command.baseFlags, ...Command.flags } as Record<string, { allowNo?: boolean }>)) {
    flags.add(`--${flag}`);
    if (definition?.allowNo) flags.add(`--no-${flag}`);
  }
  return flags;
}

describe('the operator guides', () => {
  it('show only commands and flags that exist', async () => {
    const shown = shownCommands();
    expect(shown.length).toBeGreaterThan(15);
    for (const { file, command, flags } of shown) {
      const known = await commandFlags(command);
      if (!known) {
        expect(ANNOUNCED_COMMANDS, `${file}: no command ${command}`).toContain(command);
        continue;
      }
      for (const flag of flags) expect(known, `${file}: ${command} has no ${flag}`).toContain(flag);
    }
  });

  it('name only variables Sidekick reads', () => {
    const config = text('src/config.ts');
    const read = new Set([...config.matchAll(/'(SIDEKICK_[A-Z_]+)'/g)].map((m) => m[1]));
    expect(read.size).toBeGreaterThan(20);
    for (const file of [...GUIDES, ...DEPLOY_FILES]) {
      for (const [name] of text(file).matchAll(/SIDEKICK_[A-Z_]*[A-Z]/g)) {
        if (WRAPPER_VARIABLES.has(name)) expect(text('deploy/sidekick'), name).toContain(`${name}:-`);
        else expect(read, `${file}: ${name}`).toContain(name);
      }
    }
  });

  it('link only to files that exist', () => {
    for (const file of GUIDES) {
      for (const [, target] of text(file).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        expect(existsSync(path.resolve(REPO, path.dirname(file), target)), `${file} → ${target}`).toBe(true);
      }
    }
  });

  it("keep the unit's no-restart exit codes those the CLI gives for a bad setting and a missing or damaged database", () => {
    const codes = unitValue(parseUnit(text('deploy/sidekick.service')), 'Service', 'RestartPreventExitStatus')!.split(/\s+/).map(Number);
    expect(codes.sort()).toEqual([EXIT.noInput, EXIT.config].sort());
    for (const code of codes) expect(text('docs/deployment.md')).toContain(`exit ${code}`);
  });
});

describe('docs/logs.md', () => {
  const guide = text('docs/logs.md');
  let t: TestSidekick;
  beforeAll(async () => {
    t = await createTestSidekick();
  });
  afterAll(async () => {
    await t?.close();
  });
  const requestLines = () => t.logs.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');

  it("lists exactly the request line's fields", async () => {
    await call(t.app, 'GET', '/healthz');
    const [line] = requestLines();
    const table = guide.slice(guide.indexOf('## The request line'), guide.indexOf('## Other lines'));
    const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    expect([...documented, 'level', 'time', 'msg'].sort()).toEqual(Object.keys(line).sort());
  });

  it('logs route patterns, and the id rules it states for X-Request-Id', async () => {
    t.logs.lines.length = 0;
    const kept = await call(t.app, 'GET', '/api/users/reset/MQ/not-a-token/', { headers: { 'x-request-id': 'abc-1' } });
    const replaced = await call(t.app, 'GET', '/no/such/path?secret=1', { headers: { 'x-request-id': 'bad id!' } });
    const [reset, unknown] = requestLines();
    expect(reset.route).toBe('/api/users/reset/:uidb64/:token');
    expect(unknown.route).toBe('');
    expect(guide).toContain('`/api/users/reset/:uidb64/:token`, and `""` for a path no route knows');
    expect([reset.reqId, kept.headers.get('x-request-id')]).toEqual(['abc-1', 'abc-1']);
    expect(unknown.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(replaced.headers.get('x-request-id')).toBe(unknown.reqId);
    expect(`x${'a'.repeat(63)}`).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    const long = await call(t.app, 'GET', '/healthz', { headers: { 'x-request-id': 'a'.repeat(65) } });
    expect(long.headers.get('x-request-id')).not.toBe('a'.repeat(65));
  });

  it('keeps bodies, query strings, paths and credentials out of the log', async () => {
    t.logs.lines.length = 0;
    const { token } = await kitchenSignUp(t, 'ada@example.com');
    await call(t.app, 'POST', '/api/users/login/', { body: { email: 'ada@example.com', password: STRONG_PASSWORD } });
    await call(t.app, 'GET', '/users/me/?q=sekrit-query', { token });
    await call(t.app, 'GET', '/api/users/reset/MQ/sekrit-path-token/');
    const log = t.logs.text;
    expect(log).toContain('"route":"/users/me"');
    for (const secret of [STRONG_PASSWORD, token, 'sekrit-query', 'sekrit-path-token', 'ada@example.com']) expect(log).not.toContain(secret);
  });

  it('names the redacted fields the logger redacts', () => {
    const logger = text('src/logger.ts');
    const paths = JSON.parse(`[${/paths: \[([^\]]*)\]/.exec(logger)![1].replaceAll("'", '"')}]`) as string[];
    for (const field of paths.filter((p) => !p.includes('.'))) expect(guide).toContain(`\`${field}\``);
    expect(guide).toContain('`req.headers.authorization`');
    const sink = new LogCapture();
    createLogger('info', sink).info({ password: 'p', user: { token: 't' } }, 'x');
    expect(JSON.parse(sink.lines[0])).toMatchObject({ password: '[redacted]', user: { token: '[redacted]' } });
  });
});

describe('docs/upgrading.md', () => {
  it('shows the line and the exit code of a database newer than the code', { timeout: 120_000 }, async () => {
    await ensureBuilt();
    const guide = text('docs/upgrading.md');
    const shown = /```\n(the database schema is version \d+ but this Sidekick knows only up to \d+: upgrade Sidekick)\n```/.exec(guide);
    expect(shown, 'the guide shows the line').not.toBeNull();
    expect(guide).toContain('exit 78');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-newer-'));
    try {
      const env = { PATH: process.env.PATH, SIDEKICK_DATA_DIR: dataDir };
      const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO, 'bin/run.js'), ...args], { env, encoding: 'utf8' });
      expect(cli('db:migrate').status).toBe(0);
      const db = await openDatabase(path.join(dataDir, 'sidekick.db'));
      await db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-from-the-future.sql', 0)");
      await db.close();
      for (const args of [['serve', '--port', '0'], ['users:list']]) {
        const refused = cli(...args);
        expect(refused.status, args.join(' ')).toBe(78);
        expect(refused.stderr).toMatch(new RegExp(shown![1].replace(/\d+/g, '\\d+')));
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('docs/backups.md on SQLite', () => {
  it('backs up privately and restores the past: later accounts gone, later revocations undone, the old database kept', { timeout: 180_000 }, async () => {
    await ensureBuilt();
    const guide = text('docs/backups.md');
    expect(guide).toContain('A token revoked after the backup works again until it expires');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-restore-guide-'));
    const env = { PATH: process.env.PATH, SIDEKICK_DATA_DIR: dataDir, SIDEKICK_BCRYPT_COST: '4' };
    const cli = (input: string | undefined, ...args: string[]) => {
      const ran = spawnSync(process.execPath, [path.join(REPO, 'bin/run.js'), ...args], { env, encoding: 'utf8', input });
      return { ...ran, json: () => JSON.parse(ran.stdout) };
    };
    try {
      expect(cli(undefined, 'db:migrate').status).toBe(0);
      expect(cli(STRONG_PASSWORD, 'users:create', '--email', 'ada@example.com', '--password-stdin').status).toBe(0);
      const issued = cli(undefined, 'token:issue', 'ada@example.com', '--kind', 'token', '--json');
      expect(issued.status, issued.stderr).toBe(0);
      const { token } = issued.json();

      const backup = path.join(dataDir, 'backups', 'sidekick.db');
      const made = cli(undefined, 'db:backup', backup);
      expect(made.status, made.stderr).toBe(0);
      expect(statSync(backup).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(backup)).mode & 0o777).toBe(0o700);
      expect(cli(undefined, 'db:backup', backup).status, 'an existing file is refused').not.toBe(0);

      expect(cli(undefined, 'token:revoke', '--user', 'ada@example.com').status).toBe(0);
      expect(cli(STRONG_PASSWORD, 'users:create', '--email', 'later@example.com', '--password-stdin').status).toBe(0);
      const restored = cli(undefined, 'db:restore', backup);
      expect(restored.status, restored.stderr).toBe(0);

      expect(cli(undefined, 'users:show', 'later@example.com').status).toBe(3);
      expect(readdirSync(dataDir).some((name) => name.startsWith('sidekick.db.before-restore-'))).toBe(true);
      const after = await createSidekick(testConfig(dataDir, { SIDEKICK_SECRET: generatedSecret(dataDir) }), { logger: createLogger('silent') });
      try {
        expect((await call(createHttpApp(after), 'GET', '/users/me/', { token })).status).toBe(200);
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** The secret the CLI generated into a data folder, as the server would read it. */
function generatedSecret(dataDir: string): string {
  return resolveSecret(loadConfig({ SIDEKICK_DATA_DIR: dataDir })).secret;
}

const pgBin = postgresBinaries();
const pgSkip = postgresMissing() ?? (pgBin && existsSync(path.join(pgBin, 'pg_dump')) ? undefined : 'no pg_dump');

describe('docs/backups.md on PostgreSQL', () => {
  it.skipIf(pgSkip !== undefined)(
    `its pg_dump and pg_restore commands give back the database as it was${pgSkip ? ` (skipped: ${pgSkip})` : ''}`,
    { timeout: 120_000 },
    async () => {
      const guide = text('docs/backups.md');
      const placeholder = 'postgres://sidekick:…@db.internal:5432/sidekick';
      const blocks = codeBlocks(guide).filter((block) => block.section.startsWith('PostgreSQL'));
      const [dump] = blocks.filter((block) => block.code.includes('pg_dump')).map((block) => block.code);
      const restore = blocks.filter((block) => block.code.includes('pg_restore'));
      expect(dump).toContain(placeholder);
      expect(restore).toHaveLength(1);

      const before = await createTestSidekick({}, { engine: 'postgres' });
      const url = before.config.databaseUrl!;
      const work = mkdtempSync(path.join(tmpdir(), 'sidekick-pgdump-'));
      const shell = (script: string) =>
        spawnSync('bash', ['-euo', 'pipefail', '-c', script.replaceAll(placeholder, url)], {
          cwd: work,
          encoding: 'utf8',
          env: { ...process.env, PATH: `${pgBin}:${process.env.PATH}` },
        });
      try {
        await kitchenSignUp(before, 'kept@example.com');
        const dumped = shell(dump);
        expect(dumped.status, dumped.stderr).toBe(0);
        const [file] = readdirSync(work);
        expect(file).toMatch(/^sidekick-\d{4}-\d{2}-\d{2}\.dump$/);
        expect(statSync(path.join(work, file)).mode & 0o777).toBe(0o600);
        await kitchenSignUp(before, 'after-the-dump@example.com');
        await before.sidekick.close();

        const restoreName = /(sidekick-\d{4}-\d{2}-\d{2}\.dump)/.exec(restore[0].code)![1];
        renameSync(path.join(work, file), path.join(work, restoreName));
        const restored = shell(restore[0].code);
        expect(restored.status, restored.stderr).toBe(0);

        const after = await createSidekick(testConfig(before.dataDir, { SIDEKICK_DATABASE_URL: url }), { logger: createLogger('silent') });
        try {
          const app = createHttpApp(after);
          const kept = await call(app, 'POST', '/token/', { body: { email: 'kept@example.com', password: STRONG_PASSWORD } });
          expect(kept.status).toBe(200);
          const gone = await call(app, 'POST', '/token/', { body: { email: 'after-the-dump@example.com', password: STRONG_PASSWORD } });
          expect(gone.status).toBe(400);
        } finally {
          await after.close();
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
        rmSync(before.dataDir, { recursive: true, force: true });
      }
    },
  );
});
