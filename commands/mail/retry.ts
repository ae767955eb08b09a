import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';

export default class MailRetry extends SidekickCommand {
  static override summary = 'Requeue mail that failed for good, so it is delivered again.';
  static override description =
    'Give message ids (from mail:list --status failed) or --all-failed. Requeued messages start again from their first attempt; a running server delivers them within a second or two, and this command also tries once itself (for at most a few seconds).';
  static override examples = [
    '<%= config.bin %> mail:retry 12 13',
    '<%= config.bin %> mail:retry --all-failed --json',
  ];
  static override strict = false;
  static override args = {
    ids: Args.string({ description: 'Outbox ids of failed messages.' }),
  };
  static override flags = {
    'all-failed': Flags.boolean({ description: 'Requeue every failed message.', default: false }),
    'queue-only': Flags.boolean({ description: 'Only requeue; leave delivery to the running server.', default: false }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(MailRetry);
    const raw = argv as string[];
    if ((raw.length === 0) === !flags['all-failed']) throw new CliError('give message ids or --all-failed (not both)');
    const ids = raw.map((value) => {
      if (!/^[1-9]\d{0,15}$/.test(value)) throw new CliError(`"${value}" is not a message id`);
      return Number(value);
    });
    const sidekick = await this.openExisting();
    const { requeued, skipped } = await sidekick.services.mailQueue.requeueFailed(flags['all-failed'] ? 'all-failed' : ids);
    if (!flags['all-failed'] && requeued.length === 0) {
      throw new CliError(`no failed message with id ${skipped.join(', ')}`, EXIT.notFound);
    }
    const mail = requeued.length > 0 && !flags['queue-only'] ? await this.deliverQueued(sidekick) : 'queued';
    const result = { requeued, skipped, mail };
    this.output(flags.json, result, () => {
      const lines = [requeued.length === 0 ? 'No failed mail to requeue.' : `Requeued ${requeued.length} message(s): ${requeued.join(', ')}.`];
      if (skipped.length > 0) lines.push(`Not failed or unknown, left alone: ${skipped.join(', ')}.`);
      if (requeued.length > 0) lines.push(mail === 'delivered' ? 'Delivered.' : 'Queued; the server will deliver them.');
      return lines.join('\n');
    });
  }
}
