import { parseOptions } from '@node-rs/bcrypt';
import { availableParallelism } from 'node:os';
import { createHashPool } from './hash-pool.ts';
import { hashFormat, isLegacyFormat, truncatesAt72Bytes } from './password-formats.ts';
import { createLimiter } from './limiter.ts';
import { MAX_PASSWORD_BYTES } from './password-policy.ts';

export interface PasswordHasherOptions {
  cost: number;
  /**
   * Hashes running at once, each on its own low-priority thread (see hash-pool.ts); one per core by
   * default, so logins use every idle cycle and nothing else waits behind them.
   */
  concurrency?: number;
  /** Hash requests allowed to wait; beyond that callers get 503 at once. */
  maxQueue?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions) {
  const concurrency = options.concurrency ?? Math.max(1, availableParallelism());
  const pool = createHashPool({ size: concurrency });
  const limiter = createLimiter(concurrency, options.maxQueue ?? 64 * concurrency);
  const cost = options.cost;
  let dummyHash: Promise<string> | undefined;
  // Work done by verifications: bcrypt in rounds (2^cost each), so equal-cost paths compare exactly, and
  // checks of other formats by count.
  let verifiedRounds = 0;
  let legacyChecks = 0;

  const verifyWithPool = async (password: string, passwordHash: string) => {
    const format = hashFormat(passwordHash);
    const matches = await pool.verify(password, passwordHash);
    if (format === 'sidekick_bcrypt') verifiedRounds += 2 ** costOf(passwordHash);
    else legacyChecks++;
    return matches;
  };
  const check = (password: string, passwordHash: string) => limiter.run(() => verifyWithPool(password, passwordHash));

  const hashPassword = (password: string) =>
    limiter.run(() => pool.hash(password, cost));

  /** Spends what a check at the configured cost spends, so that no kind of failure answers sooner. */
  async function spendOneCheck(password: string): Promise<void> {
    // A refusal (503 under overload) must not be remembered: every later unknown-email login would fail.
    dummyHash ??= hashPassword('sidekick timing equaliser').catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    const equaliser = await dummyHash;
    await check(password, equaliser);
  }

  /** Spends one check of an imported format, so that paths without one take as long as paths with one. */
  async function spendLegacyCheck(password: string, legacySample: string | undefined): Promise<void> {
    if (legacySample !== undefined && isLegacyFormat(hashFormat(legacySample))) await check(password, legacySample);
  }

  return {
    hash: hashPassword,
    /**
     * Whether `password` is the one `passwordHash` was made from. Every outcome spends the same work:
     * - a bcrypt hash: one check at the configured cost (a failure against a cheaper hash, made before
     *   the cost was raised, spends one more full check, else its answer would come early);
     * - a hash of an imported format: its own check, then one bcrypt at the configured cost, which is
     *   the rehash a success costs (password-login.ts) or, on a failure, a full check;
     * - while imported hashes remain (`legacySample` is one of them), every path without one spends one
     *   check of that format too, so neither an unknown email nor a bcrypt account answers sooner than
     *   an imported account that has not logged in yet.
     * Unusable and unrecognised hashes match nothing, after the same work.
     */
    async verify(password: string, passwordHash: string, legacySample?: string): Promise<boolean> {
      const format = hashFormat(passwordHash);
      if (isLegacyFormat(format)) {
        const matches = (await check(password, passwordHash)) && (!truncatesAt72Bytes(format) || Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES);
        if (!matches) await spendOneCheck(password);
        return matches;
      }
      // bcrypt's verify silently truncates at 72 bytes, so a stored 72-byte password would also match
      // itself plus anything. Longer passwords are never stored: refuse them, after the same work.
      const matches =
        format === 'sidekick_bcrypt' &&
        (await check(password, passwordHash)) &&
        Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
      if (format !== 'sidekick_bcrypt' || (!matches && costOf(passwordHash) < cost)) await spendOneCheck(password);
      await spendLegacyCheck(password, legacySample);
      return matches;
    },
    /** Spends the same work as a real check, so an unknown email answers as slowly as a wrong password. */
    async verifyNothing(password: string, legacySample?: string): Promise<false> {
      await spendOneCheck(password);
      await spendLegacyCheck(password, legacySample);
      return false;
    },
    /**
     * Whether a hash that just matched `password` should be replaced: made at another bcrypt cost, or in
     * an imported format. Not when bcrypt cannot take the password (over 72 bytes, which pbkdf2 allows):
     * that hash stays as it is.
     */
    needsRehash(passwordHash: string, password: string): boolean {
      if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
      const format = hashFormat(passwordHash);
      return isLegacyFormat(format) || (format === 'sidekick_bcrypt' && costOf(passwordHash) !== cost);
    },
    /** Total bcrypt rounds spent on verifications since start. */
    get verifiedRounds() {
      return verifiedRounds;
    },
    /** Checks of imported formats (pbkdf2, argon2, …) since start. */
    get legacyChecks() {
      return legacyChecks;
    },
    get pending() {
      return limiter.pending;
    },
    /** Ends the hashing threads; later calls fail. */
    close: () => pool.close(),
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

/** The cost recorded in a bcrypt hash, or -1 when it is not one. */
function costOf(passwordHash: string): number {
  try {
    return parseOptions(passwordHash).cost;
  } catch {
    return -1;
  }
}
