import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The same Sidekick as a real subprocess on either runtime: Node runs the compiled `bin/run.js` (so
 * `npm run build` first), Deno runs the TypeScript sources through `bin/deno.ts` with the `deno` binary
 * that the `deno` devDependency installed.
 */
export type Runtime = 'node' | 'deno';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `SIDEKICK_CONTRACT_RUNTIME`: `node` (default, what `npm test` runs), `deno`, or `both`. */
export function selectedRuntimes(): Runtime[] {
  const wanted = (process.env.SIDEKICK_CONTRACT_RUNTIME ?? 'node').toLowerCase();
  if (wanted === 'both') return ['node', 'deno'];
  if (wanted === 'node' || wanted === 'deno') return [wanted];
  throw new Error(`SIDEKICK_CONTRACT_RUNTIME must be node, deno or both, not "${wanted}"`);
}

let denoPath: string | undefined;
function denoExecutable(): string {
  // The npm package's own resolver: the binary ships in a platform package (@deno/linux-x64-glibc, …).
  // Spawning it directly (not through `npx deno`) lets a signal reach the server itself.
  denoPath ??= (createRequire(import.meta.url)('deno/install_api.cjs') as { runInstall(): string }).runInstall();
  return denoPath;
}

export function commandLine(runtime: Runtime, args: string[]): { file: string; argv: string[] } {
  if (runtime === 'node') {
    if (!existsSync(new URL('../../dist/commands/serve.js', import.meta.url))) {
      throw new Error('dist/ is missing: run `npm run build` before the Node contract suite');
    }
    return { file: process.execPath, argv: ['bin/run.js', ...args] };
  }
  return { file: denoExecutable(), argv: ['run', '--allow-all', 'bin/deno.ts', ...args] };
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SIDEKICK_') && !name.startsWith('VITEST') && name !== 'NODE_ENV'),
  );
  return { ...inherited, NO_COLOR: '1', SIDEKICK_LOG_LEVEL: 'warn', ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(runtime: Runtime, args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const { file, argv } = commandLine(runtime, args);
  const child = spawn(file, argv, { cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

/** Starts `serve` on an OS-assigned port and resolves once it prints the address it listens on. */
export function startServerProcess(runtime: Runtime, env: Record<string, string>, timeoutMs = 30_000): Promise<ServerProcess> {
  const { file, argv } = commandLine(runtime, ['serve']);
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: childEnv({ SIDEKICK_HOST: '127.0.0.1', SIDEKICK_PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${runtime} server did not start within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} server exited with ${code} before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({
        url: match[1],
        child,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}
