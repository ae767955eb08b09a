import type { Database } from '../db/database.ts';

/** The statements behind /healthz and the start-up integrity check, prepared once. */
export function createHealthStore(db: Database) {
  // Every page of the users table itself (NOT INDEXED: count(*) would read the smallest index instead),
  // as logins and profile reads depend on it: a corrupt one fails here.
  const readUsers = db.prepare<{ n: number }>('SELECT count(*) AS n FROM users NOT INDEXED');
  const touch = db.prepare('UPDATE health_probe SET checked_at = ? WHERE id = 1');
  return {
    readUsers: () => readUsers.get()!.n,
    write: (now: number) => touch.run(now).changes === 1,
    /** SQLite's quick_check: `['ok']` for a healthy file, else what it found. */
    quickCheck: () => db.prepare<{ quick_check: string }>('PRAGMA quick_check').all().map((row) => row.quick_check),
  };
}

export type HealthStore = ReturnType<typeof createHealthStore>;
