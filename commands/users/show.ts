import { Args } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { describe, userJson } from '../../src/cli/present.ts';

export default class UsersShow extends SidekickCommand {
  static override summary = "Show one user's account.";
  static override examples = ['<%= config.bin %> users:show ada@example.com', '<%= config.bin %> users:show ada@example.com --json'];
  static override args = {
    email: Args.string({ description: 'Email address of the user.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersShow);
    const sidekick = await this.openExisting();
    const email = await this.emailArgument(args.email);
    const shown = userJson(await sidekick.services.accounts.requireUser(email));
    this.output(flags.json, shown, () => describe(shown));
  }
}
