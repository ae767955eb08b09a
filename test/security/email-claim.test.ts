import { sql } from '../../src/db/port.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeFrom, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenSignUp, meStatus } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const VICTIM = 'victim@example.com';
const OWNER_PASSWORD = 'Owners-Own-Secret-5';

/**
 * Contract §2: a kitchen sign-up proves nothing about its address. When the address's owner proves it
 * (a registration code, or a completed reset link), the squatter's password and sessions die and the
 * owner has the account.
 */
describe('claiming an address somebody signed up with unproved', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  const kitchenLogin = (password: string) => call(t.app, 'POST', '/token/', { body: { email: VICTIM, password } });

  it('a registration code mailed to the owner hands the account over: the squatter is locked out', async () => {
    const squatter = await kitchenSignUp(t, VICTIM, { name: 'Not the owner' });
    expect((await t.sidekick.services.accounts.requireUser(VICTIM)).emailVerified).toBe(false);

    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: OWNER_PASSWORD }) })).status).toBe(200);
    const otp = codeFrom(await t.deliver(), VICTIM);
    const confirmed = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: OWNER_PASSWORD, otp }) });
    expect(confirmed.status).toBe(201);

    expect(await meStatus(t, `Token ${squatter.token}`)).toBe(401);
    expect((await kitchenLogin(STRONG_PASSWORD)).status).toBe(400);
    const owner = await kitchenLogin(OWNER_PASSWORD);
    expect(owner.status).toBe(200);
    // The same account, now proved: its id stays, so do clients' references to it.
    expect(owner.body.user_id).toBe(squatter.user_id);
    const user = await t.sidekick.services.accounts.requireUser(VICTIM);
    expect(user).toMatchObject({ emailVerified: true, preferences: 'Chatting, Gaming', dob: '2000-05-15' });
    expect(confirmed.body.superhero_name).toBe(user.superheroName);
  });

  it('a proved address is not claimed again: a second registration gets the notice mail, no code', async () => {
    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM) })).status).toBe(200);
    const otp = codeFrom(await t.deliver(), VICTIM);
    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { otp }) })).status).toBe(201);
    t.clock.advanceSeconds(61);

    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: OWNER_PASSWORD }) })).status).toBe(200);
    const [notice] = await t.deliver();
    expect(notice.to).toBe(VICTIM);
    expect(notice.text).not.toMatch(/registration code is/);
    expect((await call(t.app, 'POST', '/users/', { body: { email: VICTIM, password: OWNER_PASSWORD } })).body).toEqual({
      email: ['User with email already exists.'],
    });
  });

  it('a completed reset proves the address too: the squatter is out, and registration no longer claims it', async () => {
    const squatter = await kitchenSignUp(t, VICTIM);
    expect((await call(t.app, 'POST', '/api/users/reset-password/', { body: { email: VICTIM } })).status).toBe(200);
    const [mail] = await t.deliver();
    const link = new URL(/http\S+\/reset\/\S+\//.exec(mail.text)![0]);
    expect((await call(t.app, 'POST', link.pathname, { body: { new_password: OWNER_PASSWORD } })).status).toBe(200);
    await t.deliver();

    expect(await meStatus(t, `Token ${squatter.token}`)).toBe(401);
    expect((await t.sidekick.services.accounts.requireUser(VICTIM)).emailVerified).toBe(true);
    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: 'Squatters-Retry-Phrase-6' }) })).status).toBe(200);
    const [notice] = await t.deliver();
    expect(notice.text).not.toMatch(/registration code is/);
    expect((await kitchenLogin(OWNER_PASSWORD)).status).toBe(200);
  });

  it('of parallel confirmations of one code for a squatted address, exactly one claims it', async () => {
    await kitchenSignUp(t, VICTIM);
    expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: OWNER_PASSWORD }) })).status).toBe(200);
    const otp = codeFrom(await t.deliver(), VICTIM);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => call(t.app, 'POST', '/api/users/register/', { body: registrationBody(VICTIM, { password: OWNER_PASSWORD, otp }) })),
    );
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 400)).toHaveLength(9);
    expect((await t.sidekick.db.get(sql('SELECT count(*) AS n FROM users')))).toEqual({ n: 1 });
  });
});
