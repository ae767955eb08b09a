import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { ManualClock } from '../helpers/clock.ts';
import { call } from '../helpers/http.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { codeIn, resetLinkIn, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../helpers/smtp.ts';

const FROM = 'Sidekick Test <accounts@sidekick.test>';
const PUBLIC_URL = 'https://accounts.sidekick.test';

describe('mail over real SMTP', () => {
  let smtp: TestSmtpServer;
  let live: LiveSidekick;
  let clock: ManualClock;

  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await smtp.stop();
  });
  beforeEach(async () => {
    smtp.received.length = 0;
    clock = new ManualClock();
    live = await createLiveSidekick(
      { SIDEKICK_SMTP_URL: smtp.url, SIDEKICK_MAIL_FROM: FROM, SIDEKICK_PUBLIC_URL: PUBLIC_URL },
      { clock },
    );
  });
  afterEach(async () => {
    await live.close();
  });

  /** Sends what is due through the Sidekick's own SMTP transport and returns the newest mail to `to`. */
  async function deliveredTo(to: string): Promise<ReceivedMail> {
    await live.sidekick.deliverer.drain();
    const mail = smtp.lastTo(to);
    if (!mail) throw new Error(`nothing delivered to ${to}`);
    return mail;
  }

  function expectWellFormed(mail: ReceivedMail, to: string, subject: RegExp) {
    expect(mail.parsed.from?.value).toEqual([{ name: 'Sidekick Test', address: 'accounts@sidekick.test' }]);
    expect(mail.mailFrom).toBe('accounts@sidekick.test');
    expect(mail.parsed.to && !Array.isArray(mail.parsed.to) ? mail.parsed.to.value : []).toEqual([{ name: '', address: to }]);
    expect(mail.rcptTo).toEqual([to]);
    expect(mail.parsed.subject).toMatch(subject);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/i);
    expect(mail.parsed.html).toBeTruthy();
  }

  async function register(email: string): Promise<void> {
    expect((await call(live.app, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
    const otp = codeIn(await deliveredTo(email));
    const done = await call(live.app, 'POST', '/api/users/register/', { body: registrationBody(email, { otp }) });
    expect(done.status).toBe(201);
  }

  it('delivers the registration code by SMTP with a plain-text part, the configured From, To and Subject', async () => {
    const response = await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('new@example.com') });
    expect(response.status).toBe(200);
    const mail = await deliveredTo('new@example.com');
    expectWellFormed(mail, 'new@example.com', /registration code/i);
    expect(mail.parsed.text).toMatch(/registration code is \d{6}\./);
    expect(mail.parsed.text).toMatch(/valid for 10 minutes/);
    // The mailed code is the one the server accepts.
    const done = await call(live.app, 'POST', '/api/users/register/', {
      body: registrationBody('new@example.com', { otp: codeIn(mail) }),
    });
    expect(done.status).toBe(201);
  });

  it('sends an already-registered notice, without a code, to an email that has an account', async () => {
    await register('taken@example.com');
    clock.advanceSeconds(61);
    const again = await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('taken@example.com') });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ message: 'OTP sent to your email' });
    const mail = await deliveredTo('taken@example.com');
    expectWellFormed(mail, 'taken@example.com', /already|tried to register/i);
    expect(mail.parsed.text).toContain(`${PUBLIC_URL}/api/users/reset-password/`);
    expect(mail.parsed.text).not.toMatch(/\b\d{6}\b/);
  });

  it('delivers the reset link, built from SIDEKICK_PUBLIC_URL, in the plain-text part', async () => {
    await register('reset@example.com');
    const response = await call(live.app, 'POST', '/api/users/reset-password/', {
      body: { email: 'reset@example.com' },
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(response.status).toBe(200);
    const mail = await deliveredTo('reset@example.com');
    expectWellFormed(mail, 'reset@example.com', /reset/i);
    const link = resetLinkIn(mail);
    expect(link.startsWith(`${PUBLIC_URL}/api/users/reset/`)).toBe(true);
    expect(mail.parsed.text).toMatch(/within 15 minutes/);
    // The link works: its path confirms a new password.
    const confirm = await call(live.app, 'POST', new URL(link).pathname, { body: { new_password: 'Another-Fine-Pass-42' } });
    expect(confirm.status).toBe(200);
  });

  it('sends a password-changed notice after a reset', async () => {
    await register('changed@example.com');
    await call(live.app, 'POST', '/api/users/reset-password/', { body: { email: 'changed@example.com' } });
    const link = resetLinkIn(await deliveredTo('changed@example.com'));
    const confirm = await call(live.app, 'POST', new URL(link).pathname, { body: { new_password: 'Another-Fine-Pass-42' } });
    expect(confirm.status).toBe(200);
    const mail = await deliveredTo('changed@example.com');
    expectWellFormed(mail, 'changed@example.com', /password was changed/i);
    expect(mail.parsed.text).toMatch(/password of your Sidekick account was just changed/);
    expect(mail.parsed.text).not.toContain(STRONG_PASSWORD);
    expect(mail.parsed.text).not.toContain('Another-Fine-Pass-42');
  });

  it('logs each SMTP delivery as one line naming the server, never the body', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('logged@example.com') });
    const code = codeIn(await deliveredTo('logged@example.com'));
    const delivered = live.logEntries().filter((entry) => entry.msg === 'mail delivered');
    expect(delivered).toHaveLength(1);
    expect(delivered[0].via).toBe(`SMTP 127.0.0.1:${smtp.port}`);
    expect(live.logs.text).not.toContain(code);
  });
});

describe('SMTP with a login in the URL', () => {
  const user = 'relay-user';
  const pass = 'p@ss:w/rd 9';
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer({ user, pass });
  });
  afterAll(async () => {
    await smtp.stop();
  });

  it('logs in with the URL-encoded credentials and never logs the password', async () => {
    const url = `smtp://${user}:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}`;
    const live = await createLiveSidekick({ SIDEKICK_SMTP_URL: url }, { clock: new ManualClock() });
    try {
      await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('auth@example.com') });
      await live.sidekick.deliverer.drain();
      expect(smtp.logins).toEqual([{ user, ok: true }]);
      expect(smtp.lastTo('auth@example.com')).toBeDefined();
      const delivered = live.logEntries().find((entry) => entry.msg === 'mail delivered');
      expect(delivered?.via).toBe(`SMTP 127.0.0.1:${smtp.port}`);
      expect(live.logs.text).not.toContain(encodeURIComponent(pass));
      expect(live.logs.text).not.toContain(pass);
    } finally {
      await live.close();
    }
  });

  it('keeps the mail pending with the refusal as its error when the login is wrong', async () => {
    const url = `smtp://${user}:wrong@127.0.0.1:${smtp.port}`;
    const live = await createLiveSidekick({ SIDEKICK_SMTP_URL: url }, { clock: new ManualClock() });
    try {
      await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('denied@example.com') });
      await live.sidekick.deliverer.drain();
      const [entry] = await live.sidekick.services.outbox.list(null, 1);
      expect(entry).toMatchObject({ status: 'pending', attempts: 1 });
      expect(entry.lastError).toMatch(/Invalid login|535/);
      expect(entry.lastError).not.toContain('wrong');
      expect(smtp.lastTo('denied@example.com')).toBeUndefined();
    } finally {
      await live.close();
    }
  });
});
