import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser } from '../helpers/accounts.ts';
import { loginToken } from '../helpers/accounts-flows.ts';

const PROFILE = '/api/users/profile/';

describe('profile and deletion (contract §2)', () => {
  let t: TestSidekick;
  let access: string;
  let superhero: string;
  beforeEach(async () => {
    t = await createTestSidekick();
    superhero = (await registerUser(t, 'hero@example.com')).superhero_name;
    ({ access } = await loginJwt(t, 'hero@example.com'));
  });
  afterEach(async () => {
    await t.close();
  });

  const update = (method: 'PUT' | 'PATCH', body: Record<string, unknown>) => call(t.app, method, PROFILE, { bearer: access, body });
  const read = async () => (await call(t.app, 'GET', PROFILE, { bearer: access })).body;

  it('updates gender, preferences and dob with PUT and answers the profile shape', async () => {
    const response = await update('PUT', { gender: 'Female', preferences: 'Reading', dob: '1990-01-31' });
    expect(response.status).toBe(200);
    const expected = { email: 'hero@example.com', gender: 'Female', preferences: 'Reading', dob: '1990-01-31', superhero_name: superhero };
    expect(response.body).toEqual(expected);
    expect(await read()).toEqual(expected);
  });

  it('updates only the fields given with PATCH', async () => {
    const response = await update('PATCH', { gender: 'Other' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      email: 'hero@example.com',
      gender: 'Other',
      preferences: 'Chatting, Gaming',
      dob: '2000-05-15',
      superhero_name: superhero,
    });
    expect(await read()).toEqual(response.body);
  });

  it('ignores read-only fields in the body', async () => {
    const response = await update('PATCH', {
      email: 'attacker@example.com',
      superhero_name: 'batman_0000000',
      is_staff: true,
      is_superuser: true,
      password: 'Sneaky-Password-1',
      preferences: 'Hiking',
    });
    expect(response.status).toBe(200);
    expect(response.body.email).toBe('hero@example.com');
    expect(response.body.superhero_name).toBe(superhero);
    expect(response.body.preferences).toBe('Hiking');
    const user = await t.sidekick.services.accounts.requireUser('hero@example.com');
    expect(user.isStaff).toBe(false);
    expect(user.isSuperuser).toBe(false);
    expect((await call(t.app, 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password: 'Sneaky-Password-1' } })).status).toBe(401);
  });

  it('validates updates with DRF messages and changes nothing on failure', async () => {
    const response = await update('PATCH', { gender: 'x'.repeat(11), preferences: '', dob: '2000-13-01' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      gender: ['Ensure this field has no more than 10 characters.'],
      preferences: ['This field may not be blank.'],
      dob: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
      message: 'Ensure this field has no more than 10 characters.',
    });
    expect(await read()).toMatchObject({ gender: 'Male', preferences: 'Chatting, Gaming', dob: '2000-05-15' });
  });

  it('refuses a future dob', async () => {
    const response = await update('PATCH', { dob: '2099-01-01' });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body)).toEqual(['dob', 'message']);
    expect(response.body.message).toBe(response.body.dob[0]);
  });

  it('accepts a form-encoded update', async () => {
    const response = await call(t.app, 'PATCH', PROFILE, { bearer: access, form: true, body: { preferences: 'Chess' } });
    expect(response.status).toBe(200);
    expect(response.body.preferences).toBe('Chess');
  });

  it('serves the profile to an opaque token too', async () => {
    const token = await loginToken(t, 'hero@example.com');
    const response = await call(t.app, 'GET', PROFILE, { token });
    expect(response.status).toBe(200);
    expect(response.body.superhero_name).toBe(superhero);
  });

  it('requires authentication for the profile and deletion', async () => {
    for (const [method, path] of [
      ['GET', PROFILE],
      ['PUT', PROFILE],
      ['PATCH', PROFILE],
      ['DELETE', '/api/users/delete/'],
    ]) {
      const response = await call(t.app, method, path, { body: method === 'GET' ? undefined : {} });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.body.code).toBe('not_authenticated');
    }
  });

  it('takes a deactivation into account on the next request', async () => {
    await t.sidekick.services.accounts.updateAdmin('hero@example.com', { isActive: false });
    expect((await call(t.app, 'GET', PROFILE, { bearer: access })).status).toBe(401);
  });

  it('kills every token of the user on delete', async () => {
    const { refresh } = await loginJwt(t, 'hero@example.com');
    const opaque = await loginToken(t, 'hero@example.com');
    const response = await call(t.app, 'DELETE', '/api/users/delete/', { bearer: access });
    expect(response.body).toEqual({ message: 'user deleted successfully' });
    expect((await call(t.app, 'GET', PROFILE, { bearer: access })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/verify/', { body: { token: access } })).status).toBe(401);
    expect((await call(t.app, 'GET', PROFILE, { token: opaque })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password: 'Correct-Horse-Battery-9' } })).status).toBe(401);
  });

  it('lets the email register again after a delete, as a new user', async () => {
    await call(t.app, 'DELETE', '/api/users/delete/', { bearer: access });
    t.clock.advanceSeconds(61);
    const again = await registerUser(t, 'hero@example.com', { gender: 'Female' });
    const fresh = await loginJwt(t, 'hero@example.com');
    const profile = await call(t.app, 'GET', PROFILE, { bearer: fresh.access });
    expect(profile.body).toMatchObject({ email: 'hero@example.com', gender: 'Female', superhero_name: again.superhero_name });
    // The old token does not come back to life for the new account.
    expect((await call(t.app, 'GET', PROFILE, { bearer: access })).status).toBe(401);
  });

  it('deletes through an opaque token too', async () => {
    const token = await loginToken(t, 'hero@example.com');
    const response = await call(t.app, 'DELETE', '/api/users/delete/', { token });
    expect(response.status).toBe(200);
    expect((await call(t.app, 'GET', PROFILE, { bearer: access })).status).toBe(401);
  });
});
