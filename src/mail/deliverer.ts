import type { Logger } from 'pino';
import type { Clock } from '../services/clock.ts';
import type { Mailer } from '../services/mailer.ts';
import type { OutboxStore } from '../store/outbox.ts';
import { isPermanentMailError, type MailTransport } from './transports.ts';

export interface DelivererOptions {
  outbox: OutboxStore;
  mailer: Mailer;
  transport: MailTransport;
  clock: Clock;
  logger: Logger;
  /** Sends after which a message is marked failed instead of retried. */
  maxAttempts?: number;
  /** How long a claimed message is reserved for this process before another may retry it. */
  leaseMs?: number;
  /** How often the outbox is polled for mail queued by other processes (the CLI, other workers). */
  pollMs?: number;
  /** How long stop() waits for a send in progress before leaving it to be retried when its lease ends. */
  stopTimeoutMs?: number;
}

/**
 * How long after a message is queued the deliverer wakes for it. Claiming and marking a message are
 * commits of their own, which block this process's event loop for a moment: run at once, they would
 * delay the answer to whoever comes next only after requests that queued mail, and so tell which
 * addresses have accounts. Run a little later, in batches, they fall on requests of every kind alike.
 */
export const DELIVERY_DELAY_MS = 100;

/** 2 s, 4 s, 8 s, … capped at 10 minutes. */
export const retryDelayMs = (attempt: number) => Math.min(2000 * 2 ** (attempt - 1), 10 * 60_000);

/**
 * Delivers the outbox in the background, one message at a time, with retry and backoff. No HTTP answer
 * ever waits on it.
 */
export function createDeliverer(options: DelivererOptions) {
  const { outbox, mailer, transport, clock, logger } = options;
  const maxAttempts = options.maxAttempts ?? 8;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  // After stop(), nothing new is claimed, by the background loop or by drain().
  let closed = false;
  // Set when stop() gave up waiting: the database may be closed by the time the send settles.
  let abandoned = false;
  // Sends in progress, whoever started them (the loop, or a command's drain()), for stop() to wait on.
  const active = new Set<Promise<boolean>>();
  let unsubscribe = () => {};

  function deliverOne(): Promise<boolean> {
    const attempt = attemptOne();
    active.add(attempt);
    const settle = () => void active.delete(attempt);
    attempt.then(settle, settle);
    return attempt;
  }

  async function attemptOne(): Promise<boolean> {
    if (closed) return false;
    const entry = await outbox.claimDue(clock.now(), clock.now() + leaseMs);
    if (!entry) return false;
    try {
      const sent = await transport.send(mailer.open(entry));
      if (abandoned) return false;
      await outbox.markSent(entry.id, clock.now());
      // The relay's reply names its queue id: what an operator greps the relay's log for.
      const { location, response } = sent ?? {};
      logger.info(
        { mailId: entry.id, via: transport.description, ...(location ? { location } : {}), ...(response ? { smtpResponse: response } : {}) },
        'mail delivered',
      );
    } catch (error) {
      if (abandoned) return false;
      const reason = error instanceof Error ? error.message : String(error);
      if (entry.attempts >= maxAttempts || isPermanentMailError(error)) {
        await outbox.markFailed(entry.id, reason);
        logger.error({ mailId: entry.id, attempts: entry.attempts, reason }, 'mail failed for good; requeue with mail:retry');
      } else {
        const delay = retryDelayMs(entry.attempts);
        await outbox.reschedule(entry.id, clock.now() + delay, reason);
        logger.warn({ mailId: entry.id, attempts: entry.attempts, retryInMs: delay, reason }, 'mail delivery failed; will retry');
      }
    }
    return true;
  }

  /** Delivers everything due now. */
  async function drain(): Promise<void> {
    while (await deliverOne());
  }

  function schedule(delay: number) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(kick, delay);
    timer.unref();
  }

  /** The background loop: like drain(), but a stop ends it after the message in hand. */
  async function deliverUntilStopped(): Promise<void> {
    while (!stopped && (await deliverOne()));
  }

  /** Wakes the loop DELIVERY_DELAY_MS from the first of a burst of queued messages. */
  function kickSoon() {
    if (stopped || soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      kick();
    }, DELIVERY_DELAY_MS);
    soon.unref();
  }

  function kick() {
    if (stopped) return;
    if (running) return;
    running = deliverUntilStopped()
      .catch((error) => logger.error({ err: error }, 'mail deliverer error'))
      .then(async () => {
        if (stopped) return;
        const due = await outbox.nextDueAt();
        schedule(due === undefined ? pollMs : Math.min(pollMs, Math.max(0, due - clock.now())));
      })
      .catch((error) => {
        logger.error({ err: error }, 'mail deliverer error');
        schedule(pollMs);
      })
      .finally(() => {
        running = undefined;
      });
  }

  return {
    start() {
      stopped = false;
      unsubscribe = mailer.onQueued(kickSoon);
      kick();
    },
    drain,
    async stop() {
      stopped = true;
      unsubscribe();
      closed = true;
      clearTimeout(timer);
      clearTimeout(soon);
      const pending = [...active, ...(running ? [running] : [])];
      if (pending.length === 0) return;
      let giveUp: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.allSettled(pending).then(() => true),
        new Promise<boolean>((resolve) => {
          giveUp = setTimeout(resolve, stopTimeoutMs, false);
        }),
      ]);
      clearTimeout(giveUp);
      if (!finished) {
        abandoned = true;
        logger.warn({ stopTimeoutMs }, 'stopped while a mail was being sent; it will be retried when its lease ends');
      }
    },
  };
}

export type Deliverer = ReturnType<typeof createDeliverer>;
