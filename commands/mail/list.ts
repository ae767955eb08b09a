import { Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { mailJson, table } from '../../src/cli/present.ts';
import type { OutboxEntry } from '../../src/store/outbox.ts';

export default class MailList extends SidekickCommand {
  static override summary = 'List the mail outbox: pending, failed and recently sent messages.';
  static override description =
    'Shows recipient, subject, status, attempts and the last delivery error of each message, newest first. Message bodies are never shown: they carry live codes and links. Requeue failed messages with mail:retry.';
  static override examples = [
    '<%= config.bin %> mail:list',
    '<%= config.bin %> mail:list --status failed',
    '<%= config.bin %> mail:list --status pending --json',
  ];
  static override flags = {
    status: Flags.string({ description: 'Only messages with this status.', options: ['pending', 'sent', 'failed'] }),
    limit: Flags.integer({ description: 'At most this many messages (newest first).', default: 50, min: 1, max: 10_000 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(MailList);
    const sidekick = await this.openExisting();
    const status = (flags.status ?? null) as OutboxEntry['status'] | null;
    const mails = (await sidekick.services.outbox.list(status, flags.limit)).map(mailJson);
    this.output(flags.json, mails, () =>
      mails.length === 0
        ? 'No mail.'
        : table(
            ['ID', 'STATUS', 'ATTEMPTS', 'TO', 'SUBJECT', 'LAST ERROR'],
            mails.map((m) => [String(m.id), m.status, String(m.attempts), m.to, m.subject, m.last_error ?? '-']),
          ),
    );
  }
}
