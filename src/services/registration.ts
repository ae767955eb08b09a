import { randomInt } from 'node:crypto';
import { SidekickError, validationError } from '../errors.ts';
import type { MailTemplates } from '../mail/templates.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import { hmacHex, safeEqual } from './crypto.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { randomSuperheroName } from './superhero.ts';
import { RULES, type ThrottleService } from './throttle.ts';
import type { CredentialService } from './credentials.ts';
import { otpField, requestSchemas } from './request-schemas.ts';
import { minimumAgeRule, parseInput } from './validation.ts';

/** Codes a pending registration lets be tried: after this many wrong ones it is burned. */
export const MAX_OTP_TRIES = 5;

const otpInvalid = () => validationError({ otp: ['Invalid or expired OTP.'] }, 'otp_invalid');
export const emailTaken = () => validationError({ email: ['User with email already exists.'] });

export interface RegistrationServiceDeps {
  store: Store;
  hasher: PasswordHasher;
  credentials: CredentialService;
  mailer: Mailer;
  throttle: ThrottleService;
  clock: Clock;
  codeKey: Buffer;
  otpTtl: number;
  mails: MailTemplates;
  minAge?: number;
}

/** The accounts API's two-step sign-up: a code by mail, then the same body with the code. */
export function createRegistrationService(deps: RegistrationServiceDeps) {
  const { store, hasher, credentials, mailer, throttle, clock } = deps;
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);
  const schema = requestSchemas(today).registration;
  const codeHash = (email: string, code: string) => hmacHex(deps.codeKey, email, code);

  const checkAge = minimumAgeRule(deps.minAge, today);

  function parse(body: unknown) {
    const input = parseInput(schema, body, { passwordKey: 'password' });
    checkAge(input.dob);
    return input;
  }

  return {
    /**
     * Step 1. Known emails get a notice instead of a code, and the same answer: nobody learns who has an
     * account. An account whose address nobody proved (a kitchen sign-up) gets a code: see complete().
     */
    async requestCode(body: unknown, client: string): Promise<{ message: string }> {
      const { email } = parse(body);
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      await store.transaction(async (tx) => {
        await throttle.take(tx, RULES.otpMail(email), RULES.sends(client));
        if ((await tx.users.findByEmail(email))?.emailVerified) {
          await mailer.enqueue(tx, email, deps.mails.alreadyRegistered());
        } else {
          const now = clock.now();
          await tx.registrations.put(email, codeHash(email, code), now, now + deps.otpTtl * 1000);
          await mailer.enqueue(tx, email, deps.mails.registrationCode(code, deps.otpTtl));
        }
      });
      return { message: 'OTP sent to your email' };
    },

    /**
     * Step 2. The code is checked, then consumed in the same transaction that creates the user. Proving
     * the address claims an account nobody proved: the new password replaces the old one and every
     * session of the account ends, as a reset link would do; the id, superhero name and the rest of the
     * profile stay, and an operator's deactivation stands.
     */
    async complete(body: unknown): Promise<{ message: string; superhero_name: string }> {
      const input = parse(body);
      const otp = otpField.safeParse((body as Record<string, unknown>).otp);
      if (!otp.success || !/^\d{6}$/.test(otp.data)) throw otpInvalid();
      const presented = codeHash(input.email, otp.data);

      // Every code compared has spent a try first, so parallel guesses get MAX_OTP_TRIES comparisons in all.
      const expected = await store.registrations.spendTry(input.email, clock.now(), MAX_OTP_TRIES);
      if (expected === undefined || !safeEqual(expected, presented)) throw otpInvalid();

      const passwordHash = await hasher.hash(input.password);
      return store.transaction(async (tx) => {
        if (!(await tx.registrations.consume(input.email, presented, clock.now(), MAX_OTP_TRIES))) throw otpInvalid();
        const existing = await tx.users.findByEmail(input.email);
        if (existing) {
          const fields = { passwordHash, gender: input.gender ?? '', preferences: input.preferences, dob: input.dob };
          const claimed = existing.emailVerified ? undefined : await tx.users.claim(existing.id, fields, clock.now());
          if (!claimed) throw emailTaken();
          await credentials.revokeAllInTransaction(tx, claimed.id);
          await throttle.clearAccount(tx, claimed.email);
          return { message: 'User registered successfully', superhero_name: claimed.superheroName };
        }
        const user = await tx.users.insert(
          {
            email: input.email,
            passwordHash,
            gender: input.gender ?? '',
            preferences: input.preferences,
            dob: input.dob,
            emailVerified: true,
          },
          clock.now(),
          randomSuperheroName,
        );
        // A kitchen sign-up of this address committed after the read above.
        if (!user) throw emailTaken();
        return { message: 'User registered successfully', superhero_name: user.superheroName };
      });
    },

    /** A fresh code for a pending registration (operators); the old code dies. */
    /** Returns the email as stored (trimmed, lower-cased). */
    async resendCode(email: string): Promise<string> {
      const normalized = email.trim().toLowerCase();
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      await store.transaction(async (tx) => {
        const now = clock.now();
        if (!(await tx.registrations.renew(normalized, codeHash(normalized, code), now, now + deps.otpTtl * 1000))) {
          throw new SidekickError('not_found', `no pending registration for ${normalized}`);
        }
        await mailer.enqueue(tx, normalized, deps.mails.registrationCode(code, deps.otpTtl));
      });
      return normalized;
    },
  };
}

export type RegistrationService = ReturnType<typeof createRegistrationService>;
