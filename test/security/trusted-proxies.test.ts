import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { startForwardingProxy, sendFrom, type ForwardingProxy } from '../helpers/proxy.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const WRONG = 'Wrong-Password-1';
const LOGIN = '/api/users/login/';

describe('client addresses and the login throttles (contract §1, §5)', () => {
  let t: TestSidekick;
  let server: RunningServer;
  let proxy: ForwardingProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await server.close();
    await t.close();
  });

  async function start(env: Record<string, string> = {}, accounts = ['owner@example.com']) {
    t = await createTestSidekick(env);
    for (const email of accounts) await t.sidekick.services.accounts.createUser({ email, password: STRONG_PASSWORD });
    server = await startServer(t.sidekick, { port: 0, host: '127.0.0.1' });
  }

  async function behindProxy(env: Record<string, string> = { SIDEKICK_TRUSTED_PROXIES: '127.0.0.1' }, accounts?: string[]) {
    await start(env, accounts);
    proxy = await startForwardingProxy(server.url);
    return proxy.url;
  }

  const login = (from: string, base: string, email: string, password: string, headers?: Record<string, string>) =>
    sendFrom(from, `${base}${LOGIN}`, { body: { email, password }, headers }).then((response) => response.status);

  async function failTimes(count: number, from: string, base: string, email: string) {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) statuses.push(await login(from, base, email, WRONG));
    return statuses;
  }

  it('behind a trusted proxy, one client failing never refuses another, and a forged X-Forwarded-For changes nothing', async () => {
    const base = await behindProxy();
    expect(await failTimes(10, '127.0.0.2', base, 'owner@example.com')).toEqual(Array(10).fill(401));
    expect(await login('127.0.0.2', base, 'owner@example.com', WRONG)).toBe(429);
    // What the attacker writes is to the left of what the proxy appends: the real address still counts.
    expect(await login('127.0.0.2', base, 'owner@example.com', WRONG, { 'x-forwarded-for': '127.0.0.9' })).toBe(429);
    // The owner, from elsewhere, logs in.
    expect(await login('127.0.0.3', base, 'owner@example.com', STRONG_PASSWORD)).toBe(200);
    const logged = t.logs.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request' && entry.status === 200);
    expect(logged.at(-1)).toMatchObject({ route: '/api/users/login', client: '127.0.0.3' });
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    await start();
    for (let i = 0; i < 10; i++) {
      expect(await login('127.0.0.2', server.url, 'owner@example.com', WRONG, { 'x-forwarded-for': `198.51.100.${i}` })).toBe(401);
    }
    expect(await login('127.0.0.2', server.url, 'owner@example.com', WRONG, { 'x-forwarded-for': '198.51.100.200' })).toBe(429);
    expect(await login('127.0.0.3', server.url, 'owner@example.com', STRONG_PASSWORD)).toBe(200);
    await server.close();
    await t.close();

    // Trusting 127.0.0.1 does not make a direct client at 127.0.0.2 a proxy.
    await start({ SIDEKICK_TRUSTED_PROXIES: '127.0.0.1' });
    expect(await failTimes(10, '127.0.0.2', server.url, 'owner@example.com')).toEqual(Array(10).fill(401));
    expect(await login('127.0.0.2', server.url, 'owner@example.com', STRONG_PASSWORD, { 'x-forwarded-for': '198.51.100.1' })).toBe(429);
  });

  it('100 failures from one address refuse that address, right password or not, and no other', async () => {
    const accounts = Array.from({ length: 10 }, (_, i) => `target${i}@example.com`);
    const base = await behindProxy(undefined, ['owner@example.com', ...accounts]);
    for (const email of accounts) expect(await failTimes(10, '127.0.0.2', base, email)).toEqual(Array(10).fill(401));
    expect(await login('127.0.0.2', base, 'owner@example.com', STRONG_PASSWORD)).toBe(429);
    expect(await login('127.0.0.3', base, 'owner@example.com', STRONG_PASSWORD)).toBe(200);
  });

  it('holds an account to 100 failures an hour from all addresses, and a completed reset clears its counts', async () => {
    const base = await behindProxy();
    for (let client = 10; client < 20; client++) {
      expect(await failTimes(10, `127.0.0.${client}`, base, 'owner@example.com')).toEqual(Array(10).fill(401));
    }
    // NIST 800-63B's ceiling: a distributed guesser stops here, and so, for now, does the owner.
    expect(await login('127.0.0.30', base, 'owner@example.com', STRONG_PASSWORD)).toBe(429);

    const owner = await t.sidekick.services.accounts.requireUser('owner@example.com');
    const link = new URL(t.sidekick.services.passwordReset.makeLink(await owner));
    const reset = await sendFrom('127.0.0.30', `${base}${link.pathname}`, { body: { new_password: 'A-New-Secret-Phrase-7' } });
    expect(reset.status).toBe(200);
    expect(await login('127.0.0.30', base, 'owner@example.com', 'A-New-Secret-Phrase-7')).toBe(200);
    // The guessers' own addresses are cleared for this account too; their per-address counts are not the account's.
    expect(await login('127.0.0.10', base, 'owner@example.com', WRONG)).toBe(401);
  });
});
