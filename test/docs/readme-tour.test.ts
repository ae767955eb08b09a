import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli/helpers/build.ts';
import { freePort } from '../helpers/net.ts';

/**
 * README.md's "First ten minutes" tour, run as a newcomer runs it: pasted in order into one shell, next
 * to the server `npm start` runs.
 *
 * How the README marks the tour: every step is a ```sh block on the line after `<!-- tour -->` (an HTML
 * comment, invisible on GitHub). The plain ``` block right after it (blank lines allowed in between) is
 * the answer the README shows for that step. In a shown answer `…` stands for what differs on every run:
 * on a line of its own, any number of lines (response headers); inside a line, any text on that line (a
 * token's tail). Everything else must match character for character. A step without an answer block is
 * run but its output is not compared (the registration code is random; the next step proves it right).
 *
 * The server is the built CLI started as `npm start` starts it (`node --max-semi-space-size=2 bin/run.js
 * serve`), with a fresh temporary folder as its working directory and the tour's, so `data/outbox/`
 * resolves as in the README. It listens on a free port rather than 8000 (another server may hold 8000):
 * `localhost:8000` in the extracted commands and answers is replaced by `localhost:<port>`, and nothing
 * else in them is touched. SIDEKICK_BCRYPT_COST=4 keeps the logins quick. All steps run in ONE bash
 * process under `set -euo pipefail`, so variables carry from step to step; a marker line printed before
 * each step splits the output back into steps.
 */

const README = path.join(ROOT, 'README.md');
const RUN = path.join(ROOT, 'bin', 'run.js');
const README_ORIGIN = 'localhost:8000';
const MARKER = /\n@@ tour step (\d+) @@\n/;

interface TourStep {
  /** 1-based, in README order. */
  index: number;
  command: string;
  /** The answer the README shows, or undefined when it shows none. */
  shown: string | undefined;
}

