import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { loadConfig } from '../../src/config.ts';
import { restoreDatabase, type RestoreResult } from '../../src/services/database-restore.ts';

export default class DbRestore extends SidekickCommand {
  static override summary = 'Replace the database with the backup in FILE.';
  static override description =
    "SQLite only (on PostgreSQL use pg_restore or psql). FILE is checked first, on a private copy: a SQLite database that passes PRAGMA integrity_check, a Sidekick one, of a schema no newer than this Sidekick (an older one is migrated on the copy). Refuses while a server is serving the database unless --force. The current database is kept beside it as <database>.before-restore-<time>, then the copy is written into it through SQLite's online backup API in one transaction: the database is never half restored, and a server running under --force answers from the restored data at its next request.";
  static override examples = [
    '<%= config.bin %> db:restore backups/sidekick-2025-01-31.db',
    '<%= config.bin %> db:restore backups/sidekick-2025-01-31.db --force --json',
  ];
  static override args = {
    file: Args.string({ description: 'The backup to restore (from db:backup, or any Sidekick SQLite database).', required: true }),
  };
  static override flags = {
    force: Flags.boolean({ description: 'Restore even while a server is serving the database.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DbRestore);
    const result = await restoreDatabase(loadConfig(process.env), args.file, { force: flags.force });
    this.output(flags.json, result, () => summary(result));
  }
}

function summary(result: RestoreResult): string {
  const schema =
    result.fileSchemaVersion === result.schemaVersion
      ? `schema version ${result.schemaVersion}`
      : `schema version ${result.fileSchemaVersion}, migrated to ${result.schemaVersion}`;
  const users = `${result.rows.users} user${result.rows.users === 1 ? '' : 's'}`;
  const kept = result.safetyCopy ? `; the database as it was is kept in ${result.safetyCopy}` : '';
  const server = result.restartServer
    ? '; restart the running server to serve it'
    : result.serverRunning
      ? '; the running server answers from it at its next request'
      : '';
  return `Restored ${result.database} from ${result.file} (${schema}, ${users})${kept}${server}.`;
}
