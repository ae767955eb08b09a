import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';
import { table } from '../../src/cli/present.ts';
import { createProgress } from '../../src/cli/progress.ts';
import { IMPORT_COLUMNS, parseUserFile } from '../../src/services/user-import.ts';

export default class UsersImport extends SidekickCommand {
  static override summary = 'Create many users from a JSON or CSV file, all or none.';
  static override description = `Every row is checked with sign-up's validation and password policy before anything is written; any bad row refuses the whole file and the error names each row at fault (rows count from 1; a CSV header is not a row). Passwords are hashed first, then all users are inserted in one transaction.

JSON: an array of objects (or {"users": [...]}). CSV: a header row, then one user per line. Columns: ${IMPORT_COLUMNS.join(', ')}. Booleans: true/false, yes/no, 1/0.`;
  static override examples = [
    '<%= config.bin %> users:import demo-users.json',
    '<%= config.bin %> users:import staff.csv --json',
    'generate-users | <%= config.bin %> users:import - --format csv',
  ];
  static override args = {
    file: Args.string({ description: 'JSON or CSV file of users; - reads standard input.', required: true }),
  };
  static override flags = {
    format: Flags.string({ description: 'File format; by default from the file name, else guessed from its content.', options: ['json', 'csv'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersImport);
    let text: string;
    try {
      text = readFileSync(args.file === '-' ? 0 : args.file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read ${args.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.noInput);
    }
    const extension = path.extname(args.file).slice(1).toLowerCase();
    const format = (flags.format ?? (extension === 'json' || extension === 'csv' ? extension : /^\s*[[{]/.test(text) ? 'json' : 'csv')) as
      | 'json'
      | 'csv';
    const rows = parseUserFile(text, format);

    const sidekick = await this.openExisting();
    const progress = createProgress(process.stderr, 'Hashing passwords');
    let users;
    try {
      users = await sidekick.services.userImport.import(rows, flags.json ? undefined : progress.update);
    } finally {
      progress.finish();
    }
    const shown = users.map((user, index) => ({ row: rows[index].row, id: user.id, email: user.email, superhero_name: user.superheroName }));
    this.output(flags.json, { imported: shown.length, users: shown }, () =>
      `${table(['ROW', 'ID', 'EMAIL', 'SUPERHERO'], shown.map((u) => [String(u.row), String(u.id), u.email, u.superhero_name]))}\nImported ${shown.length} users.`,
    );
  }
}