/** The tour's steps, exactly as README.md has them. */
function tourSteps(markdown: string): TourStep[] {
  const pattern = /^<!-- tour -->\n```sh\n([\s\S]*?)\n```\n(?:\n*```\n([\s\S]*?)\n```$)?/gm;
  return [...markdown.replace(/\r\n/g, '\n').matchAll(pattern)].map((match, i) => ({
    index: i + 1,
    command: match[1],
    shown: match[2],
  }));
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A shown answer as a pattern: `…` alone on a line is any lines, `…` within a line any text of that line. */
function answerPattern(shown: string): RegExp {
  const lines = shown.split('\n');
  let source = '';
  lines.forEach((line, i) => {
    const last = i === lines.length - 1;
    if (line === '…') source += last ? '[\\s\\S]*' : '(?:[^\\n]*\\n)*?';
    else source += line.split('…').map(escapeRegExp).join('[^\\n]*?') + (last ? '' : '\\n');
  });
  return new RegExp(`^${source}$`);
}

/** The parent's environment without SIDEKICK_* and DEBUG, so the test decides every setting. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SIDEKICK_') && key !== 'DEBUG') env[key] = value;
  return { ...env, ...extra };
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string; exit: Promise<Finished> } {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<Finished>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { stdout: () => stdout, stderr: () => stderr, exit };
}

describe("README's first ten minutes", () => {
  const steps = tourSteps(readFileSync(README, 'utf8'));
  let folder: string;
  let work: string;
  let port: number;
  let server: ChildProcess | undefined;
  let serverExit: Promise<Finished> | undefined;
  let serverStderr = () => '';

  beforeAll(async () => {
    await ensureBuilt();
    folder = mkdtempSync(path.join(tmpdir(), 'sidekick-readme-tour-'));
    work = path.join(folder, 'sidekick');
    mkdirSync(work);
    port = await freePort();
    server = spawn(process.execPath, ['--max-semi-space-size=2', RUN, 'serve', '--port', String(port)], {
      cwd: work,
      env: cleanEnv({ SIDEKICK_BCRYPT_COST: '4' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collect(server);
    serverExit = output.exit;
    serverStderr = output.stderr;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output.stderr()}`)), 20_000);
      const check = () => {
        if (output.stdout().includes('Sidekick listening on')) {
          clearTimeout(timer);
          server!.stdout!.off('data', check);
          resolve();
        }
      };
      server!.stdout!.on('data', check);
      void output.exit.then((finished) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${finished.code ?? finished.signal}) before listening:\n${finished.stderr}`));
      });
      check();
    });
  }, 180_000);

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await serverExit;
    }
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('marks every step of its tour, for both APIs', () => {
    expect(steps.length).toBeGreaterThanOrEqual(18);
    const all = steps.map((step) => step.command).join('\n');
    for (const route of ['/api/users/register/', '/api/users/login/', '/api/users/profile/', '/api/token/refresh/', '/api/users/reset-password/', '/users/', '/token/', '/users/me/', '/logout/']) {
      expect(all).toContain(`${README_ORIGIN}${route}`);
    }
    for (const step of steps) expect(step.command.trim(), `step ${step.index} is empty`).not.toBe('');
    // Every step that calls the server shows its answer, but for the one that only reads the outbox.
    expect(steps.filter((step) => step.shown === undefined).length).toBeLessThanOrEqual(1);
  });

  it('answers every step as the README shows, run in order in one bash', async () => {
    const origin = `localhost:${port}`;
    const here = (text: string) => text.replaceAll(README_ORIGIN, origin);
    const script = [
      'set -euo pipefail',
      ...steps.flatMap((step) => [`printf '\\n@@ tour step %d @@\\n' ${step.index}`, here(step.command)]),
      `printf '\\n@@ tour step %d @@\\n' ${steps.length + 1}`,
    ].join('\n');
    const file = path.join(folder, 'tour.sh');
    writeFileSync(file, `${script}\n`);

    const bash = spawn('bash', [file], { cwd: work, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => bash.kill('SIGKILL'), 90_000);
    const run = await collect(bash).exit;
    clearTimeout(timer);

    const parts = `\n${run.stdout}`.split(MARKER);
    // split() with a capture group: [before, index, output, index, output, …].
    const outputs = new Map<number, string>();
    for (let i = 1; i + 1 < parts.length; i += 2) outputs.set(Number(parts[i]), parts[i + 1]);
    const started = [...outputs.keys()].filter((index) => index <= steps.length);
    const last = started.length > 0 ? Math.max(...started) : 0;
    expect(
      run.code,
      `the tour stopped in step ${last} (${steps[last - 1]?.command.split('\n')[0]}):\n${run.stderr}\n--- its output:\n${outputs.get(last) ?? ''}\n--- server log:\n${serverStderr().slice(-2000)}`,
    ).toBe(0);
    expect(outputs.has(steps.length + 1), 'the tour ran to its end').toBe(true);

    const mismatches: string[] = [];
    for (const step of steps) {
      if (step.shown === undefined) continue;
      const actual = (outputs.get(step.index) ?? '').replace(/\r\n/g, '\n').trim();
      const shown = here(step.shown).trim();
      if (!answerPattern(shown).test(actual)) {
        mismatches.push(`step ${step.index}: ${here(step.command)}\n--- README shows:\n${shown}\n--- the server answered:\n${actual}`);
      }
    }
    expect(mismatches.join('\n\n')).toBe('');
  }, 120_000);
});

describe('the tour test reads the README as documented', () => {
  it('finds a step and its shown answer, and a step without one', () => {
    const markdown = [
      'text',
      '<!-- tour -->',
      '```sh',
      'echo one',
      '```',
      '```',
      'one',
      '```',
      '',
      '<!-- tour -->',
      '```sh',
      'X=1',
      '```',
      '',
      '```sh',
      'not a tour step',
      '```',
    ].join('\n');
    expect(tourSteps(markdown)).toEqual([
      { index: 1, command: 'echo one', shown: 'one' },
      { index: 2, command: 'X=1', shown: undefined },
    ]);
  });

  it('lets … stand for text within a line, or for whole lines on its own', () => {
    expect(answerPattern('{"access":"eyJ…","email":"a@b.c"}').test('{"access":"eyJabc.def","email":"a@b.c"}')).toBe(true);
    expect(answerPattern('{"access":"eyJ…","email":"a@b.c"}').test('{"access":"eyJabc","email":"x@b.c"}')).toBe(false);
    expect(answerPattern('HTTP/1.1 201 Created\n…\n{"a":1}').test('HTTP/1.1 201 Created\nDate: x\nX-Id: y\n\n{"a":1}')).toBe(true);
    expect(answerPattern('HTTP/1.1 201 Created\n…\n{"a":1}').test('HTTP/1.1 200 OK\nDate: x\n\n{"a":1}')).toBe(false);
    expect(answerPattern('a…b').test('a\nb')).toBe(false);
  });
});
