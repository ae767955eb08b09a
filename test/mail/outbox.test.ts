import { simpleParser } from 'mailparser';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerUser, registrationBody } from '../helpers/accounts.ts';
import { ManualClock } from '../helpers/clock.ts';
import { call } from '../helpers/http.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { createTestSidekick } from '../helpers/sidekick.ts';

/** Every byte SQLite keeps for the database: the main file and its write-ahead log. */
function databaseBytes(dbPath: string): string {
  return [dbPath, `${dbPath}-wal`]
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('');
}

describe('the .eml file transport (no SIDEKICK_SMTP_URL)', () => {
  let live: LiveSidekick;
  beforeEach(async () => {
    live = await createLiveSidekick({ SIDEKICK_MAIL_FROM: 'Sidekick <no-reply@sidekick.test>' }, { clock: new ManualClock() });
  });
  afterEach(async () => {
    await live.close();
  });

  const outboxDir = () => path.join(live.dataDir, 'outbox');
  const emlFiles = () => (existsSync(outboxDir()) ? readdirSync(outboxDir()).filter((name) => name.endsWith('.eml')) : []);

  it('writes each message as a parseable .eml file under <data>/outbox/', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('files@example.com') });
    await live.sidekick.deliverer.drain();
    const files = emlFiles();
    expect(files).toHaveLength(1);
    const parsed = await simpleParser(readFileSync(path.join(outboxDir(), files[0])));
    expect(parsed.from?.value).toEqual([{ name: 'Sidekick', address: 'no-reply@sidekick.test' }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe('files@example.com');
    expect(parsed.subject).toMatch(/registration code/i);
    expect(parsed.text).toMatch(/registration code is \d{6}\./);
    expect(parsed.html).toContain('registration code');
    // Only the server's own user may read a file that carries a live code.
    expect(statSync(path.join(outboxDir(), files[0])).mode & 0o777).toBe(0o600);
    expect(readdirSync(outboxDir()).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('logs one line per message written, naming the file and not its code', async () => {
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('one@example.com') });
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody('two@example.com') });
    await live.sidekick.deliverer.drain();
    const files = emlFiles();
    expect(files).toHaveLength(2);
    const lines = live.logEntries().filter((entry) => entry.msg === 'mail delivered');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.via).toBe(`files in ${outboxDir()}`);
      expect(files.map((name) => path.join(outboxDir(), name))).toContain(line.location);
    }
    for (const name of files) {
      const code = /registration code is (\d{6})/.exec(readFileSync(path.join(outboxDir(), name), 'utf8'))![1];
      expect(live.logs.text).not.toContain(code);
    }
  });
});

describe('the outbox table', () => {
  it('never holds a registration code in readable form, even before delivery', async () => {
    const t = await createTestSidekick({}, { engine: 'sqlite' }); // reads the file's bytes
    try {
      await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('sealed@example.com') });
      const before = databaseBytes(t.config.dbPath);
      const [mail] = await t.deliver();
      const code = /registration code is (\d{6})/.exec(mail.text)![1];
      expect(before).toContain('sealed@example.com'); // the snapshot does hold the outbox row
      expect(before).not.toContain(code);
      expect(before).not.toContain('registration code is');
      expect(databaseBytes(t.config.dbPath)).not.toContain(code);
    } finally {
      await t.close();
    }
  });

  it('never holds a reset link in readable form', async () => {
    const t = await createTestSidekick();
    try {
      await registerUser(t, 'link@example.com');
      await call(t.app, 'POST', '/api/users/reset-password/', { body: { email: 'link@example.com' } });
      const before = databaseBytes(t.config.dbPath);
      const [mail] = await t.deliver();
      const token = /\/api\/users\/reset\/[^/\s]+\/([^/\s]+)\//.exec(mail.text)![1];
      expect(before).not.toContain(token);
      expect(before).not.toContain('/api/users/reset/');
    } finally {
      await t.close();
    }
  });

  it('drops the sealed body once the message is delivered, keeping only the delivery record', async () => {
    const t = await createTestSidekick();
    try {
      await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('dropped@example.com') });
      const [queued] = await t.sidekick.services.outbox.list('pending', 10);
      expect(queued.sealedBody?.length).toBeGreaterThan(28);
      await t.deliver();
      const [sent] = await t.sidekick.services.outbox.list(null, 10);
      expect(sent).toMatchObject({ id: queued.id, status: 'sent', sealedBody: null, attempts: 1, lastError: null });
      expect(sent.sentAt).toBe(t.clock.now());
    } finally {
      await t.close();
    }
  });
});
