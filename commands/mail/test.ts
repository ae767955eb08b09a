import { Args } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';
import { loadConfig } from '../../src/config.ts';
import type { MailFailure } from '../../src/mail/transports.ts';
import type { MailTestResult } from '../../src/services/mail-test.ts';
import { createMailCheck } from '../../src/sidekick.ts';

/** A 4xx is the server's "later", whatever the stage; otherwise the stage says whose move it is. */
function exitCodeFor(failure: MailFailure): number {
  if (failure.responseCode !== undefined && failure.responseCode >= 400 && failure.responseCode < 500) return EXIT.busy;
  switch (failure.stage) {
    case 'auth':
    case 'sender':
      return EXIT.config;
    case 'recipient':
      return EXIT.noUser;
    case 'write':
      return EXIT.failure;
    default:
      return EXIT.unavailable;
  }
}

export default class MailTest extends SidekickCommand {
  static override summary = 'Send one test mail now, through the configured transport, and show what happened.';
  static override description =
    "Sends at once (not through the outbox) over SIDEKICK_SMTP_URL and prints the server's final reply, the accepted and refused recipients and the message id; without SIDEKICK_SMTP_URL it writes the .eml file to <data>/outbox/ and prints its path. Needs no database. On failure, one line names the step (connecting, logging in, sender, recipient, message) and the server's reply. Exit codes: 2 invalid address, 67 recipient refused, 69 server unreachable or refusing, 75 the server said try later (4xx), 78 login or sender refused (fix SIDEKICK_SMTP_URL or SIDEKICK_MAIL_FROM).";
  static override examples = ['<%= config.bin %> mail:test ada@example.com', '<%= config.bin %> mail:test ops@example.com --json'];
  static override args = {
    address: Args.string({ description: 'Where to send the test mail.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(MailTest);
    const address = await this.emailArgument(args.address, 'ADDRESS argument');
    const check = createMailCheck(loadConfig(process.env));
    let result: MailTestResult;
    try {
      result = await check.mailTest.send(address);
    } finally {
      check.close();
    }
    if (!result.ok) throw new CliError(result.message, exitCodeFor(result));
    const sent = result;
    this.output(
      flags.json,
      {
        ok: true,
        to: sent.to,
        via: sent.via,
        ...(sent.response === undefined ? {} : { response: sent.response, accepted: sent.accepted, rejected: sent.rejected }),
        ...(sent.messageId === undefined ? {} : { message_id: sent.messageId }),
        ...(sent.file === undefined ? {} : { file: sent.file }),
      },
      () => {
        if (sent.file !== undefined) return `No SIDEKICK_SMTP_URL set: wrote the test mail to ${sent.to} as ${sent.file}`;
        const lines = [`Sent a test mail to ${sent.to} via ${sent.via}.`, `Server reply: ${sent.response ?? '-'}`];
        lines.push(`Accepted: ${sent.accepted?.join(', ') || '-'}`);
        if (sent.rejected && sent.rejected.length > 0) lines.push(`Refused: ${sent.rejected.join(', ')}`);
        if (sent.messageId) lines.push(`Message-ID: ${sent.messageId}`);
        return lines.join('\n');
      },
    );
  }
}
