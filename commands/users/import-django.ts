import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';
import { createProgress } from '../../src/cli/progress.ts';
import { DjangoImportRefusedError, type DjangoImportReport } from '../../src/services/django-import.ts';

export default class UsersImportDjango extends SidekickCommand {
  static override summary = 'Move every user in from one of the Django originals (accounts or kitchen API), passwords and tokens kept.';
  static override description = `Reads the original's database (a SQLite file or a postgres:// URL; never written to) and recognises its schema. Ids, emails (lower-cased), superhero names, profile fields, flags, date_joined and last_login are kept; password hashes are kept as Django wrote them and verified at login, then rehashed to bcrypt on the first successful one. DRF tokens keep working for SIDEKICK_TOKEN_TTL after the import; with SIDEKICK_SECRET set to the original's SECRET_KEY, tokens SimpleJWT issued keep working until they expire. Profile pictures are copied from --media-dir (the original's MEDIA_ROOT).

All or nothing, in one transaction. Refused (exit 2, nothing written) when two emails differ only in case, or an id, email or superhero name is taken here. Unusable or unknown password hashes, and pictures without a file, are reported: those users can log in after a password reset, or keep no picture.`;
  static override examples = [
    '<%= config.bin %> users:import-django /srv/blindchat/db.sqlite3 --dry-run',
    '<%= config.bin %> users:import-django postgres://kitchen@db.internal/kitchen --media-dir /srv/kitchen/media',
  ];
  static override args = {
    source: Args.string({ description: "The original's database: a SQLite file or a postgres:// URL.", required: true }),
  };
  static override flags = {
    'dry-run': Flags.boolean({ description: 'Report what would be imported, and every problem; change nothing.', default: false }),
    'media-dir': Flags.string({ description: "The original's media folder (MEDIA_ROOT), where its profile_picture paths point." }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersImportDjango);
    const sidekick = await this.openExisting();
    const progress = createProgress(process.stderr, 'Importing users');
    let report: DjangoImportReport;
    try {
      report = await sidekick.services.djangoImport.run(args.source, {
        dryRun: flags['dry-run'],
        mediaDir: flags['media-dir'],
        onProgress: flags.json ? undefined : progress.update,
      });
    } catch (error) {
      progress.finish();
      // A refused run still shows everything found, so one pass over the original fixes all of it.
      if (!(error instanceof DjangoImportRefusedError)) throw error;
      this.show(flags.json, error.report);
      throw new CliError(error.message, EXIT.usage);
    }
    progress.finish();
    this.show(flags.json, report);
  }

  private show(json: boolean, report: DjangoImportReport): void {
    this.output(json, report, () => {
      const formats = Object.entries(report.hashes).map(([format, n]) => `${format} ${n}`).join(', ');
      const refused = report.problems.some((problem) => problem.fatal);
      const verb = refused ? 'Refused to import' : report.dryRun ? 'Would import' : 'Imported';
      const lines = [
        `${verb} ${report.users} users from the ${report.original} original (${report.source}); highest id ${report.highestId}.`,
        `  password hashes: ${formats || 'none'}`,
        `  DRF tokens: ${report.tokens}; users whose SimpleJWT tokens stay valid: ${report.simpleJwtUsers}`,
        `  profile pictures: ${report.pictures.copied} ${report.dryRun ? 'to copy' : 'copied'}, ${report.pictures.dropped} dropped`,
      ];
      if (report.problems.length > 0) {
        lines.push(`Problems (${report.problems.length}):`);
        for (const problem of report.problems) lines.push(`  ${problem.fatal ? 'error' : 'warning'}: ${problem.message}`);
      }
      return lines.join('\n');
    });
  }
}
