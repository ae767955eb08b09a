import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const STAMP = path.join(ROOT, 'dist', '.cli-tests-built');
const LOCK = path.join(tmpdir(), `sidekick-cli-build-${Buffer.from(ROOT).toString('hex').slice(-16)}.lock`);

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (/\.(ts|sql)$/.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const fresh = () =>
  existsSync(STAMP) &&
  statSync(STAMP).mtimeMs >
    Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'commands')), statSync(path.join(ROOT, 'package.json')).mtimeMs);

/**
 * Builds dist/ once for all CLI test files (they run in parallel workers): a lock folder serialises
 * the builds and a stamp newer than every source file skips them.
 */
export async function ensureBuilt(): Promise<void> {
  for (;;) {
    if (fresh()) return;
    try {
      mkdirSync(LOCK);
    } catch {
      // Another worker is building; a lock left by a crashed run is broken after two minutes.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      if (!fresh()) {
        const started = Date.now();
        execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
        writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
      }
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
