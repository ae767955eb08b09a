import { hash, parseOptions, verify } from '@node-rs/bcrypt';
import { availableParallelism } from 'node:os';
import { createLimiter } from './limiter.ts';

export interface PasswordHasherOptions {
  cost: number;
  /** Hashes running at once. Kept below the libuv pool size so JWT verification never queues behind bcrypt. */
  concurrency?: number;
  /** Hash requests allowed to wait; beyond that callers get 503 at once. */
  maxQueue?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions) {
  const concurrency = options.concurrency ?? Math.max(1, Math.min(availableParallelism(), 2));
  const limiter = createLimiter(concurrency, options.maxQueue ?? 64 * concurrency);
  const cost = options.cost;
  let dummyHash: Promise<string> | undefined;

  const hashPassword = (password: string) =>
    limiter.run(() => hash(password, { cost, rejectLongPasswords: true }));

  return {
    hash: hashPassword,
    verify: (password: string, passwordHash: string) => limiter.run(() => verify(password, passwordHash)),
    /** Spends the same work as a real check, so an unknown email answers as slowly as a wrong password. */
    async verifyNothing(password: string): Promise<false> {
      dummyHash ??= hashPassword('sidekick timing equaliser');
      const equaliser = await dummyHash;
      await limiter.run(() => verify(password, equaliser));
      return false;
    },
    needsRehash(passwordHash: string): boolean {
      try {
        return parseOptions(passwordHash).cost !== cost;
      } catch {
        return true;
      }
    },
    get pending() {
      return limiter.pending;
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
