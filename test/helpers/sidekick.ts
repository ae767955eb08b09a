import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, resolveSecret, type Env, type ResolvedConfig } from '../../src/config.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import type { MailTransport } from '../../src/mail/transports.ts';
import type { OutgoingMail } from '../../src/services/mailer.ts';
import { createSidekick, type Sidekick, type SidekickOptions } from '../../src/sidekick.ts';
import { ManualClock } from './clock.ts';
import { freshPostgresDatabase, suiteEngine, type TestEngine } from './postgres.ts';
import { holdToDocument } from './openapi.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

/** Captures log lines so tests can assert what was (never) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

/** A transport that keeps what it is given, for tests that read the outbox through the deliverer. */
export class MemoryTransport implements MailTransport {
  readonly description = 'memory';
  readonly sent: OutgoingMail[] = [];
  failing = false;
  async send(mail: OutgoingMail): Promise<void> {
    if (this.failing) throw new Error('transport down');
    this.sent.push(mail);
  }
  close(): void {}
}

export interface TestSidekick {
  sidekick: Sidekick;
  app: ReturnType<typeof createHttpApp>;
  clock: ManualClock;
  logs: LogCapture;
  transport: MemoryTransport;
  config: ResolvedConfig;
  dataDir: string;
  /** Delivers every queued mail through the memory transport and returns what was sent since the last call. */
  deliver(): Promise<OutgoingMail[]>;
  close(): Promise<void>;
}

/** Test settings on `dataDir`: a fixed secret, bcrypt at its lowest cost (set as users would), every log line. */
export function testConfig(dataDir: string, env: Env = {}): ResolvedConfig {
  return resolveSecret(
    loadConfig({
      SIDEKICK_DATA_DIR: dataDir,
      SIDEKICK_SECRET: TEST_SECRET,
      SIDEKICK_BCRYPT_COST: '4',
      SIDEKICK_LOG_LEVEL: 'debug',
      ...env,
    }),
  );
}

/** `env` with a fresh PostgreSQL database when `engine` (by default the suite's) is PostgreSQL. */
export async function withTestDatabase(env: Env, engine: TestEngine = suiteEngine()): Promise<Env> {
  if (engine === 'sqlite' || env.SIDEKICK_DATABASE_URL !== undefined) return env;
  return { ...env, SIDEKICK_DATABASE_URL: await freshPostgresDatabase() };
}

/**
 * A fresh Sidekick on its own database (an SQLite file in a temporary folder, or a new PostgreSQL
 * database with SIDEKICK_TEST_DB=postgres or `engine`), with a manual clock, bcrypt at its lowest cost
 * (through the config, as users would set it) and mail kept in memory.
 */
export async function createTestSidekick(
  env: Env = {},
  options: Pick<SidekickOptions, 'hashConcurrency'> & { engine?: TestEngine } = {},
): Promise<TestSidekick> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-test-'));
  const config = testConfig(dataDir, await withTestDatabase(env, options.engine));
  const clock = new ManualClock();
  const logs = new LogCapture();
  const transport = new MemoryTransport();
  const sidekick = await createSidekick(config, { clock, logger: createLogger('debug', logs), transport, hashConcurrency: options.hashConcurrency });
  // Every answer a test receives is held to the OpenAPI document (see openapi.ts).
  const app = holdToDocument(createHttpApp(sidekick));
  let delivered = 0;
  return {
    sidekick,
    app,
    clock,
    logs,
    transport,
    config,
    dataDir,
    async deliver() {
      await sidekick.deliverer.drain();
      const fresh = transport.sent.slice(delivered);
      delivered = transport.sent.length;
      return fresh;
    },
    async close() {
      await sidekick.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
