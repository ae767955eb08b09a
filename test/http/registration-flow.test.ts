import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser } from '../helpers/accounts.ts';

describe('accounts API end to end', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('registers with a mailed code, logs in and reads the profile', async () => {
    const { superhero_name } = await registerUser(t, 'user@example.com');
    expect(superhero_name).toMatch(/^[a-z]+_[0-9a-f]{7}$/);
    const { access } = await loginJwt(t, 'user@example.com');
    const profile = await call(t.app, 'GET', '/api/users/profile', { bearer: access });
    expect(profile.status).toBe(200);
    expect(profile.body).toEqual({
      email: 'user@example.com',
      gender: 'Male',
      preferences: 'Chatting, Gaming',
      dob: '2000-05-15',
      superhero_name,
    });
  });
});
