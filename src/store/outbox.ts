import { sql, type Executor } from '../db/port.ts';

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

// Claiming pushes next_attempt_at forward by a lease: a process that dies mid-send leaves the message to
// be retried when the lease runs out, never lost and never sent by two at once. PostgreSQL: SKIP LOCKED,
// so of nodes claiming at once each gets another message (or none), and the outer WHERE is re-checked
// on the row as committed; on SQLite the statement is the only writer.
const CLAIM_WHERE = `status = 'pending' AND next_attempt_at <= @now`;
const CLAIM = sql<Row>(
  `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = @leaseUntil
  WHERE id = (SELECT id FROM outbox WHERE ${CLAIM_WHERE} ORDER BY next_attempt_at, id LIMIT 1) AND ${CLAIM_WHERE}
  RETURNING *`,
  {
    postgres: `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = @leaseUntil
  WHERE id = (SELECT id FROM outbox WHERE ${CLAIM_WHERE} ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    AND ${CLAIM_WHERE}
  RETURNING *`,
  },
);
const INSERT = sql<{ id: number }>(`INSERT INTO outbox (recipient, subject, sealed_body, next_attempt_at, created_at)
  VALUES (?, ?, ?, ?, ?) RETURNING id`);
const MARK_SENT = sql("UPDATE outbox SET status = 'sent', sent_at = ?, sealed_body = NULL, last_error = NULL WHERE id = ?");
const RESCHEDULE = sql('UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?');
const MARK_FAILED = sql("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?");
const REQUEUE = sql("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'failed'");
const NEXT_DUE = sql<{ at: number | null }>("SELECT min(next_attempt_at) AS at FROM outbox WHERE status = 'pending'");
const LIST = sql<Row>('SELECT * FROM outbox WHERE (CAST(@status AS TEXT) IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit');
const PURGE_SENT = sql("DELETE FROM outbox WHERE status = 'sent' AND sent_at <= ?");
const PURGE_FAILED = sql("DELETE FROM outbox WHERE status = 'failed' AND created_at <= ?");

/** Mail waiting for delivery and what became of it, through `db` (the database or a transaction). */
export function createOutboxStore(db: Executor) {
  return {
    add: async (recipient: string, subject: string, sealedBody: Uint8Array, now: number) =>
      (await db.get(INSERT, [recipient, subject, sealedBody, now, now]))!.id,
    claimDue: async (now: number, leaseUntil: number) => {
      const row = await db.get(CLAIM, { now, leaseUntil });
      return row && toEntry(row);
    },
    markSent: async (id: number, now: number) => void (await db.run(MARK_SENT, [now, id])),
    reschedule: async (id: number, at: number, error: string) => void (await db.run(RESCHEDULE, [at, error, id])),
    markFailed: async (id: number, error: string) => void (await db.run(MARK_FAILED, [error, id])),
    requeue: async (id: number, now: number) => (await db.run(REQUEUE, [now, id])) === 1,
    nextDueAt: async () => (await db.get(NEXT_DUE))!.at ?? undefined,
    list: async (status: OutboxStatus | null, limit: number) => (await db.all(LIST, { status, limit })).map(toEntry),
    purgeSentBefore: (cutoff: number) => db.run(PURGE_SENT, [cutoff]),
    purgeFailedBefore: (cutoff: number) => db.run(PURGE_FAILED, [cutoff]),
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
