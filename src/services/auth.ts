import { z } from 'zod';
import { SidekickError, validationError } from '../errors.ts';
import type { User } from '../store/users.ts';
import type { Credential, CredentialService, TokenPair } from './credentials.ts';
import { parseInput, passwordField, text } from './validation.ts';

// Login takes the email as typed (any text, as SimpleJWT's field does): a malformed one simply fails.
const loginSchema = z.object({
  email: text(254).transform((email) => email.toLowerCase()),
  password: passwordField,
});

const tokenField = (name: string) => z.object({ [name]: text(4096) });
const refreshSchema = tokenField('refresh');
const verifySchema = tokenField('token');

/**
 * The endpoints' view of credentials: request bodies in, tokens out. The two APIs' logins share one
 * password check and differ only in the answer a failure gets.
 */
export function createAuthService(credentials: CredentialService) {
  async function check(body: unknown, client: string, onFailure: () => SidekickError): Promise<User> {
    const { email, password } = parseInput(loginSchema, body);
    const user = await credentials.checkPassword(email, password, client);
    if (!user) throw onFailure();
    return user;
  }

  return {
    async withJwt(body: unknown, client: string): Promise<{ pair: TokenPair; user: User }> {
      const user = await check(
        body,
        client,
        () => new SidekickError('no_active_account', 'No active account found with the given credentials'),
      );
      return { pair: credentials.issueJwtPair(user), user };
    },

    async withToken(body: unknown, client: string): Promise<{ token: string; user: User }> {
      const user = await check(body, client, () =>
        validationError({ non_field_errors: ['Unable to log in with provided credentials.'] }, 'invalid_credentials'),
      );
      return { token: credentials.issueOpaqueToken(user), user };
    },

    /** A kitchen sign-up is signed in at once. */
    tokenFor: (user: User) => credentials.issueOpaqueToken(user),

    refresh: (body: unknown) => credentials.refresh(parseInput(refreshSchema, body).refresh),
    verify: (body: unknown) => credentials.verify(parseInput(verifySchema, body).token),
    blacklist: (body: unknown) => credentials.blacklist(parseInput(refreshSchema, body).refresh),
    authenticate: (header: string | undefined) => credentials.authenticate(header),
    logout: (credential: Credential) => credentials.logout(credential),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
