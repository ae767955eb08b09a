import { Args } from '@oclif/core';
import { mailOutcomeText, SidekickCommand } from '../../src/cli/base-command.ts';

export default class OtpResend extends SidekickCommand {
  static override summary = 'Mail a fresh registration code for a pending registration.';
  static override description =
    'The previous code dies at once. Operators are not throttled. The mail is delivered before the command exits if it can be, else left in the outbox for the running server to send.';
  static override examples = ['<%= config.bin %> otp:resend ada@example.com', '<%= config.bin %> otp:resend ada@example.com --json'];
  static override args = {
    email: Args.string({ description: 'Email address of the pending registration.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(OtpResend);
    const sidekick = await this.openExisting();
    const email = await sidekick.services.registration.resendCode(await this.emailArgument(args.email));
    const mail = await this.deliverQueued(sidekick);
    this.output(flags.json, { email, code_sent: true, mail }, () => `A new registration code for ${email} was ${mailOutcomeText(mail)}.`);
  }
}
