import { SidekickError, validationError } from '../errors.ts';
import type { User } from '../store/users.ts';
import type { Credential, CredentialService, Minted, TokenPair } from './credentials.ts';
import type { PasswordLogin } from './password-login.ts';
import { loginBody, refreshBody, verifyBody } from './request-schemas.ts';
import { parseInput } from './validation.ts';

/**
 * The endpoints' view of credentials: request bodies in, tokens out. The two APIs' logins share one
 * password check and differ only in the answer a failure gets.
 */
export function createAuthService(credentials: CredentialService, login: PasswordLogin) {
  async function check<T>(body: unknown, client: string, mint: (user: User) => Minted<T>, onFailure: () => SidekickError) {
    const { email, password } = parseInput(loginBody, body);
    const result = await login(email, password, client, mint);
    if (!result) throw onFailure();
    return result;
  }

  return {
    async withJwt(body: unknown, client: string): Promise<{ pair: TokenPair; user: User }> {
      const { user, issued } = await check(
        body,
        client,
        credentials.mintJwtPair,
        () => new SidekickError('no_active_account', 'No active account found with the given credentials'),
      );
      return { pair: issued, user };
    },

    async withToken(body: unknown, client: string): Promise<{ token: string; user: User }> {
      const { user, issued } = await check(body, client, credentials.mintOpaqueToken, () =>
        validationError({ non_field_errors: ['Unable to log in with provided credentials.'] }, 'invalid_credentials'),
      );
      return { token: issued, user };
    },

    /** A kitchen sign-up is signed in at once. */
    tokenFor: (user: User) => credentials.issueOpaqueToken(user),

    refresh: (body: unknown) => credentials.refresh(parseInput(refreshBody, body).refresh),
    verify: (body: unknown) => credentials.verify(parseInput(verifyBody, body).token),
    blacklist: (body: unknown) => credentials.blacklist(parseInput(refreshBody, body).refresh),
    authenticate: (header: string | undefined) => credentials.authenticate(header),
    logout: (credential: Credential) => credentials.logout(credential),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
