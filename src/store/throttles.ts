import { sql, type Executor } from '../db/port.ts';

// Pending rows older than `stale` count as settled: the process that made them died before settling.
const COUNTS = sql<{ total: number; settled: number }>(`SELECT count(*) AS total,
    coalesce(sum(CASE WHEN pending = 0 OR at <= @stale THEN 1 ELSE 0 END), 0) AS settled
  FROM throttle_events WHERE bucket = @bucket AND at > @since`);
// The settled event whose ageing out frees a slot: the limit-th newest inside the window.
const BLOCKING = sql<{ at: number }>(`SELECT at FROM throttle_events
  WHERE bucket = @bucket AND at > @since AND (pending = 0 OR at <= @stale)
  ORDER BY at DESC LIMIT 1 OFFSET @offset`);
const INSERT = sql<{ id: number }>('INSERT INTO throttle_events (bucket, at, pending) VALUES (?, ?, ?) RETURNING id');
const SETTLE = sql('UPDATE throttle_events SET pending = 0 WHERE id = ?');
const REMOVE = sql('DELETE FROM throttle_events WHERE id = ?');
// A prefix as a range, so the index serves it and no character of the prefix is a wildcard.
const CLEAR_RANGE = sql('DELETE FROM throttle_events WHERE bucket >= ? AND bucket < ?');
const PURGE = sql('DELETE FROM throttle_events WHERE at <= ?');

/**
 * Sliding-window event log, in the database so limits hold across restarts, workers, nodes and the
 * CLI. Rows marked pending are attempts whose outcome is not known yet (see throttle.ts).
 */
export function createThrottleStore(db: Executor) {
  return {
    counts: async (bucket: string, since: number, stale: number) => (await db.get(COUNTS, { bucket, since, stale }))!,
    blockingEventAt: async (bucket: string, since: number, stale: number, limit: number) =>
      (await db.get(BLOCKING, { bucket, since, stale, offset: limit - 1 }))?.at,
    record: async (bucket: string, at: number, pending = false) => (await db.get(INSERT, [bucket, at, pending ? 1 : 0]))!.id,
    settle: async (id: number) => void (await db.run(SETTLE, [id])),
    remove: async (id: number) => void (await db.run(REMOVE, [id])),
    // U+10FFFF sorts after every character a bucket name can hold (both engines compare bucket names as
    // UTF-8 bytes: SQLite's BINARY, PostgreSQL's COLLATE "C" on the column).
    clearPrefix: async (prefix: string) => void (await db.run(CLEAR_RANGE, [prefix, `${prefix}\u{10FFFF}`])),
    purgeBefore: (cutoff: number) => db.run(PURGE, [cutoff]),
  };
}

export type ThrottleStore = ReturnType<typeof createThrottleStore>;
