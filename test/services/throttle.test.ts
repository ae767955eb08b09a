import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { SidekickError } from '../../src/errors.ts';
import { createThrottleService, LIMITS, type ThrottleService } from '../../src/services/throttle.ts';
import { createThrottleStore } from '../../src/store/throttles.ts';
import { ManualClock } from '../helpers/clock.ts';

/** Seconds of Retry-After check() asks for, or 0 when it lets the caller through. */
function retryAfter(throttle: ThrottleService, bucket: string, limits = LIMITS.mailPerEmail): number {
  try {
    throttle.check(bucket, limits);
    return 0;
  } catch (error) {
    expect(error).toBeInstanceOf(SidekickError);
    expect((error as SidekickError).code).toBe('throttled');
    return (error as SidekickError).retryAfter!;
  }
}

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
    const bucket = 'mail:test@example.com';
    for (let i = 0; i < 5; i++) {
      expect(retryAfter(throttle, bucket), `mail ${i + 1}`).toBe(0);
      throttle.record(bucket);
      // The fifth mail fills the hour as well: the wait is then until the first one ages out.
      expect(retryAfter(throttle, bucket)).toBe(i < 4 ? 60 : 3600 - 240);
      clock.advanceSeconds(60);
    }
    expect(retryAfter(throttle, bucket)).toBe(3600 - 300);
    clock.advanceSeconds(3600 - 301);
    expect(retryAfter(throttle, bucket)).toBe(1);
    clock.advanceSeconds(1);
    expect(retryAfter(throttle, bucket)).toBe(0);
  });

  it('keeps buckets apart', () => {
    throttle.record('a');
    expect(retryAfter(throttle, 'a')).toBeGreaterThan(0);
    expect(retryAfter(throttle, 'b')).toBe(0);
  });

  it('counts held (in-flight) attempts until they are released', () => {
    const limits = LIMITS.failedLoginsPerAccount;
    const releases = Array.from({ length: 10 }, () => {
      expect(retryAfter(throttle, 'login', limits)).toBe(0);
      return throttle.hold('login');
    });
    expect(retryAfter(throttle, 'login', limits)).toBe(1);
    releases[0]();
    releases[0]();
    expect(retryAfter(throttle, 'login', limits)).toBe(0);
    for (const release of releases) release();
    expect(retryAfter(throttle, 'login', limits)).toBe(0);
  });

  it('outlives the service: limits hold for a new service over the same database', () => {
    throttle.record('mail:x');
    const again = createThrottleService(createThrottleStore(db), clock);
    expect(retryAfter(again, 'mail:x')).toBe(60);
  });

  it('purges only events older than the longest window', () => {
    throttle.record('old');
    clock.advanceSeconds(3600 + 1);
    throttle.record('new');
    expect(throttle.purge()).toBe(1);
    expect(retryAfter(throttle, 'new')).toBe(60);
  });
});
