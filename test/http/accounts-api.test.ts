import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { codeFrom, loginJwt, registerUser, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { NEW_PASSWORD, requestResetPath } from '../helpers/accounts-flows.ts';

/** Each path of the table, as written and without its trailing slash. */
const bothForms = (path: string) => [path, path.replace(/\/$/, '')];
const slashCases = (path: string) => bothForms(path).map((p) => [p.endsWith('/') ? 'with' : 'without', p]);

describe('accounts API table (contract §2)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it.each(slashCases('/api/users/register/'))('registers in two steps %s a trailing slash', async (_, path) => {
    const first = await call(t.app, 'POST', path, { body: registrationBody('hero@example.com') });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ message: 'OTP sent to your email' });
    const otp = codeFrom(await t.deliver(), 'hero@example.com');
    expect(otp).toMatch(/^\d{6}$/);
    const second = await call(t.app, 'POST', path, { body: registrationBody('hero@example.com', { otp }) });
    expect(second.status).toBe(201);
    expect(second.body).toEqual({ message: 'User registered successfully', superhero_name: expect.stringMatching(/^[a-z]+_[0-9a-f]{7}$/) });
  });

  it('validates the whole body again when the code is given', async () => {
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('hero@example.com') });
    const otp = codeFrom(await t.deliver(), 'hero@example.com');
    const response = await call(t.app, 'POST', '/api/users/register/', {
      body: { email: 'hero@example.com', otp, password: STRONG_PASSWORD },
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      preferences: ['This field is required.'],
      dob: ['This field is required.'],
      message: 'This field is required.',
    });
  });

  it('stores and compares the email lower-cased', async () => {
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('Mixed.Case@Example.COM') });
    const otp = codeFrom(await t.deliver(), 'mixed.case@example.com');
    const created = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('MIXED.CASE@example.com', { otp }) });
    expect(created.status).toBe(201);
    const { access, email } = await loginJwt(t, 'MIXED.case@example.com');
    expect(email).toBe('mixed.case@example.com');
    const profile = await call(t.app, 'GET', '/api/users/profile/', { bearer: access });
    expect(profile.body.email).toBe('mixed.case@example.com');
  });

  it.each([...bothForms('/api/users/login/'), ...bothForms('/api/token/')])('logs in at %s with {access, refresh, email}', async (path) => {
    await registerUser(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, { body: { email: 'hero@example.com', password: STRONG_PASSWORD } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ access: expect.any(String), refresh: expect.any(String), email: 'hero@example.com' });
    expect(response.body.access.split('.')).toHaveLength(3);
  });

  it.each(slashCases('/api/users/profile/'))('reads the profile %s a trailing slash', async (_, path) => {
    const { superhero_name } = await registerUser(t, 'hero@example.com');
    const { access } = await loginJwt(t, 'hero@example.com');
    const response = await call(t.app, 'GET', path, { bearer: access });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      email: 'hero@example.com',
      gender: 'Male',
      preferences: 'Chatting, Gaming',
      dob: '2000-05-15',
      superhero_name,
    });
  });

  it.each(slashCases('/api/users/reset-password/'))('asks for a reset link %s a trailing slash', async (_, path) => {
    await registerUser(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, { body: { email: 'hero@example.com' } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'Password reset link sent to your email' });
  });

  it.each(['with', 'without'])('shows and confirms a reset link %s a trailing slash', async (form) => {
    await registerUser(t, 'hero@example.com');
    const linkPath = await requestResetPath(t, 'hero@example.com');
    const path = form === 'with' ? linkPath : linkPath.replace(/\/$/, '');
    const page = await call(t.app, 'GET', path);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const done = await call(t.app, 'POST', path, { body: { new_password: NEW_PASSWORD } });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ message: 'Password reset successful' });
  });

  it.each(slashCases('/api/token/refresh/'))('refreshes %s a trailing slash with {access}', async (_, path) => {
    await registerUser(t, 'hero@example.com');
    const { refresh } = await loginJwt(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, { body: { refresh } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ access: expect.any(String) });
  });

  it.each(slashCases('/api/token/verify/'))('verifies %s a trailing slash with {}', async (_, path) => {
    await registerUser(t, 'hero@example.com');
    const { access, refresh } = await loginJwt(t, 'hero@example.com');
    for (const token of [access, refresh]) {
      const response = await call(t.app, 'POST', path, { body: { token } });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({});
    }
  });

  it.each(slashCases('/api/token/blacklist/'))('blacklists %s a trailing slash with {}', async (_, path) => {
    await registerUser(t, 'hero@example.com');
    const { refresh } = await loginJwt(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, { body: { refresh } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({});
  });

  it.each(slashCases('/api/users/delete/'))('deletes the user %s a trailing slash', async (_, path) => {
    await registerUser(t, 'hero@example.com');
    const { access } = await loginJwt(t, 'hero@example.com');
    const response = await call(t.app, 'DELETE', path, { bearer: access });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'user deleted successfully' });
  });

  it('gives every user a distinct superhero name of the documented form', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { superhero_name } = await registerUser(t, `hero${i}@example.com`);
      expect(superhero_name).toMatch(/^[a-z]+_[0-9a-f]{7}$/);
      names.add(superhero_name);
    }
    expect(names.size).toBe(5);
  });
});
