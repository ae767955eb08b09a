import { afterEach, describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/html.ts';
import type { OutgoingMail } from '../../src/services/mailer.ts';
import { encodeUid } from '../../src/services/password-reset.ts';
import { createMailCheck } from '../../src/sidekick.ts';
import { codeFrom, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { NEW_PASSWORD } from '../helpers/accounts-flows.ts';
import { call } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const PUBLIC_URL = 'https://id.example.com';
const REQUEST_PAGE = `${PUBLIC_URL}/api/users/reset-password/`;
// Every character HTML must escape, and one it need not.
const NAME = 'Café <Heroes> & "Co"';

/**
 * Every kind of mail Sidekick sends, through the real flows: the registration code, the notice to an
 * address that has an account, the reset link, the password-changed notice (after a reset, and after
 * an operator's users:set-password), and mail:test's message.
 */
async function everyMail(t: TestSidekick, email = 'hero@example.com'): Promise<Record<string, OutgoingMail>> {
  const mails: Record<string, OutgoingMail> = {};
  const last = (sent: OutgoingMail[]) => {
    expect(sent).toHaveLength(1);
    return sent[0];
  };
  expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
  mails.code = last(await t.deliver());
  const otp = codeFrom([mails.code], email);
  expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(email, { otp }) })).status).toBe(201);
  t.clock.advanceSeconds(61);
  expect((await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(email) })).status).toBe(200);
  mails.alreadyRegistered = last(await t.deliver());
  expect((await call(t.app, 'POST', '/api/users/reset-password/', { body: { email } })).status).toBe(200);
  mails.reset = last(await t.deliver());
  const link = linkIn(mails.reset.text);
  const [uid, token] = sidekickPathOf(link);
  expect((await call(t.app, 'POST', `/api/users/reset/${uid}/${token}/`, { body: { new_password: NEW_PASSWORD } })).status).toBe(200);
  mails.changedByReset = last(await t.deliver());
  await t.sidekick.services.accounts.setPassword(email, STRONG_PASSWORD);
  mails.changedByOperator = last(await t.deliver());
  const check = createMailCheck(t.config, { transport: t.transport, clock: t.clock });
  expect((await check.mailTest.send(email)).ok).toBe(true);
  mails.test = t.transport.sent.at(-1)!;
  return mails;
}

/** The one link in a reset mail's plain text (on a line of its own). */
function linkIn(text: string): string {
  const links = text.match(/https?:\/\/\S+/g) ?? [];
  expect(links).toHaveLength(1);
  return links[0]!;
}

/** The uidb64 and token a reset link carries, whichever template placed them. */
function sidekickPathOf(link: string): [string, string] {
  const url = new URL(link);
  const own = /\/reset\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (own) return [own[1], own[2]];
  if (url.searchParams.has('uid')) return [url.searchParams.get('uid')!, url.searchParams.get('token')!];
  const inFragment = /^#\/reset\/([^/]+)\/([^/]+)$/.exec(url.hash);
  if (inFragment) return [inFragment[1], inFragment[2]];
  throw new Error(`no uid and token in ${link}`);
}

const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1].replaceAll('&amp;', '&'));

describe('mail and pages under SIDEKICK_APP_NAME', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t?.close();
  });

  it('says Sidekick in every subject and body by default', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    for (const [kind, mail] of Object.entries(await everyMail(t))) {
      expect(mail.subject, kind).toContain('Sidekick');
      expect(mail.text, kind).toContain('Sidekick');
      expect(mail.html, kind).toMatch(/<td [^>]*>Sidekick<\/td>/);
    }
  });

  it('puts the app name in every subject and text part as it is, and in every HTML part escaped', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_APP_NAME: NAME });
    const mails = await everyMail(t);
    expect(Object.keys(mails)).toHaveLength(6);
    for (const [kind, mail] of Object.entries(mails)) {
      expect(mail.subject, kind).toContain(NAME);
      expect(mail.text, kind).toContain(NAME);
      expect(mail.html, kind).toContain('Café &lt;Heroes&gt; &amp; &quot;Co&quot;');
      expect(mail.html, kind).not.toContain('<Heroes>');
      expect(mail.html, kind).not.toContain('"Co"');
      expect(mail.html, kind).toContain(`<title>${escapeHtml(mail.subject)}</title>`);
    }
    expect(mails.code.subject).toBe(`Your ${NAME} registration code`);
    expect(mails.reset.subject).toBe(`Reset your ${NAME} password`);
    expect(mails.changedByReset.subject).toBe(`Your ${NAME} password was changed`);
    expect(mails.test.subject).toBe(`${NAME} test mail`);
  });

  it('puts the app name, escaped, in the title and above the heading of every page', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_APP_NAME: NAME });
    const mails = await everyMail(t, 'pages@example.com');
    const [uid, token] = sidekickPathOf(linkIn(mails.reset.text));
    const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
    const pages = {
      request: await t.app.request('/api/users/reset-password/'),
      sent: await t.app.request('/api/users/reset-password/', { method: 'POST', headers: form, body: 'email=nobody%40example.com' }),
      refused: await t.app.request('/api/users/reset-password/', { method: 'POST', headers: form, body: 'email=nope' }),
      deadLink: await t.app.request(`/api/users/reset/${uid}/${token}/`),
    };
    for (const [kind, response] of Object.entries(pages)) {
      const html = await response.text();
      expect(html, kind).toMatch(/<title>[^<]+ · Café &lt;Heroes&gt; &amp; &quot;Co&quot;<\/title>/);
      expect(html, kind).toContain('<header><p class="app">Café &lt;Heroes&gt; &amp; &quot;Co&quot;</p></header>');
      expect(html, kind).not.toContain('<Heroes>');
    }
  });
});

