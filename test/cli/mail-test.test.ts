import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

/** `sidekick mail:test` as a subprocess, against a real SMTP server on 127.0.0.1. */
describe('mail:test', () => {
  let w: CliWorkspace;
  let smtp: TestSmtpServer | undefined;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await smtp?.stop();
    smtp = undefined;
    await w?.close();
  });

  // No database: the command must work before db:migrate, and must not make one.
  const workspace = () => createCliWorkspace({ migrate: false });
  const noDatabaseIn = (dir: string) => expect(existsSync(path.join(dir, 'sidekick.db'))).toBe(false);

  it("sends one mail at once over SMTP and prints the server's reply, the recipients and the message id", async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    const sent = await w.run(['mail:test', 'Ada@Example.com'], { env: { SIDEKICK_SMTP_URL: smtp.url, SIDEKICK_APP_NAME: 'BlindChat' } });
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.rcptTo).toEqual(['ada@example.com']);
    expect(mail.parsed.subject).toBe('BlindChat test mail');
    expect(mail.parsed.text).toMatch(/test mail from BlindChat/);
    expect(mail.parsed.html).toContain('<h1');
    expect(sent.stdout).toBe(
      [
        `Sent a test mail to ada@example.com via SMTP 127.0.0.1:${smtp.port}.`,
        'Server reply: 250 OK: message queued',
        'Accepted: ada@example.com',
        `Message-ID: ${mail.parsed.messageId}`,
        '',
      ].join('\n'),
    );
    noDatabaseIn(w.dataDir);
  });

  it('answers --json with one document', async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    const sent = await w.run(['mail:test', 'ops@example.com', '--json'], { env: { SIDEKICK_SMTP_URL: smtp.url } });
    expect(sent.code).toBe(0);
    expect(sent.json()).toEqual({
      ok: true,
      to: 'ops@example.com',
      via: `SMTP 127.0.0.1:${smtp.port}`,
      response: '250 OK: message queued',
      accepted: ['ops@example.com'],
      rejected: [],
      message_id: smtp.received[0].parsed.messageId,
    });
  });

  it('names the recipient and the 550 when the server refuses the address, exit 67', async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    smtp.refuseRecipient = () => 550;
    for (const args of [['mail:test', 'nobody@example.com'], ['mail:test', 'nobody@example.com', '--json']]) {
      const result = failure(await w.run(args, { env: { SIDEKICK_SMTP_URL: smtp.url } }));
      expect(result.code).toBe(67);
      expect(result.stdout).toBe('');
      expect(result.lines).toEqual([
        `Error: SMTP 127.0.0.1:${smtp.port}: the SMTP server refused the recipient nobody@example.com: 550 Mailbox nobody@example.com refused`,
      ]);
    }
    expect(smtp.received).toHaveLength(0);
  });

  it('exits 75 when the server says to try later (4xx)', async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    smtp.refuseRecipient = () => 450;
    const result = failure(await w.run(['mail:test', 'busy@example.com'], { env: { SIDEKICK_SMTP_URL: smtp.url } }));
    expect(result.code).toBe(75);
    expect(result.line).toMatch(/refused the recipient busy@example\.com: 450 /);
  });

  it('says it cannot reach a server that is down, exit 69', async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    const url = smtp.url;
    await smtp.stop();
    const result = failure(await w.run(['mail:test', 'ada@example.com'], { env: { SIDEKICK_SMTP_URL: url } }));
    expect(result.code).toBe(69);
    expect(result.stdout).toBe('');
    expect(result.lines).toEqual([`Error: SMTP 127.0.0.1:${smtp.port}: cannot reach the SMTP server: connect ECONNREFUSED 127.0.0.1:${smtp.port}`]);
  });

  it('reports a refused login with its 535, never the password, exit 78', async () => {
    w = await workspace();
    const user = 'relay-user';
    const pass = 'Right-p@ss:9';
    smtp = await startSmtpServer({ user, pass });
    const wrong = 'Wr0ng p@ss/word';
    const url = `smtp://${user}:${encodeURIComponent(wrong)}@127.0.0.1:${smtp.port}`;
    const refused = await w.run(['mail:test', 'ada@example.com'], { env: { SIDEKICK_SMTP_URL: url } });
    const result = failure(refused);
    expect(result.code).toBe(78);
    expect(result.lines).toHaveLength(1);
    expect(result.line).toMatch(new RegExp(`^Error: SMTP 127\\.0\\.0\\.1:${smtp.port}: the SMTP server refused the login in SIDEKICK_SMTP_URL: .*535`));
    for (const secret of [wrong, encodeURIComponent(wrong), pass]) expect(refused.stderr + refused.stdout).not.toContain(secret);
    expect(smtp.logins).toEqual([{ user, ok: false }]);

    const right = `smtp://${user}:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}`;
    const sent = await w.run(['mail:test', 'ada@example.com'], { env: { SIDEKICK_SMTP_URL: right } });
    expect(sent.code).toBe(0);
    expect(sent.stdout).not.toContain(pass);
    expect(smtp.received).toHaveLength(1);
  });

  it('refuses an address the APIs would refuse before connecting to anything, exit 2', async () => {
    w = await workspace();
    smtp = await startSmtpServer();
    for (const address of ['not-an-email', 'ada@', `${'a'.repeat(250)}@example.com`]) {
      const result = failure(await w.run(['mail:test', address], { env: { SIDEKICK_SMTP_URL: smtp.url } }));
      expect(result.code, address).toBe(2);
      expect(result.lines, address).toHaveLength(1);
      expect(result.line, address).toMatch(/^Error: address: (Enter a valid email address\.|Ensure this field has no more than 254 characters\.)$/);
    }
    expect(smtp.received).toHaveLength(0);
  });

  it('without SIDEKICK_SMTP_URL writes the .eml to the outbox folder and prints its path', async () => {
    w = await workspace();
    const human = await w.run(['mail:test', 'ada@example.com']);
    expect(human.code).toBe(0);
    const outbox = path.join(w.dataDir, 'outbox');
    const [name] = readdirSync(outbox);
    expect(human.stdout).toBe(`No SIDEKICK_SMTP_URL set: wrote the test mail to ada@example.com as ${path.join(outbox, name)}\n`);
    const parsed = await simpleParser(readFileSync(path.join(outbox, name)));
    expect(parsed.subject).toBe('Sidekick test mail');
    expect(parsed.text).toMatch(/test mail from Sidekick/);

    const json = (await w.run(['mail:test', 'ada@example.com', '--json'])).json();
    expect(json).toEqual({ ok: true, to: 'ada@example.com', via: `files in ${outbox}`, message_id: expect.stringMatching(/^<.+>$/), file: expect.any(String) });
    expect(readdirSync(outbox).map((file) => path.join(outbox, file))).toContain(json.file);
    noDatabaseIn(w.dataDir);
  });
});
