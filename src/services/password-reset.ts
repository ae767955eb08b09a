import { SidekickError } from '../errors.ts';
import type { MailTemplates } from '../mail/templates.ts';
import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { hmacHex, safeEqual } from './crypto.ts';
import type { CredentialService } from './credentials.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { RULES, type ThrottleService } from './throttle.ts';
import { resetConfirmBody, resetRequestBody } from './request-schemas.ts';
import { parseInput } from './validation.ts';

const linkInvalid = () => new SidekickError('reset_link_invalid', 'Invalid or expired link.');

export interface PasswordResetDeps {
  store: Store;
  hasher: PasswordHasher;
  credentials: CredentialService;
  mailer: Mailer;
  throttle: ThrottleService;
  clock: Clock;
  resetKey: Buffer;
  resetTtl: number;
  publicUrl: string;
  /** SIDEKICK_RESET_URL: an app's own reset page, with `{uid}` and `{token}` to fill in. */
  resetUrl?: string;
  mails: MailTemplates;
}

/** Who an unknown email's link is made for (and never sent to). */
const NOBODY = { id: 0, passwordVersion: 0 };

export const encodeUid = (userId: number) => Buffer.from(String(userId)).toString('base64url');

function decodeUid(uidb64: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(uidb64)) return undefined;
  const text = Buffer.from(uidb64, 'base64url').toString('utf8');
  return /^[1-9]\d{0,15}$/.test(text) ? Number(text) : undefined;
}

/**
 * Reset links carry no server-side state: the token is an HMAC over the user's id, password version
 * and the issue time, so it dies by itself once the password changes (it was used, or another link or
 * an operator changed it), and by its age after the TTL. Logins (and the rehash a login may do) leave
 * it alone: whoever knows the password must not be able to keep the owner's links dead.
 */
export function createPasswordResetService(deps: PasswordResetDeps) {
  const { store, hasher, credentials, mailer, throttle, clock } = deps;

  const sign = (user: Pick<User, 'id' | 'passwordVersion'>, issuedAt: number) =>
    hmacHex(deps.resetKey, user.id, user.passwordVersion, issuedAt).slice(0, 40);

  function makeLink(user: Pick<User, 'id' | 'passwordVersion'>): string {
    const issuedAt = Math.floor(clock.now() / 1000);
    const token = `${issuedAt.toString(36)}-${sign(user, issuedAt)}`;
    const uid = encodeUid(user.id);
    // Both are URL-safe as they stand (base64url; base-36 digits, a dash, hex), so the template
    // needs no encoding: the app reads back exactly what it must POST to /api/users/reset/<uid>/<token>/.
    if (deps.resetUrl !== undefined) return deps.resetUrl.replaceAll('{uid}', uid).replaceAll('{token}', token);
    return `${deps.publicUrl}/api/users/reset/${uid}/${token}/`;
  }

  /** The active user the link belongs to, if the link is genuine, unused and unexpired. */
  async function userForLink(uidb64: string, token: string): Promise<User> {
    const userId = decodeUid(uidb64);
    const match = /^([0-9a-z]{1,10})-([0-9a-f]{40})$/.exec(token);
    if (userId === undefined || !match) throw linkInvalid();
    const issuedAt = parseInt(match[1], 36);
    const age = Math.floor(clock.now() / 1000) - issuedAt;
    if (age < 0 || age > deps.resetTtl) throw linkInvalid();
    const user = await store.users.findById(userId);
    if (!user || !user.isActive || !safeEqual(sign(user, issuedAt), match[2])) throw linkInvalid();
    return user;
  }

  return {
    async requestLink(body: unknown, client: string): Promise<{ message: string }> {
      const { email } = parseInput(resetRequestBody, body);
      await store.transaction(async (tx) => {
        await throttle.take(tx, RULES.resetMail(email), RULES.sends(client));
        const user = await tx.users.findByEmail(email);
        // An unknown (or inactive) address gets the same link made and sealed, for nobody: no timing shows it.
        const mail = deps.mails.passwordReset(makeLink(user ?? NOBODY), deps.resetTtl);
        if (user?.isActive) await mailer.enqueue(tx, user.email, mail);
        else mailer.prepareOnly(mail);
      });
      return { message: 'Password reset link sent to your email' };
    },

    /** Throws unless the link would be accepted; viewing it consumes nothing. */
    async checkLink(uidb64: string, token: string): Promise<void> {
      await userForLink(uidb64, token);
    },

    async confirm(uidb64: string, token: string, body: unknown): Promise<{ message: string }> {
      const user = await userForLink(uidb64, token);
      // Django's form field is `new_password`; some clients send `password`.
      const input = body as Record<string, unknown> | null;
      const normalized =
        input && typeof input === 'object' && !Array.isArray(input) && input.new_password === undefined && input.password !== undefined
          ? { ...input, new_password: input.password }
          : body;
      const { new_password } = parseInput(resetConfirmBody, normalized, {
        passwordKey: 'new_password',
        emailForPassword: user.email,
      });
      const passwordHash = await hasher.hash(new_password);
      await store.transaction(async (tx) => {
        // Compare-and-set on the version the link was checked against: a link is used at most once.
        if (!(await tx.users.resetPassword(user.id, user.passwordVersion, passwordHash, clock.now()))) throw linkInvalid();
        await credentials.revokeAllInTransaction(tx, user.id);
        // The owner proved the mailbox: whatever was guessed at the account before no longer counts.
        await throttle.clearAccount(tx, user.email);
        await mailer.enqueue(tx, user.email, deps.mails.passwordChanged());
      });
      return { message: 'Password reset successful' };
    },

    makeLink,
  };
}

export type PasswordResetService = ReturnType<typeof createPasswordResetService>;