describe('what every mail is made of', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t?.close();
  });

  it('is an HTML page a mail client renders alone: charset, lang, preheader, tables, inline styles, nothing fetched', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    for (const [kind, mail] of Object.entries(await everyMail(t))) {
      const html = mail.html;
      expect(html, kind).toMatch(/^<!doctype html>\n<html lang="en"/);
      expect(html, kind).toContain('<meta charset="utf-8">');
      // The preheader: the first thing in the body, hidden.
      expect(html, kind).toMatch(/<body[^>]*>\n<div style="display:none;[^"]*mso-hide:all;[^"]*">[^<]{20,}/);
      expect(html, kind).toMatch(/<table role="presentation"[^>]*style="width:100%;max-width:600px;"/);
      expect(html, kind).toContain('<!--[if mso]><table role="presentation" width="600"');
      // Gmail drops <style> blocks and most clients block what a mail would fetch.
      for (const banned of [/<style/i, /<link/i, /<img/i, /<script/i, /\bsrc=/i, /url\(/i, /@import/i, /class="/]) {
        expect(html, kind).not.toMatch(banned);
      }
      for (const href of hrefs(html)) expect(href.startsWith(PUBLIC_URL), `${kind}: ${href}`).toBe(true);
      expect(mail.text, kind).not.toMatch(/</);
    }
  });

  it('carries the code, the link or the request page in the plain-text part too (contract §6)', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    const mails = await everyMail(t);
    const code = codeFrom([mails.code], 'hero@example.com');
    expect(mails.code.html).toMatch(new RegExp(`font-size:36px;[^"]*">${code}</td>`));
    const link = linkIn(mails.reset.text);
    expect(link.startsWith(`${PUBLIC_URL}/api/users/reset/`)).toBe(true);
    // The button and the link written out: two anchors to the one link, the second showing it.
    expect(hrefs(mails.reset.html)).toEqual([link, link]);
    expect(mails.reset.html).toMatch(new RegExp(`<td align="center" bgcolor="#[0-9a-f]{6}"[^>]*>\\n<a href="${escapeRegExp(link)}"[^>]*>Choose a new password</a>`));
    expect(mails.reset.html).toContain(`>${link}</a>`);
    for (const kind of ['alreadyRegistered', 'changedByReset', 'changedByOperator'] as const) {
      expect(mails[kind].text, kind).toContain(REQUEST_PAGE);
      expect(hrefs(mails[kind].html), kind).toEqual([REQUEST_PAGE, REQUEST_PAGE]);
      expect(mails[kind].html, kind).toMatch(/>Reset your password<\/a>/);
    }
  });
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('SIDEKICK_RESET_URL', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t?.close();
  });

  it.each([
    ['in the path', 'https://app.example.com/reset/{uid}/{token}', /^https:\/\/app\.example\.com\/reset\/[^/]+\/[^/]+$/],
    ['in the query', 'https://app.example.com/reset?uid={uid}&token={token}', /^https:\/\/app\.example\.com\/reset\?uid=[^&]+&token=\S+$/],
    ['in a fragment', 'http://localhost:5173/#/reset/{uid}/{token}', /^http:\/\/localhost:5173\/#\/reset\/[^/]+\/[^/]+$/],
  ])('links the reset mail to the app (placeholders %s) with the uid and token the API accepts', async (_, template, shape) => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_RESET_URL: template });
    await t.sidekick.services.accounts.createUser({ email: 'app-user@example.com', password: STRONG_PASSWORD });
    expect((await call(t.app, 'POST', '/api/users/reset-password/', { body: { email: 'app-user@example.com' } })).status).toBe(200);
    const [mail] = await t.deliver();
    const link = linkIn(mail.text);
    expect(link).toMatch(shape);
    expect(hrefs(mail.html)).toEqual([link, link]);
    // What the app's page does with them: POST the new password to Sidekick's API.
    const [uid, token] = sidekickPathOf(link);
    expect((await call(t.app, 'POST', `/api/users/reset/${uid}/${token}/`, { body: { new_password: NEW_PASSWORD } })).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/users/login/', { body: { email: 'app-user@example.com', password: NEW_PASSWORD } })).status).toBe(200);
  });

  it("fills in exactly what Sidekick's own link carries, and needs no encoding", async () => {
    // Same secret, same clock: the same user gets the same link, placed differently.
    const own = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_RESET_URL: 'https://app.example.com/r?uid={uid}&token={token}' });
    try {
      for (const user of [{ id: 1, passwordVersion: 0 }, { id: 4321, passwordVersion: 7 }, { id: Number.MAX_SAFE_INTEGER, passwordVersion: 2 }]) {
        const [ownUid, ownToken] = sidekickPathOf(own.sidekick.services.passwordReset.makeLink(user));
        const appLink = t.sidekick.services.passwordReset.makeLink(user);
        expect(appLink).toBe(`https://app.example.com/r?uid=${ownUid}&token=${ownToken}`);
        // Read back through a URL parser (as the app's page will), they come out unchanged.
        const parsed = new URL(appLink).searchParams;
        expect([parsed.get('uid'), parsed.get('token')]).toEqual([ownUid, ownToken]);
        expect(ownToken).toMatch(/^[0-9a-z]+-[0-9a-f]{40}$/);
        for (const value of [ownUid, ownToken]) expect(encodeURIComponent(value)).toBe(value);
      }
    } finally {
      await own.close();
    }
    for (const id of [1, 9, 10, 62, 63, 64, 999, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      const uid = encodeUid(id);
      expect(uid, String(id)).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(encodeURIComponent(uid)).toBe(uid);
    }
  });

  it("keeps the notices on Sidekick's own request page, which the app's page cannot stand in for", async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_RESET_URL: 'https://app.example.com/reset/{uid}/{token}' });
    const mails = await everyMail(t);
    expect(linkIn(mails.reset.text).startsWith('https://app.example.com/reset/')).toBe(true);
    for (const kind of ['alreadyRegistered', 'changedByReset', 'changedByOperator'] as const) {
      expect(mails[kind].text, kind).toContain(REQUEST_PAGE);
      expect(mails[kind].text, kind).not.toContain('app.example.com');
      expect(hrefs(mails[kind].html), kind).toEqual([REQUEST_PAGE, REQUEST_PAGE]);
    }
  });
});

