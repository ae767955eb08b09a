import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { createProgress } from '../../src/cli/progress.ts';
import { exportUsersToFile, writeUserExport, type ExportFormat } from '../../src/services/user-export.ts';

export default class UsersExport extends SidekickCommand {
  static override summary = 'Write every user, with password hash, profile and flags, to a JSON or CSV file that users:import reads back.';
  static override description = `Every user in id order, read from one snapshot of the database while the server keeps serving: id, email, password_hash (as stored: Sidekick's bcrypt, a Django hash kept from an import, or an unusable !…), superhero_name, name, gender, preferences, dob, bio, phone_number, profile_picture, email_verified, is_active, is_staff, is_superuser, last_login, date_joined, updated_at. Times are ISO 8601 UTC, null (an empty CSV cell) where unset.

The file holds every password hash: it is written mode 0600 (missing folders are made 0700) under a temporary name, then renamed into place, so FILE never holds half an export. An existing FILE is replaced. With - the export goes to standard output and is all that does (the summary goes to standard error, and --json prints none).`;
  static override examples = [
    '<%= config.bin %> users:export backups/users-$(date +%F).json',
    '<%= config.bin %> users:export users.csv --json',
    '<%= config.bin %> users:export - --format csv | gzip > users.csv.gz',
  ];
  static override args = {
    file: Args.string({ description: 'Where to write the export; - writes it to standard output.', required: true }),
  };
  static override flags = {
    format: Flags.string({ description: 'File format; by default from the file name (.csv), else JSON.', options: ['json', 'csv'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersExport);
    const format = (flags.format ?? (path.extname(args.file).toLowerCase() === '.csv' ? 'csv' : 'json')) as ExportFormat;
    const sidekick = await this.openExisting();
    const progress = createProgress(process.stderr, 'Exporting users');
    const options = { format, now: sidekick.clock.now(), onProgress: flags.json ? undefined : progress.update };
    try {
      if (args.file === '-') {
        const exported = await writeUserExport(sidekick.db, { write: toStdout }, options);
        progress.finish();
        if (!flags.json) process.stderr.write(`Exported ${exported} users.\n`);
        return;
      }
      const result = await exportUsersToFile(sidekick.db, args.file, options);
      progress.finish();
      this.output(flags.json, result, () => `Exported ${result.exported} users to ${result.file} (mode 0600).`);
    } finally {
      progress.finish();
    }
  }
}

/** Written once the pipe took it, so a slow reader holds the export back instead of filling memory. */
const toStdout = (text: string) =>
  new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
