import type { Database } from '../db/database.ts';
import type { HealthStore } from '../store/health.ts';
import type { Clock } from './clock.ts';

/** Whether the database can serve what logins need: read the users table and commit a write. */
export function createHealthService(deps: { db: Database; health: HealthStore; clock: Clock }) {
  const { db, health, clock } = deps;
  return {
    check(): boolean {
      try {
        health.readUsers();
        return db.immediate(() => health.write(clock.now()));
      } catch {
        return false;
      }
    },

    /** SQLite's quick_check, for start-up: undefined when the file is healthy, else what was found. */
    integrityProblem(): string | undefined {
      const found = health.quickCheck();
      return found.length === 1 && found[0] === 'ok' ? undefined : found.slice(0, 3).join('; ');
    },
  };
}
