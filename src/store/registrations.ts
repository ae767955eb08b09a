import { sql, type Executor } from '../db/port.ts';

export interface PendingRegistration {
  email: string;
  codeHash: string;
  failedAttempts: number;
  expiresAt: number;
  createdAt: number;
}

const UPSERT = sql(`INSERT INTO pending_registrations (email, code_hash, failed_attempts, expires_at, created_at)
  VALUES (?, ?, 0, ?, ?)
  ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash, failed_attempts = 0,
    expires_at = excluded.expires_at, created_at = excluded.created_at`);
// Only a registration still pending gets the new code: one consumed meanwhile stays consumed.
const RENEW = sql(`UPDATE pending_registrations SET code_hash = ?, failed_attempts = 0, expires_at = ?, created_at = ?
  WHERE email = ?`);
// A try is spent before the code is compared, in one conditional write: of N parallel guesses at most
// `maxTries` ever get a code to compare with, on either engine (PostgreSQL re-checks the condition on
// the row as the previous guess committed it).
const SPEND_TRY = sql<{ code_hash: string }>(`UPDATE pending_registrations SET failed_attempts = failed_attempts + 1
  WHERE email = ? AND expires_at > ? AND failed_attempts < ?
  RETURNING code_hash`);
// Consumes only the exact code that was checked, still live and not burned: of parallel callers, one wins.
const CONSUME = sql(`DELETE FROM pending_registrations
  WHERE email = ? AND code_hash = ? AND expires_at > ? AND failed_attempts <= ?`);
const PURGE = sql('DELETE FROM pending_registrations WHERE expires_at <= ?');

/** Registrations waiting for their code, through `db` (the database or a transaction). */
export function createRegistrationStore(db: Executor) {
  return {
    put: async (email: string, codeHash: string, now: number, expiresAt: number) =>
      void (await db.run(UPSERT, [email, codeHash, expiresAt, now])),
    /** A fresh code for a registration that is pending; false when there is none. */
    renew: async (email: string, codeHash: string, now: number, expiresAt: number) =>
      (await db.run(RENEW, [codeHash, expiresAt, now, email])) === 1,
    /**
     * Spends one of the registration's `maxTries`: the code to compare with, or undefined when there is
     * no live registration or its tries are spent.
     */
    spendTry: async (email: string, now: number, maxTries: number) => (await db.get(SPEND_TRY, [email, now, maxTries]))?.code_hash,
    consume: async (email: string, codeHash: string, now: number, maxTries: number) =>
      (await db.run(CONSUME, [email, codeHash, now, maxTries])) === 1,
    purgeExpired: (now: number) => db.run(PURGE, [now]),
  };
}

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
