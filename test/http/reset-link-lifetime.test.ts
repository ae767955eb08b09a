import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { createSidekick, type Sidekick } from '../../src/sidekick.ts';
import { loginJwt, registerUser, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { loginToken, NEW_PASSWORD, requestResetPath } from '../helpers/accounts-flows.ts';
import { call } from '../helpers/http.ts';
import { holdToDocument } from '../helpers/openapi.ts';
import { createTestSidekick, LogCapture, testConfig, type TestSidekick } from '../helpers/sidekick.ts';

const LINK_INVALID = { detail: 'Invalid or expired link.', code: 'reset_link_invalid', message: 'Invalid or expired link.' };

/** Contract §5: a reset link dies on any password change, and never because somebody logged in. */
describe('how long a reset link lives', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
    await registerUser(t, 'hero@example.com');
  });
  afterEach(async () => {
    await t.close();
  });
  const confirm = (path: string, password = NEW_PASSWORD) => call(t.app, 'POST', path, { body: { new_password: password } });

  it('survives the owner logging in on both APIs, and still works exactly once', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    await loginJwt(t, 'hero@example.com');
    await loginToken(t, 'hero@example.com');
    t.clock.advanceSeconds(60);
    await loginJwt(t, 'hero@example.com');
    expect((await call(t.app, 'GET', path)).status).toBe(200);
    expect((await confirm(path)).status).toBe(200);
    expect((await confirm(path, 'Yet-Another-Phrase-77')).body).toEqual(LINK_INVALID);
  });

  it('survives a login that rehashes the password at a new bcrypt cost', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const before = (await t.sidekick.services.accounts.requireUser('hero@example.com')).passwordHash;
    // The same data folder served with a higher cost, as after an operator raised SIDEKICK_BCRYPT_COST.
    let upgraded: Sidekick | undefined;
    try {
      upgraded = await createSidekick(testConfig(t.dataDir, { SIDEKICK_BCRYPT_COST: '5', SIDEKICK_DATABASE_URL: t.config.databaseUrl }), { clock: t.clock, logger: createLogger('silent', new LogCapture()) });
      const login = await call(holdToDocument(createHttpApp(upgraded)), 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password: STRONG_PASSWORD } });
      expect(login.status).toBe(200);
    } finally {
      await upgraded?.close();
    }
    const after = (await t.sidekick.services.accounts.requireUser('hero@example.com')).passwordHash;
    expect(before.startsWith('$2b$04$')).toBe(true);
    expect(after.startsWith('$2b$05$')).toBe(true);
    expect((await confirm(path)).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password: NEW_PASSWORD } })).status).toBe(200);
  });

  it('dies when an operator sets a new password, or another link is used', async () => {
    const first = await requestResetPath(t, 'hero@example.com');
    await t.sidekick.services.accounts.setPassword('hero@example.com', 'Operator-Chosen-Phrase-5');
    expect((await confirm(first)).body).toEqual(LINK_INVALID);

    t.clock.advanceSeconds(120);
    const second = await requestResetPath(t, 'hero@example.com');
    t.clock.advanceSeconds(120);
    const third = await requestResetPath(t, 'hero@example.com');
    expect((await confirm(third)).status).toBe(200);
    expect((await confirm(second)).body).toEqual(LINK_INVALID);
  });
});
