import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { SidekickError } from '../../src/errors.ts';
import { createThrottleService, LIMITS, PENDING_ATTEMPT_LIFETIME_MS, RULES, type Attempt, type Rule, type ThrottleService } from '../../src/services/throttle.ts';
import { createStore, type Store } from '../../src/store/index.ts';
import { ManualClock } from '../helpers/clock.ts';
import { bothEngines, openTestDatabase } from '../helpers/postgres.ts';

/** Seconds of Retry-After `run` was refused with (taking a slot when there is room), or 0 when it let the caller through. */
async function retryAfter(run: () => Promise<unknown>): Promise<number> {
  try {
    await run();
    return 0;
  } catch (error) {
    expect(error).toBeInstanceOf(SidekickError);
    expect((error as SidekickError).code).toBe('throttled');
    return (error as SidekickError).retryAfter!;
  }
}

const mailRule = (bucket: string): Rule => ({ bucket, limits: LIMITS.mailPerEmail });

describe.each(bothEngines())('throttle service on %s', (engine) => {
  let db: Database;
  let store: Store;
  let clock: ManualClock;
  let throttle: ThrottleService;
  // Each call in a transaction of its own, as the services make them.
  const take = (...rules: Rule[]) => store.transaction((tx) => throttle.take(tx, ...rules));
  const begin = (...rules: Rule[]) => store.transaction((tx) => throttle.begin(tx, ...rules));
  const fail = (attempt: Attempt) => store.transaction((tx) => throttle.fail(tx, attempt));
  const forgive = (attempt: Attempt) => store.transaction((tx) => throttle.forgive(tx, attempt));

  beforeEach(async () => {
    db = await openTestDatabase(engine);
    store = createStore(db);
    clock = new ManualClock();
    throttle = createThrottleService(clock);
  });
  afterEach(async () => {
    await db.close();
  });

  it('allows one mail a minute and five an hour, with the exact wait', async () => {
    const rule = mailRule('mail:test@example.com');
    for (let i = 0; i < 5; i++) {
      expect(await retryAfter(() => take(rule)), `mail ${i + 1}`).toBe(0);
      // The fifth mail fills the hour as well: the wait is then until the first one ages out.
      expect(await retryAfter(() => take(rule))).toBe(i < 4 ? 60 : 3600 - 240);
      clock.advanceSeconds(60);
    }
    expect(await retryAfter(() => take(rule))).toBe(3600 - 300);
    clock.advanceSeconds(3600 - 301);
    expect(await retryAfter(() => take(rule))).toBe(1);
    clock.advanceSeconds(1);
    expect(await retryAfter(() => take(rule))).toBe(0);
  });

  it('keeps buckets apart, and a refused take() counts in none of its rules', async () => {
    await take(mailRule('a'));
    expect(await retryAfter(() => take(mailRule('a'), mailRule('b')))).toBe(60);
    expect(await retryAfter(() => take(mailRule('b')))).toBe(0);
  });

  it('counts pending attempts until they are settled: forgiven ones stop counting, failed ones keep counting', async () => {
    const rule: Rule = { bucket: 'login', limits: LIMITS.failedLoginsPerAccountAndClient };
    const attempts: Attempt[] = [];
    for (let i = 0; i < 10; i++) attempts.push(await begin(rule));
    // Full only with attempts in flight: a short wait, since they may yet succeed.
    expect(await retryAfter(() => begin(rule))).toBe(1);
    await forgive(attempts[0]);
    const eleventh = await begin(rule);
    for (const attempt of [...attempts.slice(1), eleventh]) await fail(attempt);
    // Ten settled failures: the wait is the window's.
    expect(await retryAfter(() => begin(rule))).toBe(15 * 60);
  });

  it('counts a pending attempt left by a dead process as a failure once it is older than any check', async () => {
    const rule: Rule = { bucket: 'login', limits: LIMITS.failedLoginsPerAccountAndClient };
    for (let i = 0; i < 10; i++) await begin(rule);
    clock.advance(PENDING_ATTEMPT_LIFETIME_MS);
    expect(await retryAfter(() => begin(rule))).toBe(15 * 60 - PENDING_ATTEMPT_LIFETIME_MS / 1000);
  });

  it('clears every login count of an account, from every address, and nothing of other accounts', async () => {
    const fill = async (email: string, client: string) => {
      for (let i = 0; i < 10; i++) await fail(await begin(...RULES.login(email, client)));
    };
    await fill('victim@example.com', '192.0.2.1');
    await fill('victim@example.com', '192.0.2.2');
    await fill('victim.other@example.com', '192.0.2.3');
    expect(await retryAfter(() => begin(...RULES.login('victim@example.com', '192.0.2.1')))).toBeGreaterThan(1);
    await store.transaction((tx) => throttle.clearAccount(tx, 'victim@example.com'));
    expect(await retryAfter(() => begin(...RULES.login('victim@example.com', '192.0.2.1')))).toBe(0);
    expect(await retryAfter(() => begin(...RULES.login('victim@example.com', '192.0.2.2')))).toBe(0);
    expect(await retryAfter(() => begin(...RULES.login('victim.other@example.com', '192.0.2.3')))).toBeGreaterThan(1);
  });

  it('outlives the service: limits hold for a new service over the same database', async () => {
    await take(mailRule('mail:x'));
    const again = createThrottleService(clock);
    expect(await retryAfter(() => store.transaction((tx) => again.take(tx, mailRule('mail:x'))))).toBe(60);
  });

  it('purges only events older than the longest window', async () => {
    await take(mailRule('old'));
    clock.advanceSeconds(3600 + 1);
    await take(mailRule('new'));
    expect(await throttle.purge(store)).toBe(1);
    expect(await retryAfter(() => take(mailRule('new')))).toBe(60);
  });

  it('lets exactly the limit through when many callers take one bucket at once', async () => {
    const rule: Rule = { bucket: 'race', limits: [{ count: 3, windowMs: 60_000 }] };
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => retryAfter(() => take(rule))));
    expect(outcomes.filter((wait) => wait === 0)).toHaveLength(3);
  });
});
