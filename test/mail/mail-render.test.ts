import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailCheck } from '../../src/sidekick.ts';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { NEW_PASSWORD } from '../helpers/accounts-flows.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { ManualClock } from '../helpers/clock.ts';
import { call } from '../helpers/http.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { codeIn, resetLinkIn, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../helpers/smtp.ts';

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../artifacts');
const APP = 'Heroes & Co';
const PUBLIC_URL = 'https://id.heroes.test';
const REQUEST_PAGE = `${PUBLIC_URL}/api/users/reset-password/`;
const EMAIL = 'reader@example.com';

/**
 * Every mail, rendered by a real browser as a webmail client would show it: laid out, readable, with
 * its button and code where a person looks, and fetching nothing. The mails come from the real flows
 * over a real SMTP server and are read back with mailparser, as a client receives them.
 */
describe('mail as a person sees it (headless Chromium)', () => {
  let smtp: TestSmtpServer;
  let live: LiveSidekick;
  let browser: Browser;
  const mails: Record<string, ReceivedMail> = {};

  async function next(kind: string): Promise<ReceivedMail> {
    await live.sidekick.deliverer.drain();
    const mail = smtp.received.at(-1)!;
    expect(Object.values(mails)).not.toContain(mail);
    mails[kind] = mail;
    return mail;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    smtp = await startSmtpServer();
    const clock = new ManualClock();
    live = await createLiveSidekick({ SIDEKICK_SMTP_URL: smtp.url, SIDEKICK_APP_NAME: APP, SIDEKICK_PUBLIC_URL: PUBLIC_URL }, { clock });

    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody(EMAIL) });
    const otp = codeIn(await next('registration-code'));
    expect((await call(live.app, 'POST', '/api/users/register/', { body: registrationBody(EMAIL, { otp }) })).status).toBe(201);
    clock.advanceSeconds(61);
    await call(live.app, 'POST', '/api/users/register/', { body: registrationBody(EMAIL) });
    await next('already-registered');
    await call(live.app, 'POST', '/api/users/reset-password/', { body: { email: EMAIL } });
    const link = resetLinkIn(await next('password-reset'));
    expect((await call(live.app, 'POST', new URL(link).pathname, { body: { new_password: NEW_PASSWORD } })).status).toBe(200);
    await next('password-changed');
    await live.sidekick.services.accounts.setPassword(EMAIL, STRONG_PASSWORD);
    await next('password-set-by-operator');
    const check = createMailCheck(live.config, { clock });
    try {
      expect((await check.mailTest.send(EMAIL)).ok).toBe(true);
    } finally {
      check.close();
    }
    await smtp.waitFor(6);
    mails['test-mail'] = smtp.received.at(-1)!;

    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await live?.close();
    await smtp?.stop();
  });

  /**
   * Opens `mail`'s HTML part as a page whose every request is recorded and refused, screenshots it
   * into test/artifacts/, and hands the page to `check`.
   */
  async function render(kind: string, check: (page: Page) => Promise<void>, viewport = { width: 1024, height: 900 }) {
    const html = mails[kind].parsed.html;
    expect(html, kind).toBeTruthy();
    const context = await browser.newContext({ viewport });
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    try {
      const page = await context.newPage();
      page.on('request', (request) => requests.push(request.url()));
      await page.setContent(html as string, { waitUntil: 'load' });
      const file = path.join(ARTIFACTS, `mail-${kind}${viewport.width < 600 ? '-narrow' : ''}.png`);
      await page.screenshot({ path: file, fullPage: true });
      expect(statSync(file).size).toBeGreaterThan(1000);
      await check(page);
      expect(requests, `${kind} fetched something`).toEqual([]);
    } finally {
      await context.close();
    }
  }

  /** The app name heads the mail, visibly; the card stays within 600px; the preheader stays hidden. */
  async function expectFrame(page: Page, heading: string) {
    await expect.poll(() => page.getByText(APP, { exact: true }).isVisible()).toBe(true);
    expect(await page.locator('h1').textContent()).toBe(heading);
    expect(await page.locator('h1').isVisible()).toBe(true);
    const card = await page.locator('table[style*="max-width:600px"]').boundingBox();
    expect(card!.width).toBeGreaterThan(300);
    expect(card!.width).toBeLessThanOrEqual(600);
    expect(await page.locator('body > div').first().isHidden()).toBe(true);
  }

  /** A big, visible, unobstructed button to `href`, and the same link written out beneath it. */
  async function expectButton(page: Page, label: string, href: string) {
    const button = page.getByRole('link', { name: label, exact: true });
    expect(await button.isVisible()).toBe(true);
    expect(await button.getAttribute('href')).toBe(href);
    const box = (await button.boundingBox())!;
    expect(box.width).toBeGreaterThan(120);
    expect(box.height).toBeGreaterThanOrEqual(40);
    // Painted: white text on the cell's colour, and nothing on top of it where a finger lands.
    const look = await button.evaluate((anchor, [x, y]) => {
      const view = anchor.ownerDocument.defaultView!;
      const hit = anchor.ownerDocument.elementFromPoint(x, y);
      return {
        color: view.getComputedStyle(anchor).color,
        background: view.getComputedStyle(anchor.parentElement!).backgroundColor,
        onTop: hit === anchor || anchor.contains(hit),
      };
    }, [box.x + box.width / 2, box.y + box.height / 2]);
    expect(look).toEqual({ color: 'rgb(255, 255, 255)', background: 'rgb(29, 78, 216)', onTop: true });
    const written = page.getByRole('link', { name: href, exact: true });
    expect(await written.isVisible()).toBe(true);
    expect(await written.getAttribute('href')).toBe(href);
  }

  it('shows the registration code large, under the app name', async () => {
    const code = codeIn(mails['registration-code']);
    await render('registration-code', async (page) => {
      await expectFrame(page, 'Your registration code');
      const shown = page.getByText(code, { exact: true });
      expect(await shown.isVisible()).toBe(true);
      expect(parseFloat(await shown.evaluate((cell) => cell.ownerDocument.defaultView!.getComputedStyle(cell).fontSize))).toBeGreaterThanOrEqual(32);
      expect((await shown.boundingBox())!.height).toBeGreaterThanOrEqual(40);
    });
  });

  it('gives the reset mail a big button to the reset link, and the link as text', async () => {
    const link = resetLinkIn(mails['password-reset']);
    await render('password-reset', async (page) => {
      await expectFrame(page, 'Choose a new password');
      await expectButton(page, 'Choose a new password', link);
    });
  });

  it('fits the reset mail on a phone: no sideways scrolling, the button still whole', async () => {
    const link = resetLinkIn(mails['password-reset']);
    await render(
      'password-reset',
      async (page) => {
        expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
        await expectButton(page, 'Choose a new password', link);
      },
      { width: 360, height: 740 },
    );
  });

  it.each([
    ['already-registered', 'You already have an account'],
    ['password-changed', 'Your password was changed'],
    ['password-set-by-operator', 'Your password was changed'],
  ])('links the %s notice to the page that sends a reset link', async (kind, heading) => {
    await render(kind, async (page) => {
      await expectFrame(page, heading);
      await expectButton(page, 'Reset your password', REQUEST_PAGE);
    });
  });

  it('renders the mail:test message under the app name', async () => {
    await render('test-mail', async (page) => {
      await expectFrame(page, 'Test mail');
      expect(await page.getByText(/It arrived, so mail from Heroes & Co reaches this address/).isVisible()).toBe(true);
    });
  });
});
