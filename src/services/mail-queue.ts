import type { Database } from '../db/database.ts';
import type { OutboxStore } from '../store/outbox.ts';
import type { Clock } from './clock.ts';

/** Operators' hand on the outbox: mail that failed for good goes back to the queue. */
export function createMailQueueService(deps: { db: Database; outbox: OutboxStore; clock: Clock }) {
  const { db, outbox, clock } = deps;
  return {
    /**
     * Requeues the given failed messages (or every failed one), starting again from the first attempt.
     * Ids that are unknown or not failed are reported as skipped and left alone.
     */
    requeueFailed(which: number[] | 'all-failed'): { requeued: number[]; skipped: number[] } {
      const now = clock.now();
      const wanted = which === 'all-failed' ? outbox.list('failed', 1_000_000).map((entry) => entry.id) : which;
      const requeued = db.immediate(() => wanted.filter((id) => outbox.requeue(id, now)));
      return { requeued, skipped: wanted.filter((id) => !requeued.includes(id)) };
    },
  };
}
