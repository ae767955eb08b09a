import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError } from '../../src/cli/errors.ts';
import { describe, userJson } from '../../src/cli/present.ts';

export default class UsersUpdate extends SidekickCommand {
  static override summary = "Change a user's active, staff or superuser flags or name.";
  static override description =
    'Takes effect at the running server\'s next request. Deactivating (--no-active) also ends every session and token of the user.';
  static override examples = [
    '<%= config.bin %> users:update ada@example.com --staff',
    '<%= config.bin %> users:update mallory@example.com --no-active',
    '<%= config.bin %> users:update ada@example.com --no-superuser --name "Ada L." --json',
  ];
  static override args = {
    email: Args.string({ description: 'Email address of the user.' }),
  };
  static override flags = {
    active: Flags.boolean({ description: 'Activate (--active) or deactivate (--no-active) the account.', allowNo: true }),
    staff: Flags.boolean({ description: 'Grant (--staff) or remove (--no-staff) staff status.', allowNo: true }),
    superuser: Flags.boolean({ description: 'Grant (--superuser) or remove (--no-superuser) superuser status.', allowNo: true }),
    name: Flags.string({ description: 'New display name (at most 30 characters).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersUpdate);
    const changes = { isActive: flags.active, isStaff: flags.staff, isSuperuser: flags.superuser, name: flags.name };
    if (Object.values(changes).every((value) => value === undefined)) {
      throw new CliError('nothing to change: give --active/--no-active, --staff/--no-staff, --superuser/--no-superuser or --name');
    }
    const sidekick = await this.openExisting();
    const email = await this.emailArgument(args.email);
    const shown = userJson(await sidekick.services.accounts.updateAdmin(email, changes));
    this.output(flags.json, shown, () => describe(shown));
  }
}
