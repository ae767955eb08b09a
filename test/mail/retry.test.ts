import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createDeliverer, retryDelayMs } from '../../src/mail/deliverer.ts';
import { createSmtpTransport } from '../../src/mail/transports.ts';
import { createMailTemplates } from '../../src/mail/templates.ts';
import { deriveKey } from '../../src/services/crypto.ts';
import { createMailer } from '../../src/services/mailer.ts';
import { createStores } from '../../src/store/index.ts';
import { registrationBody } from '../helpers/accounts.ts';
import { ManualClock } from '../helpers/clock.ts';
import { call } from '../helpers/http.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { LogCapture, TEST_SECRET } from '../helpers/sidekick.ts';
import { codeIn, TestSmtpServer } from '../helpers/smtp.ts';

/** Polls `check` until it holds; the background deliverer runs on real timers. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const mails = createMailTemplates({ appName: 'Sidekick', resetRequestUrl: 'http://localhost:8000/api/users/reset-password/' });

describe('delivery retries while the SMTP server is down', () => {
  let smtp: TestSmtpServer;
  let live: LiveSidekick;
  let clock: ManualClock;

  beforeEach(async () => {
    // Learn a free port, then take the server down: connections to it are refused.
    smtp = await new TestSmtpServer().start();
    await smtp.stop();
    clock = new ManualClock();
    live = await createLiveSidekick({ SIDEKICK_SMTP_URL: smtp.url }, { clock });
  });
  afterEach(async () => {
    await live.close();
    await smtp.stop();
  });

  const outbox = () => live.sidekick.services.outbox.list(null, 10);
  const entries = (msg: string) => live.logEntries().filter((entry) => entry.msg === msg);

  it('still answers registration at once with 200 and keeps the mail pending', async () => {
    live.sidekick.deliverer.start();
    const started = performance.now();
    const response = await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('down@example.com') });
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(2000);
    await eventually(async () => (await outbox())[0]?.attempts === 1 && (await outbox())[0]?.lastError !== null);
    expect((await outbox())[0]).toMatchObject({ status: 'pending', recipient: 'down@example.com' });
    expect((await outbox())[0].lastError).toMatch(/ECONNREFUSED/);
  });

  it('reschedules a failed send with growing backoff and does not retry before it is due', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('backoff@example.com') });
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: clock.now() + 2000 });

    clock.advance(1999);
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0].attempts).toBe(1);

    clock.advance(1);
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: clock.now() + 4000 });
    expect(entries('mail delivery failed; will retry').map((entry) => entry.retryInMs)).toEqual([2000, 4000]);
  });

  it('delivers the pending mail, code intact, once the SMTP server is back', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('later@example.com') });
    await live.sidekick.deliverer.drain();
    clock.advance(2000);
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0].attempts).toBe(2);

    await smtp.start();
    clock.advance(4000);
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 3, sealedBody: null, lastError: null });
    const mail = smtp.lastTo('later@example.com')!;
    const done = await call(live.app, 'POST', '/api/users/register/', {
      body: registrationBody('later@example.com', { otp: codeIn(mail) }),
    });
    expect(done.status).toBe(201);
  });

  it('retries in the background on its own and delivers when the server comes back', async () => {
    live.sidekick.deliverer.start();
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('background@example.com') });
    await eventually(async () => (await outbox())[0]?.attempts === 1 && (await outbox())[0]?.lastError !== null);
    await smtp.start();
    clock.advance(retryDelayMs(1));
    const [mail] = await smtp.waitFor(1);
    expect(mail.rcptTo).toEqual(['background@example.com']);
    await eventually(async () => (await outbox())[0].status === 'sent');
  });

  it('marks the mail failed after the last attempt and logs one error line', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('lost@example.com') });
    for (let attempt = 1; attempt <= 8; attempt++) {
      await live.sidekick.deliverer.drain();
      expect((await outbox())[0].attempts).toBe(attempt);
      clock.advance(retryDelayMs(attempt));
    }
    expect((await outbox())[0]).toMatchObject({ status: 'failed', attempts: 8 });
    expect((await outbox())[0].lastError).toMatch(/ECONNREFUSED/);
    const errors = live.logEntries().filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: expect.stringMatching(/failed for good/), attempts: 8 });
    expect(entries('mail delivery failed; will retry')).toHaveLength(7);

    // A failed mail is left alone, even once SMTP is back.
    await smtp.start();
    clock.advance(24 * 3600_000);
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'failed', attempts: 8 });
    expect(smtp.received).toHaveLength(0);
  });
});

describe('a relay that refuses a recipient', () => {
  let smtp: TestSmtpServer;
  let live: LiveSidekick;
  let clock: ManualClock;
  beforeEach(async () => {
    smtp = await new TestSmtpServer().start();
    clock = new ManualClock();
    live = await createLiveSidekick({ SIDEKICK_SMTP_URL: smtp.url }, { clock });
  });
  afterEach(async () => {
    await live.close();
    await smtp.stop();
  });
  const outbox = () => live.sidekick.services.outbox.list(null, 10);

  it('marks a mail failed at once on a permanent 5xx refusal, with one error line, and keeps delivering others', async () => {
    smtp.refuseRecipient = (address) => (address === 'gone@example.com' ? 550 : undefined);
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('gone@example.com') });
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('here@example.com') });
    await live.sidekick.deliverer.drain();
    const byRecipient = Object.fromEntries((await outbox()).map((entry) => [entry.recipient, entry]));
    expect(byRecipient['gone@example.com']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(byRecipient['gone@example.com'].lastError).toMatch(/550/);
    expect(byRecipient['here@example.com']).toMatchObject({ status: 'sent' });
    const errors = live.logEntries().filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(/failed for good/);
  });

  it('retries a temporary 4xx refusal until the relay takes the mail', async () => {
    smtp.refuseRecipient = () => 450;
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('busy@example.com') });
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await outbox())[0].lastError).toMatch(/450/);
    smtp.refuseRecipient = () => undefined;
    clock.advance(retryDelayMs(1));
    await live.sidekick.deliverer.drain();
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 2 });
    expect(smtp.lastTo('busy@example.com')).toBeDefined();
  });
});

describe('a relay that accepts connections but never answers', () => {
  let blackHole: Server;
  const sockets: Socket[] = [];
  beforeEach(async () => {
    sockets.length = 0;
    blackHole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
  });

  /** A deliverer of its own, with a short stop timeout, sending to the silent relay. */
  const delivererToBlackHole = async () => {
    const live = await createLiveSidekick();
    const logs = new LogCapture();
    const stores = createStores(live.sidekick.db);
    const outbox = stores.outbox;
    const clock = new ManualClock();
    const mailer = createMailer(deriveKey(TEST_SECRET, 'outbox'), clock);
    const transport = createSmtpTransport(`smtp://127.0.0.1:${(blackHole.address() as AddressInfo).port}`, 'a@b.test');
    const deliverer = createDeliverer({ outbox, mailer, transport, clock, logger: createLogger('debug', logs), stopTimeoutMs: 300 });
    return { live, logs, outbox, stores, clock, mailer, transport, deliverer };
  };

  it('does not hold up the registration answer', async () => {
    const live = await createLiveSidekick({ SIDEKICK_SMTP_URL: `smtp://127.0.0.1:${(blackHole.address() as AddressInfo).port}` });
    try {
      live.sidekick.deliverer.start();
      await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('first@example.com') });
      await eventually(() => sockets.length === 1);
      const started = performance.now();
      const response = await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('second@example.com') });
      expect(response.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      // Hanging up lets the send in progress fail now rather than at the deliverer's stop timeout.
      for (const socket of sockets) socket.destroy();
      await live.close();
    }
  });

  it('stops within its stop timeout even when a command-style drain() is the one stuck sending', async () => {
    const { live, logs, stores, mailer, transport, deliverer } = await delivererToBlackHole();
    try {
      await mailer.enqueue(stores, 'stuck@example.com', mails.registrationCode('123456', 600));
      await mailer.enqueue(stores, 'next@example.com', mails.registrationCode('654321', 600));
      const draining = deliverer.drain();
      await eventually(() => sockets.length === 1);
      const started = performance.now();
      await deliverer.stop();
      expect(performance.now() - started).toBeLessThan(2500);
      expect(logs.text).toMatch(/will be retried when its lease ends/);
      await live.sidekick.db.close();
      // The send fails once the relay hangs up; with the database gone, it must settle quietly.
      for (const socket of sockets) socket.destroy();
      await expect(draining).resolves.toBeUndefined();
      expect(sockets).toHaveLength(1); // the second mail was never tried
    } finally {
      transport.close();
      await live.close();
    }
  });

  it('lets the deliverer stop after its stop timeout, leaving the mail to be retried', async () => {
    const { live, logs, outbox, stores, clock, mailer, transport, deliverer } = await delivererToBlackHole();
    try {
      deliverer.start();
      await mailer.enqueue(stores, 'stuck@example.com', mails.registrationCode('123456', 600));
      await eventually(() => sockets.length === 1);
      const started = performance.now();
      await deliverer.stop();
      expect(performance.now() - started).toBeLessThan(2500);
      expect(logs.text).toMatch(/will be retried when its lease ends/);
      // Claimed under a lease: pending, and due again once the lease runs out.
      const [entry] = await outbox.list(null, 1);
      expect(entry).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: clock.now() + 60_000 });
    } finally {
      transport.close();
      await live.close();
    }
  });
});
