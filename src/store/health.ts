import { sql, type Executor } from '../db/port.ts';

const LAST_PROBE = sql<{ checked_at: number }>('SELECT checked_at FROM health_probe WHERE id = 1');
// Every page of the users table itself (SQLite: NOT INDEXED, else count(*) would read the smallest index
// instead), as logins and profile reads depend on it: a corrupt one fails here.
const READ_USERS = sql<{ n: number }>('SELECT count(*) AS n FROM users NOT INDEXED', {
  postgres: 'SELECT count(*) AS n FROM users',
});
const TOUCH = sql('UPDATE health_probe SET checked_at = ? WHERE id = 1');
const QUICK_CHECK = sql<{ quick_check: string }>('PRAGMA quick_check');

/** The statements behind /healthz and the start-up integrity check. */
export function createHealthStore(db: Executor) {
  return {
    /** When the last full probe (read every users page, commit a write) succeeded, by any process. */
    lastProbe: async () => (await db.get(LAST_PROBE))?.checked_at,
    readUsers: async () => (await db.get(READ_USERS))!.n,
    write: async (now: number) => (await db.run(TOUCH, [now])) === 1,
    /** SQLite's quick_check: `['ok']` for a healthy file, else what it found. */
    quickCheck: async () => (await db.all(QUICK_CHECK)).map((row) => row.quick_check),
  };
}

export type HealthStore = ReturnType<typeof createHealthStore>;
