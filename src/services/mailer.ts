import type { MailContent } from '../mail/templates.ts';
import type { Stores } from '../store/index.ts';
import type { Clock } from './clock.ts';
import { seal, unseal } from './crypto.ts';

export interface OutgoingMail {
  id: number;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Writes mail to the outbox. Call it inside the transaction that creates the code or link the mail
 * carries: both are kept, or neither. Bodies are sealed because they hold live codes and links.
 */
export function createMailer(key: Buffer, clock: Clock) {
  const listeners = new Set<() => void>();
  const sealBody = (content: MailContent) => seal(key, JSON.stringify({ text: content.text, html: content.html }));
  return {
    /** Queues the mail in `tx`, the transaction that makes what it carries. */
    async enqueue(tx: Stores, to: string, content: MailContent): Promise<number> {
      const id = await tx.outbox.add(to, content.subject, sealBody(content), clock.now());
      // The deliverer wakes DELIVERY_DELAY_MS later, long after this transaction has committed.
      for (const listener of listeners) queueMicrotask(listener);
      return id;
    },
    /**
     * Does what enqueue() does before writing, and writes nothing: a request that must not show whether
     * it mailed anyone (an unknown email's reset) spends the same time as one that did.
     */
    prepareOnly(content: MailContent): void {
      sealBody(content);
    },
    onQueued(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    open(entry: { id: number; recipient: string; subject: string; sealedBody: Uint8Array | null }): OutgoingMail {
      const { text, html } = JSON.parse(unseal(key, entry.sealedBody!)) as { text: string; html: string };
      return { id: entry.id, to: entry.recipient, subject: entry.subject, text, html };
    },
  };
}

export type Mailer = ReturnType<typeof createMailer>;
