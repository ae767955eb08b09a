import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, resolveSecret } from '../../../src/config.ts';
import { createLogger } from '../../../src/logger.ts';
import type { Clock } from '../../../src/services/clock.ts';
import { createSidekick, type Sidekick } from '../../../src/sidekick.ts';
import { MemoryTransport, TEST_SECRET } from '../../helpers/sidekick.ts';
import { ROOT } from './build.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document. */
  json<T = any>(): T;
}

export interface RunOptions {
  /** Written to the child's standard input, which is then closed (never a terminal). */
  input?: string;
  env?: Record<string, string | undefined>;
}

const BIN = path.join(ROOT, 'bin', 'run.js');

/** `node bin/run.js …` as a real subprocess, stdin a closed pipe unless `input` is given. */
export function runCli(args: string[], env: Record<string, string | undefined>, options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`stdout is not one JSON document (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

export interface PtyStep {
  /** Waits until the screen shows this… */
  expect: RegExp;
  /** …then types this (use \r for Enter). */
  send: string;
}

/**
 * Runs the CLI under a pseudo terminal (util-linux `script`), answering prompts as they appear.
 * Resolves with the exit code and everything the terminal showed.
 */
export function runInTerminal(args: string[], env: Record<string, string | undefined>, steps: PtyStep[], timeoutMs = 15_000) {
  const quoted = [process.execPath, BIN, ...args].map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise<{ code: number | null; screen: string }>((resolve, reject) => {
    const child = spawn('script', ['-qefc', quoted, '/dev/null'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pending = [...steps];
    let screen = '';
    let sinceLastStep = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`terminal session timed out waiting for ${pending[0]?.expect}; screen:\n${screen}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
      sinceLastStep += chunk.toString('utf8');
      while (pending.length > 0 && pending[0].expect.test(sinceLastStep)) {
        const step = pending.shift()!;
        sinceLastStep = '';
        // Typed a moment later, as a person would, once the prompt is listening.
        setTimeout(() => child.stdin.write(step.send), 30);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

/** A data folder for one test: the environment the CLI runs with, and in-process access to the same database. */
export interface CliWorkspace {
  dataDir: string;
  env: Record<string, string>;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Writes `content` to a file in the data folder; its path. */
  file(name: string, content: string): string;
  /** A Sidekick on the same database file (system clock unless given, mail kept in `transport`). */
  open(options?: { transport?: MemoryTransport; clock?: Clock }): Promise<Sidekick>;
  close(): Promise<void>;
}

export async function createCliWorkspace(options: { migrate?: boolean } = {}): Promise<CliWorkspace> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-cli-'));
  const env = {
    SIDEKICK_DATA_DIR: dataDir,
    SIDEKICK_SECRET: TEST_SECRET,
    SIDEKICK_BCRYPT_COST: '4',
  };
  const opened: Sidekick[] = [];
  const open = async ({ transport = new MemoryTransport(), clock }: { transport?: MemoryTransport; clock?: Clock } = {}) => {
    const sidekick = await createSidekick(resolveSecret(loadConfig(env)), { logger: createLogger('silent'), transport, clock });
    opened.push(sidekick);
    return sidekick;
  };
  // Creating a Sidekick migrates the file, as `db:migrate` would, without a subprocess.
  if (options.migrate !== false) await (await open()).close();
  return {
    dataDir,
    env,
    run: (args, runOptions) => runCli(args, env, runOptions),
    file(name, content) {
      const target = path.join(dataDir, name);
      writeFileSync(target, content);
      return target;
    },
    open,
    async close() {
      await Promise.all(opened.map((sidekick) => sidekick.close()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The contract's failure shape: a non-zero exit, nothing on stdout, one line on stderr, no stack trace. */
export function failure(result: CliResult) {
  const lines = result.stderr.split('\n').filter(Boolean);
  return { code: result.code, stdout: result.stdout, lines, line: lines[0] ?? '' };
}
