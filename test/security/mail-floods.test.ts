import { sql } from '../../src/db/port.ts';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { ManualClock } from '../helpers/clock.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { sendFrom } from '../helpers/proxy.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

describe('mail bombing and sign-up floods (contract §5: 20 an hour per client address)', () => {
  let t: TestSidekick;
  let server: RunningServer;
  afterEach(async () => {
    await server.close();
    await t.close();
  });

  async function start() {
    t = await createTestSidekick();
    server = await startServer(t.sidekick, { port: 0, host: '127.0.0.1' });
  }

  const outboxRows = async () => (await t.sidekick.db.get(sql<{ n: number }>('SELECT count(*) AS n FROM outbox')))!.n;

  it('lets one address send 20 codes, links and sign-ups an hour, whoever they are for, and refuses the 21st', async () => {
    await start();
    const from = '127.0.0.2';
    const sends = [
      ...Array.from({ length: 8 }, (_, i) => ['/api/users/register/', registrationBody(`victim+${i}@example.com`)] as const),
      ...Array.from({ length: 6 }, (_, i) => ['/api/users/reset-password/', { email: `victim+${i}@example.com` }] as const),
      ...Array.from({ length: 6 }, (_, i) => ['/users/', { email: `signup${i}@example.com`, password: STRONG_PASSWORD }] as const),
    ];
    for (const [route, body] of sends) {
      const answer = await sendFrom(from, `${server.url}${route}`, { body });
      expect(answer.status, route).toBeLessThan(300);
    }
    for (const [route, body] of [
      ['/api/users/register/', registrationBody('victim+99@example.com')],
      ['/api/users/reset-password/', { email: 'victim+99@example.com' }],
      ['/users/', { email: 'signup99@example.com', password: STRONG_PASSWORD }],
    ] as const) {
      const refused = await sendFrom(from, `${server.url}${route}`, { body });
      expect(refused.status, route).toBe(429);
      expect(refused.body).toMatchObject({ code: 'throttled' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    }
    // Another client is not held back by this one.
    expect((await sendFrom('127.0.0.3', `${server.url}/api/users/register/`, { body: registrationBody('someone@example.com') })).status).toBe(200);
  });

  it('of 30 parallel code requests from one address, exactly 20 queue a mail', async () => {
    await start();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sendFrom('127.0.0.2', `${server.url}/api/users/register/`, { body: registrationBody(`victim+${i}@example.com`) }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(20);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);
    expect(await outboxRows()).toBe(20);
  });
});

describe('the outbox stays bounded', () => {
  let live: LiveSidekick;
  afterEach(async () => {
    await live.close();
  });

  it('removes delivered .eml files after a day, failed mail after 30 days, and nothing sooner', async () => {
    const clock = new ManualClock(Date.now());
    live = await createLiveSidekick({}, { clock });
    const { services, deliverer } = live.sidekick;
    for (let i = 0; i < 3; i++) await services.registration.requestCode(registrationBody(`user${i}@example.com`), `192.0.2.${i}`);
    await deliverer.drain();
    const outbox = path.join(live.dataDir, 'outbox');
    const files = () => readdirSync(outbox).filter((name) => name.endsWith('.eml'));
    expect(files()).toHaveLength(3);
    const failed = await services.outbox.add('gone@example.com', 'Lost', new Uint8Array([1]), clock.now());
    await services.outbox.markFailed(failed, 'mailbox unavailable');

    expect(await services.maintenance.purgeExpired()).toMatchObject({ mailFiles: 0, failedMail: 0, sentMail: 0 });
    clock.advance(25 * 3600_000);
    expect(await services.maintenance.purgeExpired()).toMatchObject({ mailFiles: 3, failedMail: 0, sentMail: 0 });
    expect(files()).toEqual([]);
    clock.advance(7 * 24 * 3600_000);
    expect(await services.maintenance.purgeExpired()).toMatchObject({ sentMail: 3, failedMail: 0 });
    clock.advance(23 * 24 * 3600_000);
    expect(await services.maintenance.purgeExpired()).toMatchObject({ failedMail: 1 });
    expect(await services.outbox.list(null, 10)).toEqual([]);
  });
});
