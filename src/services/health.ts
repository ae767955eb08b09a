import type { Engine } from '../db/port.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import type { MaybePromise } from './maybe-async.ts';
import { createUnchangedCache } from './unchanged-cache.ts';

/**
 * How long a successful full probe vouches for the database. Within it a health check only reads the
 * time of the last one: the full probe (every page of the users table, a committed write, so an fsync)
 * would otherwise run once per call, and /healthz needs no credential, so a flood of calls became a flood
 * of disk writes. Load balancers and orchestrators probe every few seconds, each of their calls still
 * meets a full probe.
 */
export const FULL_PROBE_INTERVAL_MS = 1000;

/**
 * Whether the database can serve what logins need: read the users table and commit a write. Every call
 * reads the database; the full probe runs when the last success, recorded in the database so every
 * worker and node shares it, is older than FULL_PROBE_INTERVAL_MS. A failed probe records nothing, so
 * until one succeeds every call probes again and answers from what it finds.
 *
 * On SQLite the recorded time is read through the database's change stamp (see unchanged-cache.ts): one
 * `pread` of the wal-index header, which every commit by any process rewrites, instead of a statement
 * and the two `fcntl` locks of its read transaction; the answer is what the statement would return.
 */
export function createHealthService(deps: { engine: Engine; store: Store; clock: Clock; changeStamp: (() => string) | undefined }) {
  const { store, clock } = deps;
  const recorded = createUnchangedCache<number>(deps.changeStamp, 1);
  // Calls arriving while a full probe is under way (PostgreSQL answers asynchronously) share its answer.
  let probing: Promise<boolean> | undefined;

  async function fullProbe(now: number): Promise<boolean> {
    await store.health.readUsers();
    return store.health.write(now);
  }

  /** Whether a recorded success vouches for the database at `now`. */
  const fresh = (last: number, now: number) => now >= last && now - last < FULL_PROBE_INTERVAL_MS;

  async function probe(now: number): Promise<boolean> {
    try {
      const last = await recorded.get('last probe', store.health.lastProbe);
      if (last === undefined) return false;
      // A clock behind the recorded time (another node's) counts as due, never as fresh.
      if (fresh(last, now)) return true;
      probing ??= fullProbe(now).finally(() => {
        probing = undefined;
      });
      return await probing;
    } catch {
      return false;
    }
  }

  return {
    /**
     * True at once while a success recorded in the database, as the change stamp shows it unchanged,
     * vouches for it; otherwise a promise of the answer (reading the record, and probing when it is due).
     */
    check(): MaybePromise<boolean> {
      const now = clock.now();
      let last: number | undefined;
      try {
        last = recorded.known('last probe');
      } catch {
        return false;
      }
      return last !== undefined && fresh(last, now) ? true : probe(now);
    },

    /**
     * SQLite's quick_check, for start-up: undefined when the file is healthy, else what was found.
     * PostgreSQL checks its own pages (and is not Sidekick's to vouch for).
     */
    async integrityProblem(): Promise<string | undefined> {
      if (deps.engine !== 'sqlite') return undefined;
      const found = await store.health.quickCheck();
      return found.length === 1 && found[0] === 'ok' ? undefined : found.slice(0, 3).join('; ');
    },
  };
}
