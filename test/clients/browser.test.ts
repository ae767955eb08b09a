import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmlReader } from '../chaos/helpers/eml-outbox.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { freePort } from '../helpers/net.ts';
import { startLiveServer, type LiveServer } from './live-flows.ts';

/**
 * The admin front end's page, as a Vite app on another origin would run it: fetch with JSON and with
 * FormData, a picture drawn on a canvas, shown in an <img>. Each step reports what the page could read.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>admin</title></head>
<body><img id="avatar" alt="avatar">
<script>
async function adminFlow(api, email, password) {
  const steps = {};
  try {
    const signUp = await fetch(api + '/auth/users/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password, is_superuser: true }),
    });
    steps.signUp = signUp.status;
    const duplicate = await fetch(api + '/auth/users/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
    });
    steps.duplicate = { status: duplicate.status, body: await duplicate.json() };
    const login = await fetch(api + '/auth/token/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
    });
    const { token } = await login.json();
    steps.login = login.status;
    const canvas = document.createElement('canvas');
    canvas.width = 40; canvas.height = 30;
    const context = canvas.getContext('2d');
    context.fillStyle = '#c33'; context.fillRect(0, 0, 40, 30);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const form = new FormData();
    form.append('name', 'Admin Hero');
    form.append('profile_picture', blob, 'avatar.png');
    const saved = await fetch(api + '/auth/users/me/', { method: 'PUT', headers: { Authorization: 'Token ' + token }, body: form });
    const profile = await saved.json();
    steps.save = { status: saved.status, name: profile.name, picture: profile.profile_picture };
    const img = document.getElementById('avatar');
    img.src = profile.profile_picture;
    await img.decode();
    steps.shown = [img.naturalWidth, img.naturalHeight];
    const anonymous = await fetch(api + '/auth/users/me/');
    steps.anonymous = { status: anonymous.status, body: await anonymous.json() };
    const logout = await fetch(api + '/auth/logout/', { method: 'POST', headers: { Authorization: 'Token ' + token } });
    steps.logout = logout.status;
    steps.afterLogout = (await fetch(api + '/auth/users/me/', { headers: { Authorization: 'Token ' + token } })).status;
  } catch (error) {
    steps.failed = String(error);
  }
  return steps;
}
</script></body></html>`;

function servePage(port: number): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describe('a browser front end on another origin (real Chromium)', () => {
  let api: LiveServer;
  let allowedPage: Server;
  let otherPage: Server;
  let allowedOrigin: string;
  let otherOrigin: string;
  let browser: Browser;

  beforeAll(async () => {
    const [allowedPort, otherPort] = [await freePort(), await freePort()];
    allowedOrigin = `http://127.0.0.1:${allowedPort}`;
    otherOrigin = `http://127.0.0.1:${otherPort}`;
    allowedPage = await servePage(allowedPort);
    otherPage = await servePage(otherPort);
    api = await startLiveServer({ SIDEKICK_CORS_ORIGINS: allowedOrigin });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    allowedPage?.close();
    otherPage?.close();
  });

  async function runFlow(origin: string, email: string) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      return await page.evaluate(([base, user, password]) => (globalThis as any).adminFlow(base, user, password), [api.url, email, STRONG_PASSWORD]);
    } finally {
      await context.close();
    }
  }

  it('signs up, logs in, uploads a picture from FormData, shows it and logs out from an allowed origin', async () => {
    const steps = await runFlow(allowedOrigin, 'admin@example.com');
    expect(steps).toEqual({
      signUp: 201,
      duplicate: { status: 400, body: { email: ['User with email already exists.'] } },
      login: 200,
      save: { status: 201, name: 'Admin Hero', picture: expect.stringMatching(new RegExp(`^${api.url}/media/[0-9a-f]{32}\\.png$`)) },
      shown: [40, 30],
      anonymous: { status: 401, body: { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' } },
      logout: 200,
      afterLogout: 401,
    });
  }, 60_000);

  it('renders the mailed reset page under its strict CSP: styled, nothing refused, and it sets the password', async () => {
    await fetch(`${api.url}/auth/users/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'forgetful@example.com', password: STRONG_PASSWORD }),
    });
    await fetch(`${api.url}/api/users/reset-password/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'forgetful@example.com' }),
    });
    // The server's own deliverer writes the mail as an .eml file, as for a user of the defaults.
    const outbox = createEmlReader(api.live.dataDir);
    let link: string | undefined;
    for (let attempt = 0; attempt < 100 && !link; attempt++) {
      link = await outbox.latestResetLink('forgetful@example.com');
      if (!link) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(link).toMatch(new RegExp(`^${api.url}/api/users/reset/`));

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const refusals: string[] = [];
      // What the CSP refuses shows as console errors (the 400 of a refused password logs one too: not ours).
      page.on('console', (message) => {
        if (message.type() === 'error' && !/status of 400/.test(message.text())) refusals.push(message.text());
      });
      await page.goto(link!);
      // The inline style applies (allowed by its hash): the form sits in a 28rem column.
      expect(await page.evaluate(() => { const page = globalThis as any; return page.getComputedStyle(page.document.body).maxWidth; })).toBe('448px');
      // A refused password comes back with the form and the reason beside the field.
      await page.fill('#new_password', '83019572641');
      await page.click('button[type=submit]');
      await page.waitForSelector('[role=alert]');
      expect(await page.textContent('[role=alert]')).toBe('This password is entirely numeric.');
      await page.fill('#new_password', 'Brand-New-Secret-77');
      await page.click('button[type=submit]');
      await page.waitForSelector('[role=status]');
      expect(await page.textContent('h1')).toBe('Password changed');
      expect(refusals).toEqual([]);
    } finally {
      await context.close();
    }
    const login = await fetch(`${api.url}/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'forgetful@example.com', password: 'Brand-New-Secret-77' }),
    });
    expect(login.status).toBe(200);
  }, 60_000);

  it('is blocked by the browser from an origin that is not listed', async () => {
    const steps = await runFlow(otherOrigin, 'intruder@example.com');
    expect(steps.failed).toMatch(/Failed to fetch/);
    expect(steps.signUp).toBeUndefined();
    // The JSON sign-up needed a preflight, which got no CORS headers: the POST itself never left the browser.
    await expect(api.live.sidekick.services.accounts.requireUser('intruder@example.com')).rejects.toThrow(/no user/);
  }, 60_000);
});
