import { Args } from '@oclif/core';
import { mailOutcomeText, passwordFlags, SidekickCommand } from '../../src/cli/base-command.ts';

export default class UsersSetPassword extends SidekickCommand {
  static override summary = "Set a user's password.";
  static override description =
    'The password policy applies. Every session and token of the user ends, and the user is mailed a notice (delivered before the command exits if it can be, else left in the outbox for the server).';
  static override examples = [
    '<%= config.bin %> users:set-password ada@example.com',
    'printf %s "$NEW_PASSWORD" | <%= config.bin %> users:set-password ada@example.com --password-stdin --json',
  ];
  static override args = {
    email: Args.string({ description: 'Email address of the user.' }),
  };
  static override flags = { ...passwordFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UsersSetPassword);
    const sidekick = await this.openExisting();
    const email = await this.emailArgument(args.email);
    const password = await this.newPassword(flags);
    const user = await sidekick.services.accounts.setPassword(email, password);
    const mail = await this.deliverQueued(sidekick);
    this.output(flags.json, { id: user.id, email: user.email, password_changed: true, sessions_ended: true, notice_mail: mail }, () =>
      `Password changed for ${user.email}; every session ended; the notice mail was ${mailOutcomeText(mail)}.`,
    );
  }
}
