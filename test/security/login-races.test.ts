import { sql } from '../../src/db/port.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { createSidekick } from '../../src/sidekick.ts';
import { createLogger } from '../../src/logger.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { createTestSidekick, LogCapture, testConfig, type TestSidekick } from '../helpers/sidekick.ts';

const EMAIL = 'racer@example.com';
const LOGINS = {
  jwt: { path: '/api/users/login/', refused: 401 },
  token: { path: '/token/', refused: 400 },
};

/**
 * Contract §5: a login whose password check raced a change of the password or of the user's state gets
 * no working credential. The user's hash is made at a higher cost than the server's, so its check takes
 * long enough (~100 ms) for the change to land, deterministically, while it runs.
 */
describe('a login racing a password change, a deactivation or a deletion', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t.close();
  });

  async function withSlowHash(): Promise<void> {
    // Two bcrypt threads whatever the machine: the change's own hash must not wait behind the login's.
    t = await createTestSidekick({}, { hashConcurrency: 2 });
    const slow = await createSidekick(testConfig(t.dataDir, { SIDEKICK_BCRYPT_COST: '11', SIDEKICK_DATABASE_URL: t.config.databaseUrl }), { logger: createLogger('silent', new LogCapture()) });
    await slow.services.accounts.createUser({ email: EMAIL, password: STRONG_PASSWORD });
    await slow.close();
  }

  /** Starts a login, waits until its password check is running, runs `change`, then returns the login's answer. */
  async function loginDuring(kind: keyof typeof LOGINS, change: () => unknown) {
    const answer = call(t.app, 'POST', LOGINS[kind].path, { body: { email: EMAIL, password: STRONG_PASSWORD } });
    const deadline = Date.now() + 5000;
    while (t.sidekick.hasher.pending === 0) {
      if (Date.now() > deadline) throw new Error('the login never reached its password check');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await change();
    return answer;
  }

  const sessions = async () => ((await t.sidekick.db.get(sql('SELECT count(*) AS n FROM sessions'))) as { n: number }).n;

  const changes: Record<string, () => unknown> = {
    'an operator password change': () => t.sidekick.services.accounts.setPassword(EMAIL, 'Another-Secret-Phrase-8'),
    'a completed reset': async () => {
      const link = new URL(t.sidekick.services.passwordReset.makeLink(await t.sidekick.services.accounts.requireUser(EMAIL)));
      expect((await call(t.app, 'POST', link.pathname, { body: { new_password: 'Another-Secret-Phrase-8' } })).status).toBe(200);
    },
    'a deactivation': () => t.sidekick.services.accounts.updateAdmin(EMAIL, { isActive: false }),
    'a deletion': () => t.sidekick.services.accounts.deleteByEmail(EMAIL),
  };

  for (const [name, change] of Object.entries(changes)) {
    for (const kind of ['jwt', 'token'] as const) {
      it(`${name} refuses a ${kind} login whose check it overtook, with no session and no 500`, async () => {
        await withSlowHash();
        const answer = await loginDuring(kind, change);
        expect(answer.status).toBe(LOGINS[kind].refused);
        expect(answer.body).not.toHaveProperty('access');
        expect(answer.body).not.toHaveProperty('token');
        expect(await sessions()).toBe(0);
      });
    }
  }

  it('lets a login through when nothing changed meanwhile, upgrading the slower hash', async () => {
    await withSlowHash();
    const before = (await t.sidekick.services.accounts.requireUser(EMAIL)).passwordHash;
    const answer = await loginDuring('jwt', () => {});
    expect(answer.status).toBe(200);
    expect(await sessions()).toBe(1);
    expect((await t.sidekick.services.accounts.requireUser(EMAIL)).passwordHash).not.toBe(before);
  });
});

describe('parallel failed logins in one process', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t.close();
  });

  it('of 40 guesses at once for one account, exactly 10 are checked', async () => {
    t = await createTestSidekick();
    await t.sidekick.services.accounts.createUser({ email: EMAIL, password: STRONG_PASSWORD });
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => call(t.app, 'POST', '/api/users/login/', { body: { email: EMAIL, password: 'Wrong-Password-1' } })),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(30);
    // Nothing is left pending: every checked attempt settled as a failure.
    expect((await t.sidekick.db.get(sql('SELECT count(*) AS n FROM throttle_events WHERE pending = 1')))).toEqual({ n: 0 });
  });
});
