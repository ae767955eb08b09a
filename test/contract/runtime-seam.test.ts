import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeDatabase } from './fixtures/driver-probe.ts';
import { ROOT, runCli, selectedRuntimes } from './runtimes.ts';

const denoSelected = selectedRuntimes().includes('deno');

const denoExecutable = () => (createRequire(import.meta.url)('deno/install_api.cjs') as { runInstall(): string }).runInstall();

function denoRun(script: string): string {
  const result = spawnSync(denoExecutable(), ['run', '--allow-all', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (result.status !== 0) throw new Error(`deno run ${script} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

describe('the SQLite seam', () => {
  it('uses better-sqlite3 on Node', async () => {
    expect((await probeDatabase()).driver).toBe('better-sqlite3');
  });

  it.skipIf(!denoSelected)('uses node:sqlite on Deno and answers every call exactly as better-sqlite3 does', async () => {
    const onNode = await probeDatabase();
    const onDeno = JSON.parse(denoRun('test/contract/fixtures/driver-probe-main.ts')) as Record<string, unknown>;
    expect(onDeno.driver).toBe('node:sqlite');
    expect({ ...onDeno, driver: 'same' }).toEqual({ ...onNode, driver: 'same' });
  });
});

describe('one source tree for both runtimes', () => {
  const sources = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir)).flatMap((name) => {
      const file = path.join(dir, name);
      if (statSync(path.join(ROOT, file)).isDirectory()) return sources(file);
      return file.endsWith('.ts') ? [file] : [];
    });

  it('names no runtime global in src/ or commands/ (only bin/ entry points may)', () => {
    const offenders = [...sources('src'), ...sources('commands')].filter((file) =>
      /\b(Deno|Bun)\s*\./.test(readFileSync(path.join(ROOT, file), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('imports the SQLite drivers only from src/db/sqlite-driver.ts', () => {
    const offenders = [...sources('src'), ...sources('commands')].filter(
      (file) =>
        file !== path.join('src', 'db', 'sqlite-driver.ts') &&
        /['"](better-sqlite3|node:sqlite)['"]/.test(readFileSync(path.join(ROOT, file), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it.skipIf(!denoSelected)('runs an operator command from the TypeScript sources on Deno', async () => {
    const result = await runCli('deno', ['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/serve\s+Run the HTTP server/);
    expect(result.stdout).toMatch(/users\s/);
  });

  it.skipIf(!denoSelected)('runs the documented `deno task sidekick` command', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-task-'));
    try {
      expect((await runCli('deno', ['db:migrate'], { SIDEKICK_DATA_DIR: dataDir })).code).toBe(0);
      const deno = denoExecutable();
      const result = spawnSync(deno, ['task', 'sidekick', 'users:list', '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', SIDEKICK_DATA_DIR: dataDir },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ users: [], total: 0 });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
