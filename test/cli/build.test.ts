import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/build.ts';

describe('npm run build', () => {
  let out: string | undefined;
  afterEach(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  const build = () => execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--out-dir', out!], { cwd: ROOT, stdio: 'pipe' });

  it('removes what no source makes any more: a deleted command or migration does not live on in the build', () => {
    out = mkdtempSync(path.join(tmpdir(), 'sidekick-build-'));
    build();
    expect(existsSync(path.join(out, 'commands', 'serve.js'))).toBe(true);
    const migrations = readdirSync(path.join(out, 'src', 'db', 'migrations'));
    expect(migrations).toEqual(readdirSync(path.join(ROOT, 'src', 'db', 'migrations')));

    // What an older build left: a command and a migration since deleted from the sources.
    mkdirSync(path.join(out, 'commands', 'gone'));
    writeFileSync(path.join(out, 'commands', 'gone', 'ghost.js'), 'export default class Ghost {}\n');
    writeFileSync(path.join(out, 'src', 'db', 'migrations', '999-ghost.sql'), 'DROP TABLE users;\n');
    writeFileSync(path.join(out, '.stamp'), 'kept\n');
    build();
    expect(existsSync(path.join(out, 'commands', 'gone'))).toBe(false);
    expect(readdirSync(path.join(out, 'src', 'db', 'migrations'))).toEqual(migrations);
    expect(existsSync(path.join(out, 'commands', 'serve.js'))).toBe(true);
    // Hidden files are stamps, never code: they stay.
    expect(existsSync(path.join(out, '.stamp'))).toBe(true);
  }, 120_000);
});
