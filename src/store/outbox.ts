import type { Database } from '../db/database.ts';

export type OutboxStatus = 'pending' | 'sent' | 'failed';

export interface OutboxEntry {
  id: number;
  recipient: string;
  subject: string;
  sealedBody: Uint8Array | null;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

interface Row {
  id: number;
  recipient: string;
  subject: string;
  sealed_body: Uint8Array | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

const toEntry = (row: Row): OutboxEntry => ({
  id: row.id,
  recipient: row.recipient,
  subject: row.subject,
  sealedBody: row.sealed_body,
  status: row.status,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  lastError: row.last_error,
  createdAt: row.created_at,
  sentAt: row.sent_at,
});

export function createOutboxStore(db: Database) {
  const insert = db.prepare<{ id: number }>(`INSERT INTO outbox (recipient, subject, sealed_body, next_attempt_at, created_at)
    VALUES (?, ?, ?, ?, ?) RETURNING id`);
  // Claiming pushes next_attempt_at forward by a lease: a process that dies mid-send leaves the
  // message to be retried when the lease runs out, never lost and never sent by two at once.
  const claim = db.prepare<Row>(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = @leaseUntil
    WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= @now ORDER BY next_attempt_at, id LIMIT 1)
    RETURNING *`);
  const markSent = db.prepare(
    "UPDATE outbox SET status = 'sent', sent_at = ?, sealed_body = NULL, last_error = NULL WHERE id = ?",
  );
  const reschedule = db.prepare('UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?');
  const markFailed = db.prepare("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?");
  const requeue = db.prepare(
    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'failed'",
  );
  const nextDue = db.prepare<{ at: number | null }>(
    "SELECT min(next_attempt_at) AS at FROM outbox WHERE status = 'pending'",
  );
  const list = db.prepare<Row>('SELECT * FROM outbox WHERE (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit');
  const purgeSent = db.prepare("DELETE FROM outbox WHERE status = 'sent' AND sent_at <= ?");
  const purgeFailed = db.prepare("DELETE FROM outbox WHERE status = 'failed' AND created_at <= ?");

  return {
    add: (recipient: string, subject: string, sealedBody: Uint8Array, now: number) =>
      insert.get(recipient, subject, sealedBody, now, now)!.id,
    claimDue: (now: number, leaseUntil: number) => {
      const row = claim.get({ now, leaseUntil });
      return row && toEntry(row);
    },
    markSent: (id: number, now: number) => void markSent.run(now, id),
    reschedule: (id: number, at: number, error: string) => void reschedule.run(at, error, id),
    markFailed: (id: number, error: string) => void markFailed.run(error, id),
    requeue: (id: number, now: number) => requeue.run(now, id).changes === 1,
    nextDueAt: () => nextDue.get()!.at ?? undefined,
    list: (status: OutboxStatus | null, limit: number) => list.all({ status, limit }).map(toEntry),
    purgeSentBefore: (cutoff: number) => purgeSent.run(cutoff).changes,
    purgeFailedBefore: (cutoff: number) => purgeFailed.run(cutoff).changes,
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
