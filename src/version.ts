import { readFileSync } from 'node:fs';

let version: string | undefined;

/**
 * This Sidekick's version, from its package.json: one folder up from the sources (`src/`, as Deno runs
 * them), two from the build (`dist/src/`). Read once, at first use.
 */
export function sidekickVersion(): string {
  version ??= readVersion();
  return version;
}

function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'sidekick' && manifest.version) return manifest.version;
    } catch {
      // Not there: try the next folder up.
    }
  }
  return 'unknown';
}
