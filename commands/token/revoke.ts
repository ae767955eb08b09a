import { Flags } from '@oclif/core';
import { SidekickCommand } from '../../src/cli/base-command.ts';
import { CliError, EXIT } from '../../src/cli/errors.ts';

export default class TokenRevoke extends SidekickCommand {
  static override summary = 'Revoke one token, or every token of a user.';
  static override description =
    'Give exactly one of --token (a JWT or an opaque token), --jti (a JWT id) or --user (an email). A JWT given with --token ends the whole login it belongs to, access and refresh token alike; --jti revokes that one JWT. The running server refuses the credential at its next request. A token or jti that names no live session exits 3 and changes nothing.';
  static override examples = [
    '<%= config.bin %> token:revoke --user mallory@example.com',
    '<%= config.bin %> token:revoke --token 3f2a…c9 --json',
    '<%= config.bin %> token:revoke --jti 6f1c2e9a-…',
  ];
  static override flags = {
    token: Flags.string({ description: 'The token itself: an access or refresh JWT (ends its login), or a 40-hex opaque token.' }),
    jti: Flags.string({ description: 'The `jti` claim of a JWT.' }),
    user: Flags.string({ description: 'Email address: revoke every session and token of this user.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenRevoke);
    const given = (['token', 'jti', 'user'] as const).filter((name) => flags[name] !== undefined);
    if (given.length !== 1) throw new CliError('give exactly one of --token, --jti or --user');
    const sidekick = await this.openExisting();
    const { credentials, accounts } = sidekick.services;

    if (flags.user !== undefined) {
      const { user, revoked } = await accounts.revokeAllTokens(flags.user);
      this.output(flags.json, { revoked, user: user.email }, () => `Revoked ${revoked} session(s) of ${user.email}.`);
    } else if (flags.jti !== undefined) {
      if (!(await credentials.revokeJti(flags.jti))) throw new CliError('no live token has that --jti', EXIT.notFound);
      this.output(flags.json, { revoked: 1, jti: flags.jti }, () => `Revoked JWT ${flags.jti}.`);
    } else {
      if (!(await credentials.revokeToken(flags.token!))) {
        throw new CliError('no live token matches --token (forged, expired or already revoked)', EXIT.notFound);
      }
      // The token itself is a credential: never echoed back.
      this.output(flags.json, { revoked: 1 }, () => 'Revoked the token.');
    }
  }
}
