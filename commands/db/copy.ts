import { Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { copyDatabase } from '../../src/services/database-copy.ts';

export default class DbCopy extends SidekickCommand {
  static override summary = 'Copy the whole database into another one: SQLite to PostgreSQL, or back.';
  static override description =
    'The target (a postgres:// URL or an SQLite file) gets the schema first and must hold no data. Every row is copied with its id, id counters included, so an id that was ever handed out is never handed out again. The source is read from one snapshot while the server keeps serving; the target is written in one transaction and committed only when every table has as many rows as the source.';
  static override examples = [
    '<%= config.bin %> db:copy --to postgres://sidekick:secret@db.internal/sidekick',
    'SIDEKICK_DATABASE_URL=postgres://db.internal/sidekick <%= config.bin %> db:copy --to /var/backups/sidekick.db --json',
  ];
  static override flags = {
    to: Flags.string({ description: 'The target: a postgres:// URL, or an SQLite file.', required: true }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DbCopy);
    const sidekick = await this.openExisting();
    const result = await copyDatabase(sidekick.db, flags.to);
    const total = Object.values(result.rows).reduce((sum, n) => sum + n, 0);
    this.output(flags.json, result, () =>
      [
        `Copied ${total} rows from ${result.from} to ${result.to}:`,
        ...Object.entries(result.rows).map(([table, n]) => `  ${table}: ${n}`),
      ].join('\n'),
    );
  }
}
