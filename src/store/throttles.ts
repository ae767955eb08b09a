import type { Database } from '../db/database.ts';

/**
 * Sliding-window event log, in the database so limits hold across restarts, workers and the CLI. Rows
 * marked pending are attempts whose outcome is not known yet (see throttle.ts).
 */
export function createThrottleStore(db: Database) {
  // Pending rows older than `stale` count as settled: the process that made them died before settling.
  const counts = db.prepare<{ total: number; settled: number }>(`SELECT count(*) AS total,
      coalesce(sum(CASE WHEN pending = 0 OR at <= @stale THEN 1 ELSE 0 END), 0) AS settled
    FROM throttle_events WHERE bucket = @bucket AND at > @since`);
  // The settled event whose ageing out frees a slot: the limit-th newest inside the window.
  const blocking = db.prepare<{ at: number }>(`SELECT at FROM throttle_events
    WHERE bucket = @bucket AND at > @since AND (pending = 0 OR at <= @stale)
    ORDER BY at DESC LIMIT 1 OFFSET @offset`);
  const insert = db.prepare<{ id: number }>('INSERT INTO throttle_events (bucket, at, pending) VALUES (?, ?, ?) RETURNING id');
  const settle = db.prepare('UPDATE throttle_events SET pending = 0 WHERE id = ?');
  const remove = db.prepare('DELETE FROM throttle_events WHERE id = ?');
  // A prefix as a range, so the index serves it and no character of the prefix is a wildcard.
  const clearRange = db.prepare('DELETE FROM throttle_events WHERE bucket >= ? AND bucket < ?');
  const purge = db.prepare('DELETE FROM throttle_events WHERE at <= ?');

  return {
    counts: (bucket: string, since: number, stale: number) => counts.get({ bucket, since, stale })!,
    blockingEventAt: (bucket: string, since: number, stale: number, limit: number) =>
      blocking.get({ bucket, since, stale, offset: limit - 1 })?.at,
    record: (bucket: string, at: number, pending = false) => insert.get(bucket, at, pending ? 1 : 0)!.id,
    settle: (id: number) => void settle.run(id),
    remove: (id: number) => void remove.run(id),
    // U+10FFFF sorts after every character a bucket name can hold (text compares as UTF-8 bytes).
    clearPrefix: (prefix: string) => void clearRange.run(prefix, `${prefix}\u{10FFFF}`),
    purgeBefore: (cutoff: number) => purge.run(cutoff).changes,
  };
}

export type ThrottleStore = ReturnType<typeof createThrottleStore>;
