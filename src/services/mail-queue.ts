import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';

/** Operators' hand on the outbox: mail that failed for good goes back to the queue. */
export function createMailQueueService(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;
  return {
    /**
     * Requeues the given failed messages (or every failed one), starting again from the first attempt.
     * Ids that are unknown or not failed are reported as skipped and left alone.
     */
    async requeueFailed(which: number[] | 'all-failed'): Promise<{ requeued: number[]; skipped: number[] }> {
      const now = clock.now();
      const wanted = which === 'all-failed' ? (await store.outbox.list('failed', 1_000_000)).map((entry) => entry.id) : which;
      const requeued = await store.transaction(async (tx) => {
        const done: number[] = [];
        for (const id of wanted) if (await tx.outbox.requeue(id, now)) done.push(id);
        return done;
      });
      return { requeued, skipped: wanted.filter((id) => !requeued.includes(id)) };
    },
  };
}
