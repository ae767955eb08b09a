import { parseOptions } from '@node-rs/bcrypt';
import { availableParallelism } from 'node:os';
import { createBcryptPool } from './bcrypt-pool.ts';
import { createLimiter } from './limiter.ts';
import { MAX_PASSWORD_BYTES } from './password-policy.ts';

export interface PasswordHasherOptions {
  cost: number;
  /**
   * Hashes running at once, each on its own low-priority thread (see bcrypt-pool.ts); one per core by
   * default, so logins use every idle cycle and nothing else waits behind them.
   */
  concurrency?: number;
  /** Hash requests allowed to wait; beyond that callers get 503 at once. */
  maxQueue?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions) {
  const concurrency = options.concurrency ?? Math.max(1, availableParallelism());
  const pool = createBcryptPool({ size: concurrency });
  const limiter = createLimiter(concurrency, options.maxQueue ?? 64 * concurrency);
  const cost = options.cost;
  let dummyHash: Promise<string> | undefined;
  // bcrypt work done by verifications, in rounds (2^cost each), so equal-cost paths can be compared exactly.
  let verifiedRounds = 0;

  const verifyWithPool = async (password: string, passwordHash: string) => {
    const matches = await pool.verify(password, passwordHash);
    verifiedRounds += 2 ** Math.max(0, costOf(passwordHash));
    return matches;
  };

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
    await limiter.run(() => verifyWithPool(password, equaliser));
  }

  return {
    hash: hashPassword,
    /**
     * Whether `password` is the one `passwordHash` was made from. A failure against a cheaper hash (one
     * made before the cost was raised, or no bcrypt hash at all) also spends a full check: otherwise
     * its answer would come early and tell an attacker which accounts hold old hashes.
     */
    async verify(password: string, passwordHash: string): Promise<boolean> {
      const hashCost = costOf(passwordHash);
      // bcrypt's verify silently truncates at 72 bytes, so a stored 72-byte password would also match
      // itself plus anything. Longer passwords are never stored: refuse them, after the same work.
      const matches =
        hashCost >= 0 &&
        (await limiter.run(() => verifyWithPool(password, passwordHash))) &&
        Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
      if (!matches && hashCost < cost) await spendOneCheck(password);
      return matches;
    },
    /** Spends the same work as a real check, so an unknown email answers as slowly as a wrong password. */
    async verifyNothing(password: string): Promise<false> {
      await spendOneCheck(password);
      return false;
    },
    needsRehash: (passwordHash: string): boolean => costOf(passwordHash) !== cost,
    /** Total bcrypt rounds spent on verifications since start. */
    get verifiedRounds() {
      return verifiedRounds;
    },
    get pending() {
      return limiter.pending;
    },
    /** Ends the bcrypt threads; later calls fail. */
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
