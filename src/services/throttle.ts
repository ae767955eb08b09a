import { throttledError } from '../errors.ts';
import type { ThrottleStore } from '../store/throttles.ts';
import type { Clock } from './clock.ts';

export interface Limit {
  count: number;
  windowMs: number;
}

const MINUTE = 60_000;

/** The contract's limits (§5), the same for known and unknown emails. */
export const LIMITS = {
  mailPerEmail: [
    { count: 1, windowMs: MINUTE },
    { count: 5, windowMs: 60 * MINUTE },
  ],
  failedLoginsPerAccount: [{ count: 10, windowMs: 15 * MINUTE }],
  failedLoginsPerClient: [{ count: 100, windowMs: 15 * MINUTE }],
} satisfies Record<string, Limit[]>;

const LONGEST_WINDOW = Math.max(...Object.values(LIMITS).flat().map((limit) => limit.windowMs));

export function createThrottleService(store: ThrottleStore, clock: Clock) {
  /** Seconds until `bucket` has room under every limit; 0 when it has room now. */
  function waitFor(bucket: string, limits: Limit[], now: number): number {
    let waitMs = 0;
    for (const limit of limits) {
      const since = now - limit.windowMs;
      if (store.countSince(bucket, since) < limit.count) continue;
      const blocking = store.blockingEventAt(bucket, since, limit.count) ?? now;
      waitMs = Math.max(waitMs, blocking + limit.windowMs - now);
    }
    return waitMs / 1000;
  }

  return {
    /** Throws 429 when the bucket is full. Call inside the transaction that then records the event. */
    check(bucket: string, limits: Limit[]): void {
      const wait = waitFor(bucket, limits, clock.now());
      if (wait > 0) throw throttledError(wait);
    },
    record(bucket: string): void {
      store.record(bucket, clock.now());
    },
    clear(bucket: string): void {
      store.clear(bucket);
    },
    purge(): number {
      return store.purgeBefore(clock.now() - LONGEST_WINDOW);
    },
  };
}

export type ThrottleService = ReturnType<typeof createThrottleService>;
