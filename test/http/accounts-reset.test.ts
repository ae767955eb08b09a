import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { loginToken, NEW_PASSWORD, requestResetPath, resetLinkFrom } from '../helpers/accounts-flows.ts';

const RESET = '/api/users/reset-password/';
const LINK_INVALID = { detail: 'Invalid or expired link.', code: 'reset_link_invalid', message: 'Invalid or expired link.' };
const SENT = { message: 'Password reset link sent to your email' };

describe('password reset by mail (contract §2, §5)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: 'https://accounts.example.org' });
    await registerUser(t, 'hero@example.com');
  });
  afterEach(async () => {
    await t.close();
  });

  const confirm = (path: string, body: Record<string, string>) => call(t.app, 'POST', path, { body });
  const login = (password: string) => call(t.app, 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password } });

  it('mails a link built from SIDEKICK_PUBLIC_URL, never from request headers', async () => {
    const response = await call(t.app, 'POST', RESET, {
      body: { email: 'hero@example.com' },
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual(SENT);
    const link = resetLinkFrom(await t.deliver(), 'hero@example.com');
    expect(link).toMatch(/^https:\/\/accounts\.example\.org\/api\/users\/reset\/[^/]+\/[^/]+\/$/);
  });

  it('answers an unknown email with the same 200 and mails nothing', async () => {
    const known = await call(t.app, 'POST', RESET, { body: { email: 'hero@example.com' } });
    const unknown = await call(t.app, 'POST', RESET, { body: { email: 'nobody@example.com' } });
    expect(unknown.status).toBe(known.status);
    expect(unknown.text).toBe(known.text);
    const mails = await t.deliver();
    expect(mails.map((m) => m.to)).toEqual(['hero@example.com']);
  });

  it('mails nothing to an inactive account but answers the same', async () => {
    await t.sidekick.services.accounts.updateAdmin('hero@example.com', { isActive: false });
    const response = await call(t.app, 'POST', RESET, { body: { email: 'hero@example.com' } });
    expect(response.body).toEqual(SENT);
    expect(await t.deliver()).toEqual([]);
  });

  it('throttles reset mails to one a minute per email, known or unknown', async () => {
    for (const email of ['hero@example.com', 'nobody@example.com']) {
      expect((await call(t.app, 'POST', RESET, { body: { email } })).status).toBe(200);
      const again = await call(t.app, 'POST', RESET, { body: { email } });
      expect(again.status, email).toBe(429);
      expect(again.headers.get('retry-after'), email).toBe('60');
    }
  });

  it('allows at most five reset mails an hour per email', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await call(t.app, 'POST', RESET, { body: { email: 'hero@example.com' } })).status, `mail ${i + 1}`).toBe(200);
      t.clock.advanceSeconds(61);
    }
    const sixth = await call(t.app, 'POST', RESET, { body: { email: 'hero@example.com' } });
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get('retry-after')).toBe(String(3600 - 305));
    expect(await t.deliver()).toHaveLength(5);
  });

  it('shows an HTML form on GET without consuming the link', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    for (let i = 0; i < 3; i++) {
      const page = await call(t.app, 'GET', path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toMatch(/<form[^>]*method="post"/);
      expect(page.text).toMatch(/name="new_password"/);
    }
    expect((await confirm(path, { new_password: NEW_PASSWORD })).status).toBe(200);
  });

  it('sets the new password from {"new_password"}', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const response = await confirm(path, { new_password: NEW_PASSWORD });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'Password reset successful' });
    expect((await login(NEW_PASSWORD)).status).toBe(200);
    expect((await login(STRONG_PASSWORD)).status).toBe(401);
  });

  it('also accepts {"password"}', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const response = await confirm(path, { password: NEW_PASSWORD });
    expect(response.status).toBe(200);
    expect((await login(NEW_PASSWORD)).status).toBe(200);
  });

  it('holds the new password to the policy and keeps the link usable after a refusal', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const weak = await confirm(path, { new_password: '12345678' });
    expect(weak.status).toBe(400);
    expect(weak.body.new_password).toEqual(expect.arrayContaining(['This password is entirely numeric.']));
    const missing = await confirm(path, {});
    expect(missing.body).toEqual({ new_password: ['This field is required.'], message: 'This field is required.' });
    expect((await confirm(path, { new_password: NEW_PASSWORD })).status).toBe(200);
  });

  it('refuses a used link with 400 reset_link_invalid', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    expect((await confirm(path, { new_password: NEW_PASSWORD })).status).toBe(200);
    const again = await confirm(path, { new_password: 'Yet-Another-Phrase-77' });
    expect(again.status).toBe(400);
    expect(again.body).toEqual(LINK_INVALID);
    expect((await call(t.app, 'GET', path)).status).toBe(400);
    expect((await login(NEW_PASSWORD)).status).toBe(200);
  });

  it('accepts a link exactly once among parallel confirmations', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => confirm(path, { new_password: `${NEW_PASSWORD}-${i}` })),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 200)) expect(refused.body).toEqual(LINK_INVALID);
  });

  it('kills an older link once the password changed through a newer one', async () => {
    const older = await requestResetPath(t, 'hero@example.com');
    t.clock.advanceSeconds(61);
    const newer = await requestResetPath(t, 'hero@example.com');
    expect((await confirm(newer, { new_password: NEW_PASSWORD })).status).toBe(200);
    const response = await confirm(older, { new_password: 'Yet-Another-Phrase-77' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual(LINK_INVALID);
  });

  it('refuses the link once 15 minutes have passed', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    t.clock.advanceSeconds(15 * 60 + 1);
    const response = await confirm(path, { new_password: NEW_PASSWORD });
    expect(response.status).toBe(400);
    expect(response.body).toEqual(LINK_INVALID);
    expect((await call(t.app, 'GET', path)).status).toBe(400);
  });

  it('accepts the link just before 15 minutes have passed', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    t.clock.advanceSeconds(15 * 60 - 1);
    expect((await confirm(path, { new_password: NEW_PASSWORD })).status).toBe(200);
  });

  it('refuses tampered links', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const [, , , , uid, token] = path.split('/');
    const flipped = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    for (const bad of [
      `/api/users/reset/${uid}/${flipped}/`,
      `/api/users/reset/${Buffer.from('2').toString('base64url')}/${token}/`,
      `/api/users/reset/!!/${token}/`,
      `/api/users/reset/${uid}/nonsense/`,
    ]) {
      const response = await confirm(bad, { new_password: NEW_PASSWORD });
      expect(response.status, bad).toBe(400);
      expect(response.body, bad).toEqual(LINK_INVALID);
    }
  });

  it('kills every old token (access, refresh, opaque) and mails a notice after a reset', async () => {
    const { access, refresh } = await loginJwt(t, 'hero@example.com');
    const opaque = await loginToken(t, 'hero@example.com');
    const path = await requestResetPath(t, 'hero@example.com');
    expect((await confirm(path, { new_password: NEW_PASSWORD })).status).toBe(200);

    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: access })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
    expect((await call(t.app, 'GET', '/api/users/profile/', { token: opaque })).status).toBe(401);
    expect((await call(t.app, 'GET', '/users/me/', { token: opaque })).status).toBe(401);

    const mails = await t.deliver();
    expect(mails).toHaveLength(1);
    expect(mails[0].to).toBe('hero@example.com');
    expect(mails[0].subject).toMatch(/password was changed/i);
  });

  it('answers a browser form post with an HTML page', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, {
      form: true,
      body: { new_password: NEW_PASSWORD },
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.text).toMatch(/Password changed/);
    expect((await login(NEW_PASSWORD)).status).toBe(200);
  });

  it('answers a browser form post with a used link with an HTML error page', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    await confirm(path, { new_password: NEW_PASSWORD });
    const response = await call(t.app, 'POST', path, {
      form: true,
      body: { new_password: 'Yet-Another-Phrase-77' },
      headers: { accept: 'text/html' },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.text).toMatch(/Invalid or expired link\./);
  });

  it('answers a form post without Accept text/html in JSON', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const response = await call(t.app, 'POST', path, { form: true, body: { new_password: NEW_PASSWORD } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ message: 'Password reset successful' });
  });
});
