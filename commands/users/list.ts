import { Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { table, userJson, yesNo } from '../../src/cli/present.ts';

export default class UsersList extends SidekickCommand {
  static override summary = 'List users, oldest first.';
  static override examples = [
    '<%= config.bin %> users:list',
    '<%= config.bin %> users:list --limit 50 --offset 100',
    "<%= config.bin %> users:list --json | jq -r '.users[].email'",
  ];
  static override flags = {
    limit: Flags.integer({ description: 'Most users to show.', default: 1000, min: 1 }),
    offset: Flags.integer({ description: 'Users to skip.', default: 0, min: 0 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(UsersList);
    const sidekick = await this.openExisting();
    const { users, total } = await sidekick.services.accounts.list(flags.limit, flags.offset);
    const shown = users.map(userJson);
    this.output(flags.json, { users: shown, total }, () => {
      if (shown.length === 0) return total === 0 ? 'No users.' : `No users past offset ${flags.offset} (${total} in all).`;
      const rows = shown.map((user) => [
        String(user.id),
        user.email,
        user.superhero_name,
        yesNo(user.is_active),
        yesNo(user.is_staff),
        yesNo(user.is_superuser),
        user.date_joined ?? '-',
      ]);
      const footer = shown.length < total ? `\n${shown.length} of ${total} users shown.` : '';
      return table(['ID', 'EMAIL', 'SUPERHERO', 'ACTIVE', 'STAFF', 'SUPERUSER', 'JOINED'], rows) + footer;
    });
  }
}
