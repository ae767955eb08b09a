import { Flags } from '@oclif/core';
import { passwordFlags, SidekickCommand } from '../../src/cli/base-command.ts';
import { describe, userJson } from '../../src/cli/present.ts';
import { askText } from '../../src/cli/prompts.ts';

export default class UsersCreate extends SidekickCommand {
  static override summary = 'Create a user at once, without a registration code.';
  static override description =
    'The same validation and password policy as sign-up apply. Missing values are asked for on a terminal (the password hidden and typed twice); without a terminal they must be given as flags.';
  static override examples = [
    '<%= config.bin %> users:create --email ada@example.com',
    'printf %s "$PASSWORD" | <%= config.bin %> users:create --email ops@example.com --password-stdin --staff --json',
    '<%= config.bin %> users:create --email root@example.com --name Root --superuser',
  ];
  static override flags = {
    email: Flags.string({ description: 'Email address of the new user.' }),
    ...passwordFlags,
    name: Flags.string({ description: 'Display name (kitchen API `name`, at most 30 characters).' }),
    staff: Flags.boolean({ description: 'Mark the user as staff.', default: false }),
    superuser: Flags.boolean({ description: 'Mark the user as superuser.', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(UsersCreate);
    const sidekick = await this.openExisting();
    const email = flags.email ?? (await askText('--email', 'Email:'));
    const password = await this.newPassword(flags);
    const user = await sidekick.services.accounts.createUser({
      email,
      password,
      name: flags.name,
      isStaff: flags.staff,
      isSuperuser: flags.superuser,
    });
    const shown = userJson(user);
    this.output(flags.json, shown, () =>
      describe({ id: shown.id, email: shown.email, superhero_name: shown.superhero_name, staff: shown.is_staff, superuser: shown.is_superuser }),
    );
  }
}
