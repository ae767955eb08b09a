import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { databaseLocation, type Config } from '../src/config.ts';
import { SidekickCommand } from '../src/cli/base-command.ts';
import { CliError, EXIT } from '../src/cli/errors.ts';
import { markServing } from '../src/services/database-restore.ts';
import type { Sidekick } from '../src/sidekick.ts';
import type { Logger } from '../src/logger.ts';
import { startBackgroundWork, startServer } from '../src/http/server.ts';

/** Messages a cluster worker sends its primary. */
type WorkerMessage = { sidekick: 'listening'; url: string };

/**
 * The first SIGINT or SIGTERM. The listeners stay: a stopping process may be signalled again (a service
 * manager signals the whole process group, and the primary forwards the signal to its workers), and a
 * second signal must not kill it mid-drain; the drain timeout bounds the stop.
 */
const untilSignal = () =>
  new Promise<string>((resolve) => {
    process.on('SIGINT', () => resolve('SIGINT'));
    process.on('SIGTERM', () => resolve('SIGTERM'));
  });

export default class Serve extends SidekickCommand {
  static override summary = 'Run the HTTP server (accounts and kitchen APIs).';
  static override description =
    'Serves both APIs on one SQLite database. Configuration comes from SIDEKICK_* variables; these flags win over them. SIGINT or SIGTERM stops it after in-flight requests finish. With --workers N, N processes share the port; throttles, revocations and codes stay correct because they live in the database, and mail is delivered by the primary process alone.';
  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --host 0.0.0.0 --port 9000',
    '<%= config.bin %> serve --workers 2',
    'SIDEKICK_SMTP_URL=smtp://localhost:1025 <%= config.bin %> serve --db /var/lib/sidekick/sidekick.db',
  ];
  static override flags = {
    host: Flags.string({ description: 'Address to listen on (SIDEKICK_HOST).' }),
    port: Flags.string({ description: 'Port to listen on (SIDEKICK_PORT).' }),
    db: Flags.string({ description: 'SQLite database file (SIDEKICK_DB).' }),
    workers: Flags.integer({ description: 'Processes serving HTTP on the same port (node:cluster).', default: 1, min: 1, max: 64 }),
  };

  /** Marks the SQLite database as served (see serving-marker.ts), for db:restore; the primary's alone. */
  private serving: { release(): void } | undefined;

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    const overrides = { host: flags.host, port: flags.port, db: flags.db };
    if (cluster.isWorker) return this.runWorker(overrides);
    if (flags.workers > 1) return this.runPrimary(overrides, flags.workers, flags.json);

    const sidekick = await this.openChecked(overrides);
    const server = await startServer(sidekick);
    const { config, logger } = sidekick;
    // Handlers first: a supervisor may send SIGTERM the instant it reads the line below.
    const signal = untilSignal();
    announce(logger, config, `Sidekick listening on ${server.url}`, flags.json);

    logger.info({ signal: await signal }, 'stopping');
    await server.close().catch(() => {});
    logger.info('stopped');
    logger.flush?.();
  }

  /**
   * Opens the database and runs SQLite's quick_check once, before serving: a corrupt file is refused
   * with one line instead of serving 500s. Workers skip it; their primary checked the file.
   */
  private async openChecked(overrides: { host?: string; port?: string; db?: string }): Promise<Sidekick> {
    const sidekick = await this.openSidekick(overrides);
    const problem = await sidekick.services.health.integrityProblem();
    if (problem) {
      throw new CliError(`the database ${databaseLocation(sidekick.config)} failed its integrity check (${problem}): restore it from a backup`, EXIT.noInput);
    }
    this.serving = markServing(sidekick.config);
    return sidekick;
  }

  /** After the database is closed, however the command ends: only then is it no longer served. */
  protected override async finally(error: Error | undefined): Promise<void> {
    try {
      return await super.finally(error);
    } finally {
      this.serving?.release();
    }
  }

  /** One HTTP server among several; background work is the primary's. */
  private async runWorker(overrides: { host?: string; port?: string; db?: string }): Promise<void> {
    const sidekick = await this.openSidekick(overrides);
    const server = await startServer(sidekick, { background: false });
    process.send?.({ sidekick: 'listening', url: server.url } satisfies WorkerMessage);
    await untilSignal();
    await server.close().catch(() => {});
    sidekick.logger.flush?.();
    // The IPC channel to the primary would otherwise keep this process alive.
    cluster.worker?.disconnect();
  }

  /**
   * Opens the database first (migrations and the generated secret happen once, before any worker reads
   * them), forks the workers, delivers mail and purges expired rows, and replaces a worker that dies.
   */
  private async runPrimary(
    overrides: { host?: string; port?: string; db?: string },
    count: number,
    json: boolean,
  ): Promise<void> {
    const sidekick = await this.openChecked(overrides);
    const { config, logger } = sidekick;
    const stopBackground = startBackgroundWork(sidekick);
    let stopping = false;
    let fatal: string | undefined;

    const exited = new Set<Promise<void>>();
    const fork = (): Promise<string> => {
      const worker: Worker = cluster.fork();
      let listening = false;
      const exit = new Promise<void>((resolve) => {
        worker.once('exit', (code, signal) => {
          exited.delete(exit);
          resolve();
          if (stopping) return;
          logger.error({ worker: worker.process.pid, code, signal }, 'worker died');
          // A worker that never listened would die again at once: stop rather than loop.
          if (!listening) {
            fatal = `a worker exited with ${code ?? signal} before listening; see the log`;
            process.kill(process.pid, 'SIGTERM');
          } else {
            void fork().catch(() => {});
          }
        });
      });
      exited.add(exit);
      return new Promise((resolve, reject) => {
        worker.on('message', (message: WorkerMessage) => {
          if (message?.sidekick !== 'listening') return;
          listening = true;
          resolve(message.url);
        });
        void exit.then(() => reject(new Error('worker exited')));
      });
    };

    const signal = untilSignal();
    const urls = await Promise.allSettled(Array.from({ length: count }, fork));
    const url = urls.find((result) => result.status === 'fulfilled')?.value;
    if (url && !fatal) {
      announce(logger, config, `Sidekick listening on ${url} (${count} workers)`, json);
    }

    logger.info({ signal: await signal }, 'stopping');
    stopping = true;
    stopWorkers(logger);
    await Promise.all(exited);
    stopBackground();
    logger.info('stopped');
    logger.flush?.();
    if (fatal) this.error(fatal, { exit: 1 });
  }
}

/** The start-up lines: where it listens, the public URL its links use, and where mail goes. */
function announce(logger: Logger, config: Config, line: string, json: boolean): void {
  const mail = mailDestination(config);
  logger.info({ publicUrl: config.publicUrl, db: databaseLocation(config), mail }, line);
  if (!json) process.stdout.write(`${line}\n  public URL (links in mail, JWT issuer): ${config.publicUrl}\n  mail: ${mail}\n`);
}

/** Where mail goes, for a newcomer to find the first code: the relay without its credentials, or the folder. */
function mailDestination(config: Config): string {
  if (!config.smtpUrl) return `.eml files in ${path.join(config.dataDir, 'outbox')}`;
  const relay = new URL(config.smtpUrl);
  return `SMTP ${relay.protocol}//${relay.host}`;
}

/** Each worker drains its own connections on SIGTERM, as a single server does. */
function stopWorkers(logger: Logger): void {
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (!worker || worker.isDead()) continue;
    try {
      worker.process.kill('SIGTERM');
    } catch (error) {
      logger.warn({ err: error, worker: worker.process.pid }, 'could not signal worker');
    }
  }
}
