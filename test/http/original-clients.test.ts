import { afterEach, describe, expect, it } from 'vitest';
import { loginJwt, registerUser, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const TOO_YOUNG = { non_field_errors: ['You must be at least 18 years old to register.'] };
// The test clock stands at 2026-01-15: this person turns 18 today, the next one tomorrow.
const EIGHTEEN_TODAY = '2008-01-15';
const EIGHTEEN_TOMORROW = '2008-01-16';

/** What the originals' own clients depend on (contract §1–§3, originals.md). */
describe('fields and codes the originals’ clients depend on', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t.close();
  });

  it('answers the login with the email beside the tokens', async () => {
    t = await createTestSidekick();
    await registerUser(t, 'hero@example.com');
    const login = await call(t.app, 'POST', '/api/users/login/', { body: { email: ' HERO@example.com', password: STRONG_PASSWORD } });
    expect(login.status).toBe(200);
    expect(Object.keys(login.body).sort()).toEqual(['access', 'email', 'refresh']);
    expect(login.body.email).toBe('hero@example.com');
  });

  it('answers PUT /users/me/ with 201 and PATCH with 200, under both prefixes', async () => {
    t = await createTestSidekick();
    const { token } = await kitchenSignUp(t, 'kitchen@example.com');
    for (const prefix of ['', '/auth']) {
      expect((await call(t.app, 'PUT', `${prefix}/users/me/`, { token, body: { name: 'Put' } })).status).toBe(201);
      expect((await call(t.app, 'PATCH', `${prefix}/users/me/`, { token, body: { name: 'Patch' } })).status).toBe(200);
    }
  });

  it('writes and returns phone_number; null or blank clears it', async () => {
    t = await createTestSidekick();
    const { token } = await kitchenSignUp(t, 'phone@example.com');
    expect((await call(t.app, 'GET', '/users/me/', { token })).body.phone_number).toBe('');
    const set = await call(t.app, 'PUT', '/users/me/', { token, body: { phone_number: ' +44 20 7946 0958 ' } });
    expect(set.status).toBe(201);
    expect(set.body.phone_number).toBe('+44 20 7946 0958');
    expect((await call(t.app, 'GET', '/auth/users/me/', { token })).body.phone_number).toBe('+44 20 7946 0958');
    const tooLong = await call(t.app, 'PATCH', '/users/me/', { token, body: { phone_number: '1'.repeat(31) } });
    expect(tooLong.body).toEqual({ phone_number: ['Ensure this field has no more than 30 characters.'] });
    expect((await call(t.app, 'PATCH', '/users/me/', { token, body: { phone_number: null } })).body.phone_number).toBe('');
    await call(t.app, 'PATCH', '/users/me/', { token, body: { phone_number: '555' } });
    expect((await call(t.app, 'PATCH', '/users/me/', { token, body: { phone_number: '' } })).body.phone_number).toBe('');
  });

  it('puts a message for a person on every accounts-API error, and none on the kitchen API', async () => {
    t = await createTestSidekick();
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/users/register/', registrationBody('bad'), 'Enter a valid email address.'],
      ['POST', '/api/users/login/', { email: 'nobody@example.com', password: STRONG_PASSWORD }, 'No active account found with the given credentials'],
      ['GET', '/api/users/profile/', undefined, 'Authentication credentials were not provided.'],
      ['POST', '/api/token/refresh/', { refresh: 'nope' }, 'Token is invalid or expired'],
      ['GET', '/api/users/login/', undefined, 'Method "GET" not allowed.'],
      ['GET', '/api/nothing-here/', undefined, 'Not found.'],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await call(t.app, method, path, { body });
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(response.body.message, `${method} ${path}`).toBe(message);
    }
    const kitchen = await call(t.app, 'POST', '/token/', { body: { email: 'nobody@example.com', password: STRONG_PASSWORD } });
    expect(kitchen.body).toEqual({ non_field_errors: ['Unable to log in with provided credentials.'] });
  });

  describe('SIDEKICK_MIN_AGE', () => {
    it('refuses a younger person at both registration steps, and lets one of age through', async () => {
      t = await createTestSidekick({ SIDEKICK_MIN_AGE: '18' });
      const young = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('young@example.com', { dob: EIGHTEEN_TOMORROW }) });
      expect(young.status).toBe(400);
      expect(young.body).toEqual({ ...TOO_YOUNG, message: TOO_YOUNG.non_field_errors[0] });
      const withCode = await call(t.app, 'POST', '/api/users/register/', {
        body: registrationBody('young@example.com', { dob: EIGHTEEN_TOMORROW, otp: '123456' }),
      });
      expect(withCode.body.non_field_errors).toEqual(TOO_YOUNG.non_field_errors);
      expect(await t.deliver()).toEqual([]);
      await registerUser(t, 'adult@example.com', { dob: EIGHTEEN_TODAY });
    });

    it('refuses a kitchen sign-up and an operator create for a younger person; no date, no rule', async () => {
      t = await createTestSidekick({ SIDEKICK_MIN_AGE: '18' });
      const young = await call(t.app, 'POST', '/users/', {
        body: { email: 'young@example.com', password: STRONG_PASSWORD, date_of_birth: EIGHTEEN_TOMORROW },
      });
      expect(young.status).toBe(400);
      expect(young.body).toEqual(TOO_YOUNG);
      await expect(
        t.sidekick.services.accounts.createUser({ email: 'young2@example.com', password: STRONG_PASSWORD, dob: EIGHTEEN_TOMORROW }),
      ).rejects.toMatchObject({ fields: TOO_YOUNG });
      expect((await kitchenSignUp(t, 'undated@example.com')).email).toBe('undated@example.com');
    });

    it('refuses a later change of date of birth that makes the person too young, on both APIs', async () => {
      t = await createTestSidekick({ SIDEKICK_MIN_AGE: '18' });
      await registerUser(t, 'adult@example.com', { dob: '1990-01-01' });
      const { access } = await loginJwt(t, 'adult@example.com');
      const accounts = await call(t.app, 'PATCH', '/api/users/profile/', { bearer: access, body: { dob: EIGHTEEN_TOMORROW } });
      expect(accounts.status).toBe(400);
      expect(accounts.body.non_field_errors).toEqual(TOO_YOUNG.non_field_errors);
      const { token } = await kitchenSignUp(t, 'cook@example.com');
      const kitchen = await call(t.app, 'PUT', '/users/me/', { token, body: { date_of_birth: EIGHTEEN_TOMORROW } });
      expect(kitchen.body).toEqual(TOO_YOUNG);
      expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: access })).body.dob).toBe('1990-01-01');
      expect((await call(t.app, 'PUT', '/users/me/', { token, body: { date_of_birth: EIGHTEEN_TODAY } })).status).toBe(201);
    });

    it('has no age rule when unset', async () => {
      t = await createTestSidekick();
      await registerUser(t, 'kid@example.com', { dob: '2020-06-01' });
    });
  });
});
