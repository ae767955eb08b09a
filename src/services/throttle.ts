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
  // Attempts between check() and their outcome (a login's bcrypt runs in between). Counting them
  // stops a burst of parallel requests from all passing check() before any failure is recorded.
  const held = new Map<string, number>();

  /** Seconds until `bucket` has room under every limit; 0 when it has room now. */
  function waitFor(bucket: string, limits: Limit[], now: number): number {
    let waitMs = 0;
    for (const limit of limits) {
      const since = now - limit.windowMs;
      const recorded = store.countSince(bucket, since);
      if (recorded >= limit.count) {
        const blocking = store.blockingEventAt(bucket, since, limit.count) ?? now;
        waitMs = Math.max(waitMs, blocking + limit.windowMs - now);
      } else if (recorded + (held.get(bucket) ?? 0) >= limit.count) {
        // Full only with attempts still in flight: they may yet succeed, so ask for a short wait.
        waitMs = Math.max(waitMs, 1000);
      }
    }
    return waitMs / 1000;
  }

  return {
    /** Throws 429 when the bucket is full. Call inside the transaction that then records the event. */
    check(bucket: string, limits: Limit[]): void {
      const wait = waitFor(bucket, limits, clock.now());
      if (wait > 0) throw throttledError(wait);
    },
    /**
     * Counts an attempt now in progress against each bucket until the returned function is called.
     * Call right after check(), with no await in between, and release once the outcome is recorded.
     */
    hold(...buckets: string[]): () => void {
      for (const bucket of buckets) held.set(bucket, (held.get(bucket) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const bucket of buckets) {
          const left = (held.get(bucket) ?? 1) - 1;
          if (left > 0) held.set(bucket, left);
          else held.delete(bucket);
        }
      };
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
