import { Args, Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';

export default class TokenIssue extends SidekickCommand {
  static override summary = 'Mint credentials for a user, for scripts and demos.';
  static override description =
    'jwt (default): an access and a refresh token, as POST /api/users/login/ returns. token: an opaque token, as POST /token/ returns. The credential is printed once and stored only as a hash.';
  static override examples = [
    '<%= config.bin %> token:issue ada@example.com',
    'ACCESS=$(<%= config.bin %> token:issue ada@example.com --json | jq -r .access)',
    '<%= config.bin %> token:issue ada@example.com --kind token',
  ];
  static override args = {
    email: Args.string({ description: 'Email address of an active user.' }),
  };
  static override flags = {
    kind: Flags.string({ description: 'What to mint.', options: ['jwt', 'token'], default: 'jwt' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(TokenIssue);
    const sidekick = await this.openExisting();
    const email = await this.emailArgument(args.email);
    const issued = await sidekick.services.accounts.issueCredentials(email, flags.kind as 'jwt' | 'token');
    const owner = { user_id: issued.user.id, email: issued.user.email };
    if (issued.kind === 'jwt') {
      this.output(flags.json, { kind: 'jwt', access: issued.access, refresh: issued.refresh, ...owner }, () =>
        `access:  ${issued.access}\nrefresh: ${issued.refresh}`,
      );
    } else {
      this.output(flags.json, { kind: 'token', token: issued.token, ...owner }, () => issued.token);
    }
  }
}
