// `npm run build [-- --out-dir DIR]`: compiles into dist/ (or DIR) in place, copies the SQL migrations,
// then removes every file there that this build did not write. A deleted command or migration must not
// keep loading from an older build, and dist/ is never wiped first: a CLI or server running meanwhile
// keeps its files.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outFlag = process.argv.indexOf('--out-dir');
const dist = outFlag === -1 ? path.join(root, 'dist') : path.resolve(process.argv[outFlag + 1]);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--outDir', dist, '--listEmittedFiles'], {
  cwd: root,
  encoding: 'utf8',
});
const written = new Set(
  compiled.stdout
    .split('\n')
    .filter((line) => line.startsWith('TSFILE: '))
    .map((line) => path.resolve(line.slice('TSFILE: '.length).trim())),
);
if (compiled.status !== 0) {
  process.stdout.write(compiled.stdout.split('\n').filter((line) => !line.startsWith('TSFILE: ')).join('\n'));
  process.stderr.write(compiled.stderr);
  process.exit(compiled.status ?? 1);
}

const migrationsFrom = path.join(root, 'src/db/migrations');
const migrationsTo = path.join(dist, 'src/db/migrations');
cpSync(migrationsFrom, migrationsTo, { recursive: true });
for (const name of readdirSync(migrationsFrom, { recursive: true })) written.add(path.join(migrationsTo, String(name)));

/**
 * Removes files under `dir` that this build did not write, and folders left empty; true if `dir` is
 * empty. Hidden files stay: they are stamps (the CLI tests' "built at"), never code.
 */
function prune(dir) {
  let empty = true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.name.startsWith('.')) {
      empty = false;
    } else if (entry.isDirectory()) {
      if (prune(file)) rmdirSync(file);
      else empty = false;
    } else if (!written.has(file)) {
      rmSync(file, { force: true });
    } else {
      empty = false;
    }
  }
  return empty;
}
prune(dist);
