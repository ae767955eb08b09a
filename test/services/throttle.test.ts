import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { SidekickError } from '../../src/errors.ts';
import { createThrottleService, LIMITS, PENDING_ATTEMPT_LIFETIME_MS, RULES, type Rule, type ThrottleService } from '../../src/services/throttle.ts';
import { createThrottleStore } from '../../src/store/throttles.ts';
import { ManualClock } from '../helpers/clock.ts';

/** Seconds of Retry-After take() asks for (taking a slot when there is room), or 0 when it let the caller through. */
function retryAfter(run: () => unknown): number {
  try {
    run();
    return 0;
  } catch (error) {
    expect(error).toBeInstanceOf(SidekickError);
    expect((error as SidekickError).code).toBe('throttled');
    return (error as SidekickError).retryAfter!;
  }
}

const mailRule = (bucket: string): Rule => ({ bucket, limits: LIMITS.mailPerEmail });

describe('throttle service on SQLite', () => {
  let dir: string;
  let db: Database;
  let clock: ManualClock;
  let throttle: ThrottleService;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-throttle-'));
    db = openDatabase(path.join(dir, 'db.sqlite'));
    migrate(db);
    clock = new ManualClock();
    throttle = createThrottleService(createThrottleStore(db), clock);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('allows one mail a minute and five an hour, with the exact wait', () => {
    const rule = mailRule('mail:test@example.com');
    for (let i = 0; i < 5; i++) {
      expect(retryAfter(() => throttle.take(rule)), `mail ${i + 1}`).toBe(0);
      // The fifth mail fills the hour as well: the wait is then until the first one ages out.
      expect(retryAfter(() => throttle.take(rule))).toBe(i < 4 ? 60 : 3600 - 240);
      clock.advanceSeconds(60);
    }
    expect(retryAfter(() => throttle.take(rule))).toBe(3600 - 300);
    clock.advanceSeconds(3600 - 301);
    expect(retryAfter(() => throttle.take(rule))).toBe(1);
    clock.advanceSeconds(1);
    expect(retryAfter(() => throttle.take(rule))).toBe(0);
  });

  it('keeps buckets apart, and a refused take() counts in none of its rules', () => {
    throttle.take(mailRule('a'));
    expect(retryAfter(() => throttle.take(mailRule('a'), mailRule('b')))).toBe(60);
    expect(retryAfter(() => throttle.take(mailRule('b')))).toBe(0);
  });

  it('counts pending attempts until they are settled: forgiven ones stop counting, failed ones keep counting', () => {
    const rule: Rule = { bucket: 'login', limits: LIMITS.failedLoginsPerAccountAndClient };
    const attempts = Array.from({ length: 10 }, () => throttle.begin(rule));
    // Full only with attempts in flight: a short wait, since they may yet succeed.
    expect(retryAfter(() => throttle.begin(rule))).toBe(1);
    throttle.forgive(attempts[0]);
    const eleventh = throttle.begin(rule);
    for (const attempt of [...attempts.slice(1), eleventh]) throttle.fail(attempt);
    // Ten settled failures: the wait is the window's.
    expect(retryAfter(() => throttle.begin(rule))).toBe(15 * 60);
  });

  it('counts a pending attempt left by a dead process as a failure once it is older than any check', () => {
    const rule: Rule = { bucket: 'login', limits: LIMITS.failedLoginsPerAccountAndClient };
    for (let i = 0; i < 10; i++) throttle.begin(rule);
    clock.advance(PENDING_ATTEMPT_LIFETIME_MS);
    expect(retryAfter(() => throttle.begin(rule))).toBe(15 * 60 - PENDING_ATTEMPT_LIFETIME_MS / 1000);
  });

  it('clears every login count of an account, from every address, and nothing of other accounts', () => {
    const fill = (email: string, client: string) => {
      for (let i = 0; i < 10; i++) throttle.fail(throttle.begin(...RULES.login(email, client)));
    };
    fill('victim@example.com', '192.0.2.1');
    fill('victim@example.com', '192.0.2.2');
    fill('victim.other@example.com', '192.0.2.3');
    expect(retryAfter(() => throttle.begin(...RULES.login('victim@example.com', '192.0.2.1')))).toBeGreaterThan(1);
    throttle.clearAccount('victim@example.com');
    expect(retryAfter(() => throttle.begin(...RULES.login('victim@example.com', '192.0.2.1')))).toBe(0);
    expect(retryAfter(() => throttle.begin(...RULES.login('victim@example.com', '192.0.2.2')))).toBe(0);
    expect(retryAfter(() => throttle.begin(...RULES.login('victim.other@example.com', '192.0.2.3')))).toBeGreaterThan(1);
  });

  it('outlives the service: limits hold for a new service over the same database', () => {
    throttle.take(mailRule('mail:x'));
    const again = createThrottleService(createThrottleStore(db), clock);
    expect(retryAfter(() => again.take(mailRule('mail:x')))).toBe(60);
  });

  it('purges only events older than the longest window', () => {
    throttle.take(mailRule('old'));
    clock.advanceSeconds(3600 + 1);
    throttle.take(mailRule('new'));
    expect(throttle.purge()).toBe(1);
    expect(retryAfter(() => throttle.take(mailRule('new')))).toBe(60);
  });
});
