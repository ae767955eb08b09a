import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError } from '../../src/cli/errors.ts';
import { askConfirm } from '../../src/cli/prompts.ts';

export default class UsersDelete extends SidekickCommand {
  static override summary = 'Delete a user and every session and token of theirs.';
  static override description =
    'Asks for confirmation on a terminal unless --yes is given; without a terminal --yes is required. The email may register again afterwards.';
  static override examples = ['<%= config.bin %> users:delete mallory@example.com', '<%= config.bin %> users:delete mallory@example.com --yes --json'];
  static override args = {
    email: Args.string({ description: 'Email address of the user.' }),
  };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Delete without asking.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersDelete);
    const sidekick = await this.openExisting();
    const email = await this.emailArgument(args.email);
    const { accounts } = sidekick.services;
    const user = await accounts.requireUser(email);
    if (!flags.yes && !(await askConfirm('--yes', `Delete ${user.email} (${user.superheroName}) and all their sessions?`))) {
      throw new CliError('not deleted');
    }
    await accounts.deleteByEmail(user.email);
    this.output(flags.json, { deleted: true, id: user.id, email: user.email }, () => `Deleted ${user.email}.`);
  }
}
