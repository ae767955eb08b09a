import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { kitchenSignUpLive, startLiveServer, type LiveServer } from './live-flows.ts';

/** The interactive reference at /docs, in real Chromium: offline, under its CSP, and its try-it-out works. */
describe('the /docs reference page (real Chromium)', () => {
  let api: LiveServer;
  let browser: Browser;

  beforeAll(async () => {
    api = await startLiveServer();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('renders every operation from files this server serves, with no console error, and logs in through try-it-out', async () => {
    await kitchenSignUpLive(api.url, 'reader@example.com');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto(`${api.url}/docs`);
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      // Every operation of the document shows (23 paths, kitchen twice).
      const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, object> };
      const operations = Object.values(document.paths).reduce((sum, methods) => sum + Object.keys(methods).length, 0);
      expect(await page.locator('.opblock').count()).toBe(operations);

      const login = page.locator('#operations-Accounts_API-postApiUsersLogin');
      await login.locator('.opblock-summary').click();
      await login.locator('.try-out__btn').click();
      await login.locator('textarea.body-param__text').fill(JSON.stringify({ email: 'reader@example.com', password: STRONG_PASSWORD }));
      await login.locator('button.execute').click();
      const status = login.locator('.live-responses-table tbody .response-col_status');
      await status.waitFor({ timeout: 20_000 });
      expect((await status.textContent())?.trim()).toBe('200');
      const body = JSON.parse((await login.locator('.live-responses-table .response-col_description pre.microlight').first().textContent()) ?? '');
      expect(body).toEqual({ access: expect.any(String), refresh: expect.any(String), email: 'reader@example.com' });

      expect(errors).toEqual([]);
      const elsewhere = requests.filter((url) => !url.startsWith(`${api.url}/`) && !url.startsWith('data:'));
      expect(elsewhere).toEqual([]);
      expect(requests).toContain(`${api.url}/api/users/login/`);
    } finally {
      await context.close();
    }
  }, 90_000);
});
