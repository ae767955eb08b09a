import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerUser } from '../helpers/accounts.ts';
import { NEW_PASSWORD, requestResetPath, resetLinkFrom } from '../helpers/accounts-flows.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,application/xhtml+xml' };

/** The pages a person sees on the way through a reset: no dead ends. */
describe('reset pages', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
    await registerUser(t, 'hero@example.com');
    await t.deliver();
  });
  afterEach(async () => {
    await t.close();
  });
  const post = async (path: string, body: string) => {
    const response = await t.app.request(path, { method: 'POST', headers: FORM, body });
    return { status: response.status, headers: response.headers, html: await response.text() };
  };
  const get = async (path: string) => {
    const response = await t.app.request(path, { headers: { accept: 'text/html' } });
    return { status: response.status, html: await response.text() };
  };

  it('keeps the form after a refused password, the reasons shown beside the field, and the link still works', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    const refused = await post(path, 'new_password=83019572641');
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('<div role="alert" id="problem"><p>This password is entirely numeric.</p></div>');
    expect(refused.html).toMatch(/<form method="post">[\s\S]*name="new_password"[\s\S]*aria-invalid="true"/);
    expect(refused.html).not.toContain('Try again');
    const done = await post(path, `new_password=${encodeURIComponent(NEW_PASSWORD)}`);
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password changed');
  });

  it('offers a new link where a used or unknown link leads, instead of a dead end', async () => {
    const path = await requestResetPath(t, 'hero@example.com');
    await post(path, `new_password=${encodeURIComponent(NEW_PASSWORD)}`);
    for (const page of [await get(path), await post(path, 'new_password=Whatever-Else-99'), await get('/api/users/reset/MQ/1a-deadbeef/')]) {
      expect(page.status).toBe(400);
      expect(page.html).toContain('This link no longer works');
      expect(page.html).toContain('Invalid or expired link.');
      expect(page.html).toMatch(/<form method="post" action="\/api\/users\/reset-password\/">[\s\S]*name="email"/);
      expect(page.html).not.toContain('Try again');
    }
  });

  it('answers that form with a page, mails a fresh link, and says when to try again', async () => {
    t.clock.advanceSeconds(120);
    const sent = await post('/api/users/reset-password/', 'email=hero%40example.com');
    expect(sent.status).toBe(200);
    expect(sent.headers.get('content-type')).toMatch(/^text\/html/);
    expect(sent.html).toContain('Password reset link sent to your email');
    const link = resetLinkFrom(await t.deliver(), 'hero@example.com');
    expect((await get(new URL(link).pathname)).status).toBe(200);

    // The same page for an address with no account: nobody learns who has one.
    const unknown = await post('/api/users/reset-password/', 'email=nobody%40example.com');
    expect(unknown.html).toBe(sent.html);

    const again = await post('/api/users/reset-password/', 'email=hero%40example.com');
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(again.html).toMatch(/Request was throttled\. Expected available in \d+ seconds\./);
    expect(again.html).toContain('name="email"');

    const bad = await post('/api/users/reset-password/', 'email=not-an-email');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('Enter a valid email address.');
  });
});
