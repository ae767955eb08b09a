import type { Engine } from '../db/port.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';

/** Whether the database can serve what logins need: read the users table and commit a write. */
export function createHealthService(deps: { engine: Engine; store: Store; clock: Clock }) {
  const { store, clock } = deps;
  return {
    async check(): Promise<boolean> {
      try {
        await store.health.readUsers();
        return await store.health.write(clock.now());
      } catch {
        return false;
      }
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
