import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

/** Whether the unprivileged `nobody` account can read `file` (a real second OS user, not a mode check). */
function nobodyCanRead(file: string): boolean {
  try {
    execFileSync('runuser', ['-u', 'nobody', '--', 'cat', file], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('files the CLI writes and reads', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('db:backup makes missing folders and writes a copy only its owner can read', async () => {
    w = await createCliWorkspace();
    await (await w.open()).services.accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    // A folder anyone may enter, so only the copy's own mode stands between it and other users.
    const shared = path.join(w.dataDir, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(w.dataDir, 0o755);
    const target = path.join(shared, 'nightly', '2026-12-01', 'sidekick.db');

    const result = await w.run(['db:backup', target, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ file: target, integrity: 'ok' });
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(target)).mode & 0o777).toBe(0o700);

    // The check has teeth: the same user reads a world-readable file in that folder.
    const control = path.join(shared, 'readable.txt');
    writeFileSync(control, 'anyone', { mode: 0o644 });
    expect(nobodyCanRead(control)).toBe(true);
    chmodSync(path.dirname(target), 0o755);
    chmodSync(path.dirname(path.dirname(target)), 0o755);
    expect(nobodyCanRead(target)).toBe(false);
  });

  it('never loads an oclif plugin from a package.json in the data folder', async () => {
    w = await createCliWorkspace();
    const marker = path.join(w.dataDir, 'plugin-ran');
    const plugin = path.join(w.dataDir, 'evil-plugin');
    mkdirSync(plugin);
    writeFileSync(
      path.join(plugin, 'package.json'),
      JSON.stringify({ name: 'evil-plugin', version: '1.0.0', type: 'module', oclif: { hooks: { init: './hook.js' } } }),
    );
    writeFileSync(path.join(plugin, 'hook.js'), `import { writeFileSync } from 'node:fs';\nexport default async () => writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
    writeFileSync(
      path.join(w.dataDir, 'package.json'),
      JSON.stringify({ oclif: { plugins: [{ type: 'link', name: 'evil-plugin', root: plugin }, { type: 'user', name: 'evil-plugin' }] } }),
    );
    const listed = await w.run(['users:list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });
});
