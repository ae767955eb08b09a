import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { backupDatabase } from '../../src/services/database-admin.ts';

export default class DbBackup extends SidekickCommand {
  static override summary = 'Copy the database to FILE while the server keeps running.';
  static override description =
    "Uses SQLite's online backup API, so the copy is consistent even while the server writes. The copy is checked with PRAGMA integrity_check before it is moved to FILE. The copy holds password hashes and token hashes: keep it as private as the database.";
  static override examples = [
    '<%= config.bin %> db:backup backups/sidekick-$(date +%F).db',
    '<%= config.bin %> db:backup /tmp/sidekick.db --force --json',
  ];
  static override args = {
    file: Args.string({ description: 'Where to write the copy.', required: true }),
  };
  static override flags = {
    force: Flags.boolean({ description: 'Overwrite FILE if it exists.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DbBackup);
    const sidekick = await this.openExisting();
    const result = await backupDatabase(sidekick.db, args.file, { overwrite: flags.force });
    this.output(flags.json, { database: sidekick.config.dbPath, ...result }, () =>
      `Backed up ${sidekick.config.dbPath} to ${result.file} (${result.bytes} bytes, integrity ok).`,
    );
  }
}
