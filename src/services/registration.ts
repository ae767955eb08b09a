import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { SidekickError, validationError } from '../errors.ts';
import { alreadyRegisteredMail, registrationCodeMail } from '../mail/templates.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { UserStore } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { hmacHex, safeEqual } from './crypto.ts';
import type { Mailer } from './mailer.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { uniqueSuperheroName } from './superhero.ts';
import { RULES, type ThrottleService } from './throttle.ts';
import type { CredentialService } from './credentials.ts';
import { emailField, minimumAgeRule, parseInput, passwordField, pastDateField, text } from './validation.ts';

/** Wrong codes a pending registration survives; the next one burns it. */
export const MAX_OTP_FAILURES = 5;

const otpInvalid = () => validationError({ otp: ['Invalid or expired OTP.'] }, 'otp_invalid');
export const emailTaken = () => validationError({ email: ['User with email already exists.'] });

export interface RegistrationServiceDeps {
  db: Database;
  users: UserStore;
  registrations: RegistrationStore;
  hasher: PasswordHasher;
  credentials: CredentialService;
  mailer: Mailer;
  throttle: ThrottleService;
  clock: Clock;
  codeKey: Buffer;
  otpTtl: number;
  resetRequestUrl: string;
  minAge?: number;
}

/** The accounts API's two-step sign-up: a code by mail, then the same body with the code. */
export function createRegistrationService(deps: RegistrationServiceDeps) {
  const { db, users, registrations, hasher, credentials, mailer, throttle, clock } = deps;
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);
  const schema = z.object({
    email: emailField,
    password: passwordField,
    gender: text(10, { allowBlank: true }).optional(),
    preferences: text(100),
    dob: pastDateField(today),
  });
  const otpSchema = z.union([z.string(), z.number()]).transform((otp) => String(otp).trim());
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
    requestCode(body: unknown, client: string): { message: string } {
      const { email } = parse(body);
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      db.immediate(() => {
        throttle.take(RULES.otpMail(email), RULES.sends(client));
        if (users.findByEmail(email)?.emailVerified) {
          mailer.enqueue(email, alreadyRegisteredMail(deps.resetRequestUrl));
        } else {
          const now = clock.now();
          registrations.put(email, codeHash(email, code), now, now + deps.otpTtl * 1000);
          mailer.enqueue(email, registrationCodeMail(code, deps.otpTtl));
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
      const otp = otpSchema.safeParse((body as Record<string, unknown>).otp);
      if (!otp.success || !/^\d{6}$/.test(otp.data)) throw otpInvalid();
      const presented = codeHash(input.email, otp.data);

      const verdict = db.immediate(() => {
        const pending = registrations.find(input.email);
        if (!pending || pending.expiresAt <= clock.now() || pending.failedAttempts >= MAX_OTP_FAILURES) return 'invalid';
        if (!safeEqual(pending.codeHash, presented)) {
          registrations.recordFailure(input.email);
          return 'invalid';
        }
        return 'ok';
      });
      if (verdict !== 'ok') throw otpInvalid();

      const passwordHash = await hasher.hash(input.password);
      return db.immediate(() => {
        if (!registrations.consume(input.email, presented, clock.now(), MAX_OTP_FAILURES)) throw otpInvalid();
        const existing = users.findByEmail(input.email);
        if (existing) {
          const fields = { passwordHash, gender: input.gender ?? '', preferences: input.preferences, dob: input.dob };
          const claimed = existing.emailVerified ? undefined : users.claim(existing.id, fields, clock.now());
          if (!claimed) throw emailTaken();
          credentials.revokeAllInTransaction(claimed.id);
          throttle.clearAccount(claimed.email);
          return { message: 'User registered successfully', superhero_name: claimed.superheroName };
        }
        const user = users.insert(
          {
            email: input.email,
            passwordHash,
            superheroName: uniqueSuperheroName(users.superheroNameExists),
            gender: input.gender ?? '',
            preferences: input.preferences,
            dob: input.dob,
            emailVerified: true,
          },
          clock.now(),
        );
        return { message: 'User registered successfully', superhero_name: user.superheroName };
      });
    },

    /** A fresh code for a pending registration (operators); the old code dies. */
    /** Returns the email as stored (trimmed, lower-cased). */
    resendCode(email: string): string {
      const normalized = email.trim().toLowerCase();
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      db.immediate(() => {
        if (!registrations.find(normalized)) {
          throw new SidekickError('not_found', `no pending registration for ${normalized}`);
        }
        const now = clock.now();
        registrations.put(normalized, codeHash(normalized, code), now, now + deps.otpTtl * 1000);
        mailer.enqueue(normalized, registrationCodeMail(code, deps.otpTtl));
      });
      return normalized;
    },
  };
}

export type RegistrationService = ReturnType<typeof createRegistrationService>;
