import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { createEmlReader } from './helpers/eml-outbox.ts';
import { killHard, request, serverEnv, startServerProcess, tempDataDir, type ServerProcess } from './helpers/server-process.ts';

const ROUNDS = 20;
const WORKERS = 6;
const NEW_PASSWORD = 'Fresh-Kettle-Lantern-77';

interface Account {
  email: string;
  /** Undefined while the outcome of a password change is unknown (its answer was lost in a kill). */
  password: string | undefined;
  state: 'pending' | 'registered' | 'unknown';
  busy: boolean;
  kitchenToken?: string;
  refresh?: string;
  /** The last preferences value acknowledged, plus the values sent since whose answers were lost. */
  preferences: { acked: string; sentSince: string[] };
  resetDone: boolean;
  /** The round of its last acknowledged write: checks after a kill look hardest at fresh writes. */
  touched: number;
}

/** What the server acknowledged with a 2xx, and must therefore still hold after any crash. */
const model = {
  accounts: [] as Account[],
  revokedKitchenTokens: [] as { token: string; round: number }[],
  revokedRefreshTokens: [] as { refresh: string; round: number }[],
  consumedCodes: [] as { email: string; code: string; round: number }[],
  consumedLinks: [] as { linkPath: string; round: number }[],
  acked: 0,
};

const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
let currentRound = 0;

