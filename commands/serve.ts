import { Flags } from '@oclif/core';
import { SidekickCommand } from '../src/cli/base-command.ts';
import { startServer } from '../src/http/server.ts';

export default class Serve extends SidekickCommand {
  static override summary = 'Run the HTTP server (accounts and kitchen APIs).';
  static override description =
    'Serves both APIs on one SQLite database. Configuration comes from SIDEKICK_* variables; these flags win over them. SIGINT or SIGTERM stops it after in-flight requests finish.';
  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --host 0.0.0.0 --port 9000',
    'SIDEKICK_SMTP_URL=smtp://localhost:1025 <%= config.bin %> serve --db /var/lib/sidekick/sidekick.db',
  ];
  static override flags = {
    host: Flags.string({ description: 'Address to listen on (SIDEKICK_HOST).' }),
    port: Flags.string({ description: 'Port to listen on (SIDEKICK_PORT).' }),
    db: Flags.string({ description: 'SQLite database file (SIDEKICK_DB).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    const sidekick = this.openSidekick({ host: flags.host, port: flags.port, db: flags.db });
    const server = await startServer(sidekick);
    const { config, logger } = sidekick;
    logger.info(
      { url: server.url, db: config.dbPath, mail: config.smtpUrl ? 'smtp' : 'outbox files' },
      `Sidekick listening on ${server.url}`,
    );
    if (!flags.json) process.stdout.write(`Sidekick listening on ${server.url}\n`);

    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'stopping');
        server.close().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    logger.info('stopped');
    logger.flush?.();
  }
}
