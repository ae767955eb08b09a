import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';
import { table } from '../../src/cli/present.ts';
import { createProgress } from '../../src/cli/progress.ts';
import { IMPORT_COLUMNS, parseUserFile } from '../../src/services/user-file.ts';

export default class UsersImport extends SidekickCommand {
  static override summary = 'Create many users from a JSON or CSV file (or a users:export file), all or none.';
  static override description = `Every row is checked with sign-up's validation before anything is written; any bad row refuses the whole file and the error names each row at fault (rows count from 1; a CSV header is not a row). A row brings either a password (held to the password policy, then hashed) or a password_hash (kept as it is: Sidekick's bcrypt, a Django hash, or an unusable !…). Then all users are inserted in one transaction.

A users:export file reads back as it was written: ids, superhero names, flags and times are kept when given (an id, email or superhero name already taken refuses the file), and new users are numbered past the highest id imported. Absent columns take sign-up's defaults (active, unproved email, a drawn superhero name, joined now).

JSON: an array of objects, {"users": [...]}, or users:export's file. CSV: a header row, then one user per line; an empty cell is not given. Columns: ${IMPORT_COLUMNS.join(', ')}. Booleans: true/false, yes/no, 1/0. Times: ISO 8601 with a zone (2024-05-01T12:00:00.000Z).`;
  static override examples = [
    '<%= config.bin %> users:import demo-users.json',
    '<%= config.bin %> users:import staff.csv --json',
    '<%= config.bin %> users:import users-exported.json',
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
