import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { registerUser, registrationBody } from '../helpers/accounts.ts';

const REGISTER = '/api/users/register/';

describe('password policy at registration (contract §5)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  async function passwordErrors(password: string, email = 'hero@example.com'): Promise<string[]> {
    const response = await call(t.app, 'POST', REGISTER, { body: registrationBody(email, { password }) });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body)).toEqual(['password', 'message']);
    expect(response.body.message).toBe(response.body.password[0]);
    return response.body.password;
  }

  it('refuses a password that is too short, saying so', async () => {
    expect(await passwordErrors('Ab3-xyz')).toContain('This password is too short. It must contain at least 8 characters.');
  });

  it('refuses a password over 72 bytes of UTF-8 instead of truncating it', async () => {
    expect(await passwordErrors(`${'Zq9-'.repeat(18)}x`)).toEqual(['This password is too long. It must contain at most 72 bytes.']);
    expect(await passwordErrors('üé'.repeat(19))).toEqual(['This password is too long. It must contain at most 72 bytes.']);
  });

  it('refuses an entirely numeric password', async () => {
    expect(await passwordErrors('83019572641')).toContain('This password is entirely numeric.');
  });

  it('refuses a common password', async () => {
    expect(await passwordErrors('password123')).toEqual(['This password is too common.']);
  });

  it("refuses the email's local part as password", async () => {
    expect(await passwordErrors('Captain.Marvel', 'captain.marvel@example.com')).toEqual([
      'The password is too similar to the email.',
    ]);
  });

  it('sends no code when the password is refused', async () => {
    await call(t.app, 'POST', REGISTER, { body: registrationBody('hero@example.com', { password: 'short' }) });
    expect(await t.deliver()).toEqual([]);
  });

  it('accepts a password of exactly 72 bytes and refuses it with a 73rd byte appended at login', async () => {
    const password = `${'Zq9-'.repeat(18)}`;
    expect(Buffer.byteLength(password)).toBe(72);
    await registerUser(t, 'long@example.com', { password });
    const ok = await call(t.app, 'POST', '/api/users/login/', { body: { email: 'long@example.com', password } });
    expect(ok.status).toBe(200);
    // bcrypt alone would ignore everything past byte 72 and let this in.
    const longer = await call(t.app, 'POST', '/api/users/login/', { body: { email: 'long@example.com', password: `${password}!` } });
    expect(longer.status).toBe(401);
  });
});
