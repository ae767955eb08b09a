import type { Database } from '../db/database.ts';

/** Sliding-window event log, in the database so limits hold across restarts, workers and the CLI. */
export function createThrottleStore(db: Database) {
  const count = db.prepare<{ n: number }>('SELECT count(*) AS n FROM throttle_events WHERE bucket = ? AND at > ?');
  // The event whose ageing out frees a slot: the limit-th newest inside the window.
  const blocking = db.prepare<{ at: number }>(
    'SELECT at FROM throttle_events WHERE bucket = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?',
  );
  const insert = db.prepare('INSERT INTO throttle_events (bucket, at) VALUES (?, ?)');
  const clear = db.prepare('DELETE FROM throttle_events WHERE bucket = ?');
  const purge = db.prepare('DELETE FROM throttle_events WHERE at <= ?');

  return {
    countSince: (bucket: string, since: number) => count.get(bucket, since)!.n,
    blockingEventAt: (bucket: string, since: number, limit: number) => blocking.get(bucket, since, limit - 1)?.at,
    record: (bucket: string, at: number) => void insert.run(bucket, at),
    clear: (bucket: string) => void clear.run(bucket),
    purgeBefore: (cutoff: number) => purge.run(cutoff).changes,
  };
}

export type ThrottleStore = ReturnType<typeof createThrottleStore>;
