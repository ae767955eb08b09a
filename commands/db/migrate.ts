import { SidekickCommand } from '../../src/cli/base-command.ts';
import { databaseLocation } from '../../src/config.ts';
import { migrateDatabase } from '../../src/services/database-admin.ts';

export default class DbMigrate extends SidekickCommand {
  static override summary = 'Create the database or bring its schema up to date.';
  static override description =
    'Safe to run at any time, also while a server is serving: each migration is applied exactly once. Also creates the data folder and its secret.key when missing, as the first `serve` would.';
  static override examples = ['<%= config.bin %> db:migrate', 'SIDEKICK_DATA_DIR=/var/lib/sidekick <%= config.bin %> db:migrate --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(DbMigrate);
    const config = this.config_();
    const { applied, version } = await migrateDatabase(config.databaseUrl ?? config.dbPath);
    const database = databaseLocation(config);
    this.output(flags.json, { database, applied, version }, () =>
      applied.length === 0
        ? `${database} is up to date (schema version ${version}).`
        : `Applied migration(s) ${applied.join(', ')} to ${database} (schema version ${version}).`,
    );
  }
}
