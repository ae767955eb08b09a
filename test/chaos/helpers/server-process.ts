import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_SECRET } from '../../helpers/sidekick.ts';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const BIN = path.join(ROOT, 'bin/run.js');

export function tempDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'sidekick-chaos-'));
}

/** The environment every chaos subprocess gets: its own data folder, a fixed secret, cheap bcrypt. */
export function serverEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SIDEKICK_')) delete env[key];
  return {
    ...env,
    SIDEKICK_DATA_DIR: dataDir,
    SIDEKICK_SECRET: TEST_SECRET,
    SIDEKICK_BCRYPT_COST: '4',
    SIDEKICK_PORT: '0',
    SIDEKICK_HOST: '127.0.0.1',
    SIDEKICK_PUBLIC_URL: 'http://sidekick.test',
    // The tests stand in for a proxy in front of many clients (see request()).
    SIDEKICK_TRUSTED_PROXIES: '127.0.0.1',
    ...extra,
  };
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON log lines), kept for assertions. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
}

/** Starts `sidekick serve` as a real subprocess and resolves once it prints the URL it listens on. */
export function startServerProcess(env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], child, stderr: () => err, stdout: () => out, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening; stderr: ${err}`));
    });
  });
}

export async function killHard(server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

/** Runs a CLI command as a subprocess and collects its output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

export interface HttpResult {
  status: number;
  body: any;
  headers: Headers;
  ms: number;
}

let clients = 0;
/**
 * A new client address for every request, forwarded as a proxy would: the load here is many users, and
 * the per-address limits it would hit from one address are tested on their own (test/security).
 */
const nextClient = () => {
  clients++;
  return `10.${(clients >> 16) & 255}.${(clients >> 8) & 255}.${clients & 255}`;
};

/** One JSON request to a real listening server. Network failures reject (the caller decides what they mean). */
export async function request(
  base: string,
  method: string,
  pathname: string,
  options: { body?: unknown; bearer?: string; token?: string; signal?: AbortSignal } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { 'x-forwarded-for': nextClient() };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.token) headers.authorization = `Token ${options.token}`;
  const started = performance.now();
  const response = await fetch(base + pathname, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  const text = await response.text();
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: response.status, body, headers: response.headers, ms: performance.now() - started };
}
