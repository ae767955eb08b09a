import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Env, ResolvedConfig } from '../../src/config.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import type { Clock } from '../../src/services/clock.ts';
import { createSidekick, type Sidekick } from '../../src/sidekick.ts';
import { LogCapture, testConfig, withTestDatabase } from './sidekick.ts';
import { holdToDocument } from './openapi.ts';

export interface LiveSidekick {
  sidekick: Sidekick;
  app: ReturnType<typeof createHttpApp>;
  logs: LogCapture;
  config: ResolvedConfig;
  dataDir: string;
  /** Log lines parsed as JSON. */
  logEntries(): Record<string, any>[];
  close(): Promise<void>;
}

/**
 * A Sidekick wired exactly as `serve` wires it — the mail transport chosen by the config (SMTP with
 * SIDEKICK_SMTP_URL, `.eml` files without) — on a fresh data folder, logs captured.
 */
export async function createLiveSidekick(env: Env = {}, options: { clock?: Clock } = {}): Promise<LiveSidekick> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-live-'));
  const config = testConfig(dataDir, await withTestDatabase(env));
  const logs = new LogCapture();
  const sidekick = await createSidekick(config, { clock: options.clock, logger: createLogger('debug', logs) });
  const app = holdToDocument(createHttpApp(sidekick));
  return {
    sidekick,
    app,
    logs,
    config,
    dataDir,
    logEntries: () => logs.lines.map((line) => JSON.parse(line) as Record<string, any>),
    async close() {
      await sidekick.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