describe('GET /api/users/reset-password/: the page the notices link to', () => {
  let t: TestSidekick;
  afterEach(async () => {
    await t?.close();
  });

  it('answers a form asking for a link, with the page headers, with and without the trailing slash', async () => {
    t = await createTestSidekick({ SIDEKICK_APP_NAME: 'BlindChat' });
    for (const path of ['/api/users/reset-password/', '/api/users/reset-password']) {
      const response = await t.app.request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toMatch(/script-src|unsafe-inline/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const html = await response.text();
      expect(html).toContain('<h1>Reset your password</h1>');
      expect(html).toContain('your BlindChat account');
      expect(html).toMatch(/<form method="post" action="\/api\/users\/reset-password\/">[\s\S]*name="email"[\s\S]*<button type="submit">/);
    }
    expect((await t.app.request('/api/users/reset-password/', { method: 'HEAD' })).status).toBe(200);
    expect((await t.app.request('/api/users/reset-password/', { method: 'OPTIONS' })).headers.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
  });

  it('mails a link to whoever fills the form in, as a browser posts it', async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    await t.sidekick.services.accounts.createUser({ email: 'forgot@example.com', password: STRONG_PASSWORD });
    const page = await (await t.app.request('/api/users/reset-password/')).text();
    const action = /<form method="post" action="([^"]+)">/.exec(page)![1];
    const sent = await t.app.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,application/xhtml+xml' },
      body: 'email=forgot%40example.com',
    });
    expect(sent.status).toBe(200);
    expect(await sent.text()).toContain('<h1>Check your mail</h1>');
    const mails = await t.deliver();
    expect(mails.map((mail) => mail.to)).toEqual(['forgot@example.com']);
    expect(linkIn(mails[0].text).startsWith(`${PUBLIC_URL}/api/users/reset/`)).toBe(true);
  });
});