describe('crash safety under SIGKILL', () => {
  const dataDir = tempDataDir();
  const env = serverEnv(dataDir);
  const mails = createEmlReader(dataDir);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 1500): Promise<T | undefined> {
    const until = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined || Date.now() > until) return value;
      await sleep(20);
    }
  }

  async function completeRegistration(base: string, account: Account): Promise<void> {
    const code = await waitFor(() => mails.latestCode(account.email));
    if (!code) return;
    account.state = 'unknown';
    const done = await request(base, 'POST', '/api/users/register/', {
      body: registrationBody(account.email, { otp: code }),
    });
    if (done.status === 201) {
      account.state = 'registered';
      model.consumedCodes.push({ email: account.email, code, round: currentRound });
      account.touched = currentRound;
      model.acked++;
    } else {
      account.state = 'pending';
    }
  }

  async function loginJwt(base: string, account: Account) {
    const login = await request(base, 'POST', '/api/users/login/', {
      body: { email: account.email, password: account.password },
    });
    expect(login.status, `login of ${account.email}`).toBe(200);
    return login.body as { access: string; refresh: string };
  }

  /** One random operation on one idle account (or a new one); any answer lost to the kill is "unknown". */
  async function step(base: string): Promise<void> {
    const ready = model.accounts.filter((a) => !a.busy && a.state === 'registered' && a.password);
    const pending = model.accounts.filter((a) => !a.busy && a.state === 'pending');
    const roll = Math.random();

    if (roll < 0.2 || ready.length < 3) {
      const email = `crash${counter++}@example.com`;
      const account: Account = {
        email,
        password: STRONG_PASSWORD,
        state: 'pending',
        busy: true,
        preferences: { acked: 'Chatting, Gaming', sentSince: [] },
        resetDone: false,
        touched: currentRound,
      };
      if (Math.random() < 0.5) {
        // Kitchen sign-up: one call, the user and a token at once.
        model.accounts.push({ ...account, state: 'unknown', preferences: { acked: '', sentSince: [] } });
        const mine = model.accounts.at(-1)!;
        const created = await request(base, 'POST', '/users/', { body: { email, password: STRONG_PASSWORD } });
        if (created.status === 201) {
          mine.state = 'registered';
          mine.kitchenToken = created.body.token;
          mine.touched = currentRound;
          model.acked++;
        }
        mine.busy = false;
        return;
      }
      model.accounts.push(account);
      try {
        const first = await request(base, 'POST', '/api/users/register/', { body: registrationBody(email) });
        if (first.status === 200) await completeRegistration(base, account);
      } finally {
        account.busy = false;
      }
      return;
    }

    if (roll < 0.3 && pending.length > 0) {
      const account = pick(pending)!;
      account.busy = true;
      try {
        await completeRegistration(base, account);
      } finally {
        account.busy = false;
      }
      return;
    }

    const account = pick(ready)!;
    account.busy = true;
    try {
      if (roll < 0.55) {
        const { access, refresh } = await loginJwt(base, account);
        account.refresh = refresh;
        const value = `pref-${counter++}`;
        account.preferences.sentSince.push(value);
        const patched = await request(base, 'PATCH', '/api/users/profile/', { bearer: access, body: { preferences: value } });
        expect(patched.status).toBe(200);
        account.preferences = { acked: value, sentSince: [] };
        account.touched = currentRound;
        model.acked++;
      } else if (roll < 0.7) {
        if (!account.kitchenToken) {
          const login = await request(base, 'POST', '/token/', { body: { email: account.email, password: account.password } });
          expect(login.status).toBe(200);
          account.kitchenToken = login.body.token;
          return;
        }
        const token = account.kitchenToken;
        account.kitchenToken = undefined;
        const out = await request(base, 'POST', '/logout/', { token });
        expect(out.status).toBe(200);
        model.revokedKitchenTokens.push({ token, round: currentRound });
        model.acked++;
      } else if (roll < 0.85) {
        const refresh = account.refresh ?? (await loginJwt(base, account)).refresh;
        account.refresh = undefined;
        const out = await request(base, 'POST', '/api/token/blacklist/', { body: { refresh } });
        expect(out.status).toBe(200);
        model.revokedRefreshTokens.push({ refresh, round: currentRound });
        model.acked++;
      } else if (!account.resetDone) {
        account.resetDone = true; // one reset mail per account keeps clear of the per-email mail throttle
        const asked = await request(base, 'POST', '/api/users/reset-password/', { body: { email: account.email } });
        expect(asked.status).toBe(200);
        const link = await waitFor(() => mails.latestResetLink(account.email));
        if (!link) return;
        const linkPath = new URL(link).pathname;
        account.password = undefined;
        const done = await request(base, 'POST', linkPath, { body: { new_password: NEW_PASSWORD } });
        expect(done.status).toBe(200);
        account.password = NEW_PASSWORD;
        // A reset kills every earlier credential of the user.
        if (account.kitchenToken) model.revokedKitchenTokens.push({ token: account.kitchenToken, round: currentRound });
        if (account.refresh) model.revokedRefreshTokens.push({ refresh: account.refresh, round: currentRound });
        account.touched = currentRound;
        account.kitchenToken = account.refresh = undefined;
        model.consumedLinks.push({ linkPath, round: currentRound });
        model.acked++;
      }
    } finally {
      account.busy = false;
    }
  }

  /** Every acknowledged write is still there, every acknowledged revocation and consumption still holds. */
  async function verify(base: string, full: boolean): Promise<number> {
    // After each kill: everything written in the round just killed, and a sample of older writes.
    const wanted = (round: number) => full || round >= currentRound - 1 || Math.random() < 0.05;
    let checks = 0;
    const checked = async (work: () => Promise<void>) => {
      await work();
      checks++;
    };
    const jobs: (() => Promise<void>)[] = [];
    for (const account of model.accounts) {
      if (account.state !== 'registered' || !account.password || !wanted(account.touched)) continue;
      jobs.push(() =>
        checked(async () => {
          const { access } = await loginJwt(base, account);
          if (account.kitchenToken) {
            const me = await request(base, 'GET', '/users/me/', { token: account.kitchenToken });
            expect(me.status, `live token of ${account.email}`).toBe(200);
          }
          const profile = await request(base, 'GET', '/api/users/profile/', { bearer: access });
          expect(profile.status).toBe(200);
          const allowed = [account.preferences.acked, ...account.preferences.sentSince];
          expect(allowed, `preferences of ${account.email}`).toContain(profile.body.preferences);
          // What we read is now what the server holds: later checks start from it.
          account.preferences = { acked: profile.body.preferences, sentSince: [] };
        }),
      );
    }
    for (const { token, round } of model.revokedKitchenTokens) {
      if (!wanted(round)) continue;
      jobs.push(() => checked(async () => expect((await request(base, 'GET', '/users/me/', { token })).status).toBe(401)));
    }
    for (const { refresh, round } of model.revokedRefreshTokens) {
      if (!wanted(round)) continue;
      jobs.push(() =>
        checked(async () => expect((await request(base, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401)),
      );
    }
    for (const { email, code, round } of model.consumedCodes) {
      if (!wanted(round)) continue;
      jobs.push(() =>
        checked(async () => {
          const again = await request(base, 'POST', '/api/users/register/', { body: registrationBody(email, { otp: code }) });
          expect(again.status, `reused code of ${email}`).toBe(400);
        }),
      );
    }
    for (const { linkPath, round } of model.consumedLinks) {
      if (!wanted(round)) continue;
      jobs.push(() =>
        checked(async () => {
          const again = await request(base, 'POST', linkPath, { body: { new_password: 'Yet-Another-Pass-93' } });
          expect(again.status, `reused link ${linkPath}`).toBe(400);
        }),
      );
    }
    const lanes = Array.from({ length: 8 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job();
    });
    await Promise.all(lanes);
    return checks;
  }

  function integrityCheck(): string {
    const db = new Database(path.join(dataDir, 'sidekick.db'));
    try {
      return db.pragma('integrity_check', { simple: true }) as string;
    } finally {
      db.close();
    }
  }

  it(`keeps every acknowledged write, revocation and consumption through ${ROUNDS} SIGKILLs`, { timeout: 120_000 }, async () => {
    let server: ServerProcess | undefined;
    let checks = 0;
    let networkErrors = 0;
    for (let round = 0; round < ROUNDS; round++) {
      currentRound = round;
      const t0 = Date.now();
      server = await startServerProcess(env);
      const t1 = Date.now();
      if (round > 0) checks += await verify(server.url, false);
      if (process.env.CHAOS_DEBUG) console.log(`round ${round}: start ${t1 - t0} ms, verify ${Date.now() - t1} ms`);
      let killed = false;
      const workers = Array.from({ length: WORKERS }, async () => {
        while (!killed) {
          try {
            await step(server!.url);
          } catch (error) {
            // A request cut by the kill has no answer; anything else is a real failure.
            if (!killed) throw error;
            networkErrors++;
          }
        }
      });
      const killer = (async () => {
        await sleep(100 + Math.random() * 300);
        killed = true;
        await killHard(server!);
      })();
      await Promise.all([killer, ...workers]);
      expect(integrityCheck(), `integrity after kill ${round + 1}`).toBe('ok');
    }
    server = await startServerProcess(env);
    try {
      checks += await verify(server.url, true);
    } finally {
      await killHard(server);
    }
    const registered = model.accounts.filter((a) => a.state === 'registered').length;
    console.log(
      `crash safety: ${ROUNDS} SIGKILLs survived, ${model.acked} acknowledged writes, ${registered} users, ` +
        `${model.revokedKitchenTokens.length + model.revokedRefreshTokens.length} revocations, ` +
        `${model.consumedCodes.length} codes and ${model.consumedLinks.length} links consumed, ${checks} checks, ` +
        `${networkErrors} requests cut by kills`,
    );
    expect(model.acked).toBeGreaterThan(ROUNDS);
    expect(model.consumedCodes.length).toBeGreaterThan(0);
    expect(model.revokedKitchenTokens.length + model.revokedRefreshTokens.length).toBeGreaterThan(0);
  });
});
