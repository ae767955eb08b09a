import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../cli/helpers/build.ts';

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then the exit. */
  stop(): Promise<void>;
}

/**
 * `sidekick serve` from dist/ as its own process (call ensureBuilt first), with only the given SIDEKICK_*
 * settings: a server whose event loop is not the test's, as clients on another machine see it.
 */
export async function startServeProcess(env: Record<string, string>): Promise<ServeProcess> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SIDEKICK_')) clean[key] = value;
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'serve'], {
    cwd: ROOT,
    env: { ...clean, SIDEKICK_PORT: '0', SIDEKICK_LOG_LEVEL: 'warn', ...env },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stderr}`)), 20_000);
    child.stdout!.on('data', () => {
      const match = /Sidekick listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => reject(new Error(`serve exited:\n${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
