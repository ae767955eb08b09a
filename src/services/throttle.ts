import { throttledError } from '../errors.ts';
import type { Stores } from '../store/index.ts';
import type { Clock } from './clock.ts';
import { throttleKey } from './client-address.ts';

export interface Limit {
  count: number;
  windowMs: number;
}

/** One bucket and the limits it is held to. */
export interface Rule {
  bucket: string;
  limits: readonly Limit[];
}

const MINUTE = 60_000;

/** The contract's limits (§5), the same for known and unknown emails. */
export const LIMITS = {
  mailPerEmail: [
    { count: 1, windowMs: MINUTE },
    { count: 5, windowMs: 60 * MINUTE },
  ],
  /** Anything that sends mail or creates an account. */
  sendsPerClient: [{ count: 20, windowMs: 60 * MINUTE }],
  failedLoginsPerAccountAndClient: [{ count: 10, windowMs: 15 * MINUTE }],
  failedLoginsPerClient: [{ count: 100, windowMs: 15 * MINUTE }],
  /** NIST 800-63B's ceiling, from all addresses together. */
  failedLoginsPerAccount: [{ count: 100, windowMs: 60 * MINUTE }],
} satisfies Record<string, Limit[]>;

const LONGEST_WINDOW = Math.max(...Object.values(LIMITS).flat().map((limit) => limit.windowMs));

/**
 * A pending attempt older than this was left by a process that died mid-check (no password check lasts
 * this long: requests time out at 30 s); it counts as a failure from then on.
 */
export const PENDING_ATTEMPT_LIFETIME_MS = 60_000;

/** Buckets of the contract's rules; the account's buckets share a prefix, so a reset can clear them. */
const accountPrefix = (email: string) => `login:account:${email} `;

export const RULES = {
  /**
   * A failed login counts against the account from this address, the address, and the account from
   * everywhere. Failures from one address never fill another address's bucket: only the account's
   * ceiling, ten times higher, is shared.
   */
  login: (email: string, client: string): Rule[] => {
    const from = throttleKey(client);
    return [
      { bucket: `${accountPrefix(email)}from ${from}`, limits: LIMITS.failedLoginsPerAccountAndClient },
      { bucket: `login:client:${from}`, limits: LIMITS.failedLoginsPerClient },
      { bucket: `${accountPrefix(email)}all`, limits: LIMITS.failedLoginsPerAccount },
    ];
  },
  otpMail: (email: string): Rule => ({ bucket: `mail:otp:${email}`, limits: LIMITS.mailPerEmail }),
  resetMail: (email: string): Rule => ({ bucket: `mail:reset:${email}`, limits: LIMITS.mailPerEmail }),
  sends: (client: string): Rule => ({ bucket: `sends:client:${throttleKey(client)}`, limits: LIMITS.sendsPerClient }),
};

/** The ids of one attempt's pending events, one per rule. */
export interface Attempt {
  readonly ids: readonly number[];
}

/**
 * Sliding windows kept in the database. Every method runs inside the caller's transaction (`tx`): the
 * check and the event it records are one atomic step for every process and node. SQLite's transaction
 * is the only writer; PostgreSQL's takes an advisory lock per bucket first.
 */
export function createThrottleService(clock: Clock) {
  /** Seconds until `rule` has room under every limit; 0 when it has room now. */
  async function waitFor(tx: Stores, rule: Rule, now: number): Promise<number> {
    const stale = now - PENDING_ATTEMPT_LIFETIME_MS;
    let waitMs = 0;
    for (const limit of rule.limits) {
      const since = now - limit.windowMs;
      const { total, settled } = await tx.throttles.counts(rule.bucket, since, stale);
      if (total < limit.count) continue;
      if (settled >= limit.count) {
        const blocking = (await tx.throttles.blockingEventAt(rule.bucket, since, stale, limit.count)) ?? now;
        waitMs = Math.max(waitMs, blocking + limit.windowMs - now);
      } else {
        // Full only with attempts still in flight: they may yet succeed, so ask for a short wait.
        waitMs = Math.max(waitMs, 1000);
      }
    }
    return waitMs / 1000;
  }

  /** Locks the rules' buckets, then 429 (with the longest wait) unless every rule has room. */
  async function check(tx: Stores, rules: readonly Rule[], now: number): Promise<void> {
    await tx.lock(rules.map((rule) => `throttle:${rule.bucket}`));
    let wait = 0;
    for (const rule of rules) wait = Math.max(wait, await waitFor(tx, rule, now));
    if (wait > 0) throw throttledError(wait);
  }

  return {
    /** 429 unless every rule has room; then one event counts against each. */
    async take(tx: Stores, ...rules: Rule[]): Promise<void> {
      const now = clock.now();
      await check(tx, rules, now);
      for (const rule of rules) await tx.throttles.record(rule.bucket, now);
    },

    /**
     * Like take(), for an attempt whose outcome comes later (a login's password check): it counts as a
     * failure until settled, so N parallel attempts can never all pass. Settle with fail() or forgive().
     */
    async begin(tx: Stores, ...rules: Rule[]): Promise<Attempt> {
      const now = clock.now();
      await check(tx, rules, now);
      const ids: number[] = [];
      for (const rule of rules) ids.push(await tx.throttles.record(rule.bucket, now, true));
      return { ids };
    },
    /** The attempt failed: it keeps counting, for the rest of its windows. */
    async fail(tx: Stores, attempt: Attempt): Promise<void> {
      for (const id of attempt.ids) await tx.throttles.settle(id);
    },
    /** The attempt succeeded, or never got to be a guess (overload, a server error): it stops counting. */
    async forgive(tx: Stores, attempt: Attempt): Promise<void> {
      for (const id of attempt.ids) await tx.throttles.remove(id);
    },

    /** A completed password reset: the owner proved the mailbox, so the account's login counts restart. */
    async clearAccount(tx: Stores, email: string): Promise<void> {
      await tx.throttles.clearPrefix(accountPrefix(email));
    },
    purge(store: Stores): Promise<number> {
      return store.throttles.purgeBefore(clock.now() - LONGEST_WINDOW);
    },
  };
}

export type ThrottleService = ReturnType<typeof createThrottleService>;
