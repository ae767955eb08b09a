import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registrationBody } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { runCli, serverEnv } from './helpers/server-process.ts';

describe('mail that cannot be delivered', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  /** Runs every attempt the deliverer would make, moving the clock past each backoff instead of sleeping. */
  async function attemptUntilSettled(maxRounds = 50): Promise<number> {
    let attempts = 0;
    for (let round = 0; round < maxRounds; round++) {
      const due = await t.sidekick.services.outbox.nextDueAt();
      if (due === undefined) break;
      if (due > t.clock.now()) t.clock.advance(due - t.clock.now());
      const before = t.logs.lines.length;
      await t.sidekick.deliverer.drain();
      attempts += t.logs.lines.slice(before).filter((l) => /mail delivery failed|mail failed for good/.test(l)).length;
    }
    return attempts;
  }

  it('is marked failed with one error line after a bounded number of attempts, then mail:list shows it and mail:retry delivers it', async () => {
    t.transport.failing = true;
    const answer = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('stuck@example.com') });
    expect(answer.status).toBe(200);

    const attempts = await attemptUntilSettled();
    expect(attempts).toBe(8);
    const [failed] = await t.sidekick.services.outbox.list('failed', 10);
    expect(failed).toMatchObject({ recipient: 'stuck@example.com', status: 'failed', attempts: 8, lastError: 'transport down' });
    // Never silently dropped: the body is still there to be sent once someone requeues it.
    expect(failed.sealedBody).not.toBeNull();
    const givingUp = t.logs.lines.filter((l) => l.includes('mail failed for good'));
    expect(givingUp).toHaveLength(1);
    expect(JSON.parse(givingUp[0])).toMatchObject({ level: 50, mailId: failed.id, attempts: 8 });
    // And nothing more happens on its own, however long we wait.
    t.clock.advanceSeconds(24 * 3600);
    expect(await attemptUntilSettled()).toBe(0);

    const env = serverEnv(t.dataDir);
    const listed = await runCli(['mail:list', '--status', 'failed', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: failed.id, to: 'stuck@example.com', status: 'failed', attempts: 8, last_error: 'transport down' }),
    ]);

    const retried = await runCli(['mail:retry', String(failed.id), '--queue-only', '--json'], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ requeued: [failed.id], skipped: [] });
    const unknown = await runCli(['mail:retry', '999'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no failed message with id 999/);

    // The CLI requeued it on the wall clock; this process's clock catches up to it.
    t.clock.advance(Math.max(0, Date.now() - t.clock.now()) + 1000);
    t.transport.failing = false;
    await t.sidekick.deliverer.drain();
    expect(t.transport.sent.map((m) => m.to)).toEqual(['stuck@example.com']);
    expect(t.transport.sent[0].text).toMatch(/registration code is \d{6}/);
    expect((await t.sidekick.services.outbox.list(null, 10)).map((m) => m.status)).toEqual(['sent']);
  });
});
