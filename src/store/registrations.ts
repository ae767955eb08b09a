import type { Database } from '../db/database.ts';

export interface PendingRegistration {
  email: string;
  codeHash: string;
  failedAttempts: number;
  expiresAt: number;
  createdAt: number;
}

interface Row {
  email: string;
  code_hash: string;
  failed_attempts: number;
  expires_at: number;
  created_at: number;
}

export function createRegistrationStore(db: Database) {
  const upsert = db.prepare(`INSERT INTO pending_registrations (email, code_hash, failed_attempts, expires_at, created_at)
    VALUES (?, ?, 0, ?, ?)
    ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash, failed_attempts = 0,
      expires_at = excluded.expires_at, created_at = excluded.created_at`);
  const find = db.prepare<Row>('SELECT * FROM pending_registrations WHERE email = ?');
  const countFailure = db.prepare(
    'UPDATE pending_registrations SET failed_attempts = failed_attempts + 1 WHERE email = ?',
  );
  // Consumes only the exact code that was checked, still live and unburned: of parallel callers, one wins.
  const consume = db.prepare(`DELETE FROM pending_registrations
    WHERE email = ? AND code_hash = ? AND expires_at > ? AND failed_attempts < ?`);
  const remove = db.prepare('DELETE FROM pending_registrations WHERE email = ?');
  const purge = db.prepare('DELETE FROM pending_registrations WHERE expires_at <= ?');

  return {
    put: (email: string, codeHash: string, now: number, expiresAt: number) =>
      void upsert.run(email, codeHash, expiresAt, now),
    find: (email: string): PendingRegistration | undefined => {
      const row = find.get(email);
      return (
        row && {
          email: row.email,
          codeHash: row.code_hash,
          failedAttempts: row.failed_attempts,
          expiresAt: row.expires_at,
          createdAt: row.created_at,
        }
      );
    },
    recordFailure: (email: string) => void countFailure.run(email),
    consume: (email: string, codeHash: string, now: number, maxFailures: number) =>
      consume.run(email, codeHash, now, maxFailures).changes === 1,
    delete: (email: string) => void remove.run(email),
    purgeExpired: (now: number) => purge.run(now).changes,
  };
}

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
