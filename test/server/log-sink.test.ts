import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRequestLog } from '../../src/logger.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { LogCapture } from '../helpers/sidekick.ts';

const LOGGER = fileURLToPath(new URL('../../dist/src/logger.js', import.meta.url));

/**
 * Runs `writers` processes at once, each logging `lines` lines through the server's own stderr sink
 * (createLogger with an fd) into one shared pipe, then exiting in the turn of its last line. Returns
 * what came out of the pipe.
 */
function logThroughSharedPipe(writers: number, lines: number): Promise<string> {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOGGER)});
    const logger = createLogger('info', 2);
    const filler = 'x'.repeat(120);
    for (let turn = 0; turn < ${lines} / 500; turn++) {
      for (let i = 0; i < 500; i++) logger.info({ writer: process.pid, n: turn * 500 + i, filler }, 'line');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    logger.info({ writer: process.pid, n: ${lines} }, 'last');
    process.exit(0);
  `;
  const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-log-'));
  const file = path.join(dir, 'writer.mjs');
  writeFileSync(file, script);
  return new Promise<string>((resolve, reject) => {
    // One pipe for every writer: a shell whose children inherit its stderr.
    const children = Array.from({ length: writers }, () => `"${process.execPath}" "${file}" &`).join(' ');
    const shell = spawn('bash', ['-c', `${children} wait`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    shell.stderr.setEncoding('utf8');
    // A slow reader, so the pipe fills and writers block mid-batch.
    shell.stderr.on('data', (chunk: string) => {
      out += chunk;
      shell.stderr.pause();
      setTimeout(() => shell.stderr.resume(), 1);
    });
    shell.once('error', reject);
    shell.once('close', () => resolve(out));
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('log lines', () => {
  beforeAll(ensureBuilt, 120_000);

  it('writes the request line exactly as pino would write the same fields', () => {
    const ours = new LogCapture();
    const theirs = new LogCapture();
    const fields = { reqId: 'req-1.A_b', method: 'GET', route: '/api/users/reset/:uidb64/:token', status: 200, client: '2001:db8::1', ms: 0.7 };
    createRequestLog(createLogger('info', ours))(fields);
    pino({ base: undefined }, theirs).info(fields, 'request');
    const strip = (line: string) => line.replace(/"time":\d+/, '"time":0');
    expect(ours.lines).toHaveLength(1);
    expect(strip(ours.lines[0])).toBe(strip(theirs.lines[0]));
    // Escaped where a value could need it, and silent above info.
    createRequestLog(createLogger('info', ours))({ ...fields, method: 'G"ET', client: 'a\nb' });
    expect(JSON.parse(ours.lines[1])).toMatchObject({ method: 'G"ET', client: 'a\nb' });
    createRequestLog(createLogger('warn', ours))(fields);
    expect(ours.lines).toHaveLength(2);
  });

  it('writes lines longer than a batch, and lines of characters of several bytes, whole and in order', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidekick-log-'));
    const file = path.join(dir, 'log');
    const fd = openSync(file, 'w');
    try {
      const logger = createLogger('info', fd);
      // Around the 4 KiB batch: ASCII that fits, one longer than a batch, and text whose UTF-8 is two to
      // four times its length (so it looks as if it fits, and does not).
      const messages = ['a'.repeat(100), 'b'.repeat(5000), 'é'.repeat(3000), 'c'.repeat(3900), '€'.repeat(1500), '😀'.repeat(1100), 'd'];
      for (const message of messages) logger.info(message);
      logger.flush();
      const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(messages);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every line whole and in order when several processes share one stderr pipe, and writes the last line before exit', async () => {
    const writers = 3;
    const lines = 20_000;
    const out = await logThroughSharedPipe(writers, lines);
    const entries = out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        try {
          return JSON.parse(line) as { writer: number; n: number };
        } catch {
          throw new Error(`a torn line: ${line.slice(0, 80)}…`);
        }
      });
    expect(entries).toHaveLength(writers * (lines + 1));
    const byWriter = new Map<number, number[]>();
    for (const entry of entries) {
      if (!byWriter.has(entry.writer)) byWriter.set(entry.writer, []);
      byWriter.get(entry.writer)!.push(entry.n);
    }
    expect(byWriter.size).toBe(writers);
    for (const own of byWriter.values()) expect(own).toEqual(Array.from({ length: lines + 1 }, (_, i) => i));
  }, 60_000);
});
