import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeFrom, registrationBody } from '../helpers/accounts.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryTransport } from '../helpers/sidekick.ts';
import { codeIn, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

describe('otp:resend as a subprocess', () => {
  let w: CliWorkspace;
  let smtp: TestSmtpServer | undefined;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await smtp?.stop();
    smtp = undefined;
    await w?.close();
  });

  it('delivers the code over SMTP before exiting', async () => {
    w = await createCliWorkspace();
    smtp = await startSmtpServer();
    await (await w.open()).services.registration.requestCode(registrationBody('smtp@example.com'), '192.0.2.1');
    const resent = await w.run(['otp:resend', 'smtp@example.com', '--json'], { env: { SIDEKICK_SMTP_URL: smtp.url } });
    expect(resent.code).toBe(0);
    expect(resent.stderr).toBe('');
    expect(resent.json()).toMatchObject({ mail: 'delivered' });
    // The first code was queued by the in-process Sidekick and never delivered: only the command's mail arrived.
    expect(smtp.received).toHaveLength(2);
    const code = codeIn(smtp.lastTo('smtp@example.com')!);
    expect(code).toMatch(/^\d{6}$/);
  });

  it('leaves the mail in the outbox when SMTP is down, and the server delivers it later', async () => {
    w = await createCliWorkspace();
    smtp = await startSmtpServer();
    const url = smtp.url;
    await smtp.stop();
    await (await w.open()).services.registration.requestCode(registrationBody('down@example.com'), '192.0.2.1');
    const resent = await w.run(['otp:resend', 'down@example.com', '--json'], { env: { SIDEKICK_SMTP_URL: url } });
    expect(resent.code).toBe(0);
    expect(resent.json()).toMatchObject({ code_sent: true, mail: 'queued' });
    expect(resent.stderr).toBe('');

    // A server started later, its clock past the retry delay, sends what the command could not.
    const transport = new MemoryTransport();
    const server = await w.open({ transport, clock: new ManualClock(Date.now() + 30_000) });
    await server.deliverer.drain();
    const codes = transport.sent.filter((mail) => mail.to === 'down@example.com').map((mail) => /code is (\d{6})/.exec(mail.text)?.[1]);
    expect(codes).toHaveLength(2);
    const result = await server.services.registration.complete(registrationBody('down@example.com', { otp: codes.at(-1) }));
    expect(result.message).toBe('User registered successfully');
  });

  it('mails a fresh code that completes the registration, and the old code dies', async () => {
    w = await createCliWorkspace();
    const transport = new MemoryTransport();
    const sidekick = await w.open({ transport });
    const { registration } = sidekick.services;
    await registration.requestCode(registrationBody('new@example.com'), '192.0.2.1');
    // The server would send this one; here it is read straight from the deliverer's memory transport.
    await sidekick.deliverer.drain();
    const oldCode = codeFrom(transport.sent, 'new@example.com');
    // Operators are not throttled: two resends within a second both send a code.
    for (let i = 0; i < 2; i++) {
      const resent = await w.run(['otp:resend', 'New@Example.com', '--json']);
      expect(resent.code).toBe(0);
      expect(resent.json()).toEqual({ email: 'new@example.com', code_sent: true, mail: 'delivered' });
    }
    const files = readdirSync(path.join(w.dataDir, 'outbox')).filter((name) => name.endsWith('.eml')).sort();
    expect(files).toHaveLength(2);
    const eml = readFileSync(path.join(w.dataDir, 'outbox', files[1]), 'utf8');
    const code = /registration code is (\d{6})/.exec(eml)?.[1];
    expect(code).toBeDefined();
    

    if (code !== oldCode) {
      await expect(registration.complete(registrationBody('new@example.com', { otp: oldCode }))).rejects.toMatchObject({ code: 'otp_invalid' });
    }
    const result = await registration.complete(registrationBody('new@example.com', { otp: code }));
    expect(result.message).toBe('User registered successfully');
  });

  it('fails with exit 3 when no registration is pending', async () => {
    w = await createCliWorkspace();
    const result = failure(await w.run(['otp:resend', 'nobody@example.com']));
    expect(result).toMatchObject({ code: 3, stdout: '', lines: ['Error: no pending registration for nobody@example.com'] });
  });
});
