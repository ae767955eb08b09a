import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { createSidekick } from '../../src/sidekick.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { sendFrom } from '../helpers/proxy.ts';
import { LogCapture, testConfig } from '../helpers/sidekick.ts';
import { serverEnv, startServerProcess, type ServerProcess } from '../chaos/helpers/server-process.ts';

/**
 * Contract §2 and §5: known and unknown emails take similar time. Medians over interleaved tries against
 * `serve` in its own process (a client sharing the server's event loop would also wait for work done
 * after the answer), so a commit or a bcrypt check of difference shows, and scheduling noise does not.
 */
const TRIES = 60;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(run: () => Promise<number>, expected: number): Promise<number> {
  const started = performance.now();
  expect(await run()).toBe(expected);
  return performance.now() - started;
}

describe('answers that must not tell a known email from an unknown one', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  beforeAll(ensureBuilt, 120_000);
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-timing-'));
  });
  afterEach(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    server = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Users made at `cost` in a fresh data folder, before any server runs. */
  async function withUsers(emails: string[], cost = '4') {
    const sidekick = await createSidekick(testConfig(dataDir, { SIDEKICK_BCRYPT_COST: cost }), { logger: createLogger('silent', new LogCapture()) });
    for (const email of emails) await sidekick.services.accounts.createUser({ email, password: STRONG_PASSWORD });
    await sidekick.close();
  }

  const serve = async (cost: string) => {
    // The test stands in for a trusted proxy (serverEnv trusts 127.0.0.1), so that each try comes
    // from its own client address.
    server = await startServerProcess(serverEnv(dataDir, { SIDEKICK_BCRYPT_COST: cost }));
    return server.url;
  };

  const post = (url: string, route: string, body: unknown, client: number) =>
    sendFrom('127.0.0.1', `${url}${route}`, { body, headers: { 'x-forwarded-for': `198.51.${Math.floor(client / 250)}.${client % 250}` } }).then(
      (answer) => answer.status,
    );

  it('reset-password answers a known email as fast as an unknown one', async () => {
    const known = Array.from({ length: TRIES }, (_, i) => `known${i}@example.com`);
    await withUsers(known);
    // The server's deliverer runs, as in production, and claims and sends each queued mail.
    const url = await serve('4');
    const ask = (email: string, client: number) => post(url, '/api/users/reset-password/', { email }, client);
    for (let i = 0; i < 5; i++) await ask(`warmup${i}@example.com`, 1000 + i);

    // Paired tries, in alternating order, so that a slow moment of the disk hits both of a pair; with a
    // pause before each, as between a prober's requests, so that what the last one left running is done.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 25));
    const differences: number[] = [];
    for (let i = 0; i < TRIES; i++) {
      const knownFirst = i % 2 === 0;
      await pause();
      const first = await timed(() => (knownFirst ? ask(known[i], 2 * i) : ask(`unknown${i}@example.com`, 2 * i)), 200);
      await pause();
      const second = await timed(() => (knownFirst ? ask(`unknown${i}@example.com`, 2 * i + 1) : ask(known[i], 2 * i + 1)), 200);
      differences.push(knownFirst ? first - second : second - first);
    }
    const difference = median(differences);
    expect(Math.abs(difference), `median of known minus unknown: ${difference.toFixed(2)} ms`).toBeLessThan(1);
  }, 60_000);

  it('a wrong password against a hash from before a cost change takes as long as against a current one', async () => {
    // Hashes made at cost 4, then the server's cost raised to 9: the old ones verify 32 times faster.
    await withUsers(['old@example.com'], '4');
    await withUsers(['current@example.com'], '9');
    const url = await serve('9');
    const login = (email: string, client: number) => post(url, '/api/users/login/', { email, password: 'Wrong-Password-1' }, client);

    const oldMs: number[] = [];
    const currentMs: number[] = [];
    const unknownMs: number[] = [];
    for (let i = 0; i < TRIES; i++) {
      // Nine failures per account and address stay under the per-account-and-address limit of ten.
      const client = Math.floor(i / 9);
      oldMs.push(await timed(() => login('old@example.com', client), 401));
      currentMs.push(await timed(() => login('current@example.com', client), 401));
      unknownMs.push(await timed(() => login(`nobody${i}@example.com`, client), 401));
    }
    const [o, c, u] = [median(oldMs), median(currentMs), median(unknownMs)];
    const shown = `median old-hash ${o.toFixed(1)} ms, current ${c.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`;
    expect(o / c, shown).toBeGreaterThan(0.8);
    expect(u / c, shown).toBeGreaterThan(0.8);
    expect(u / c, shown).toBeLessThan(1.25);
  }, 60_000);
});
