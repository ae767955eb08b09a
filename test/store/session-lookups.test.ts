import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { createCoalescer } from '../../src/services/coalescer.ts';
import { createStores, type Stores } from '../../src/store/index.ts';
import { bothEngines, openTestDatabase } from '../helpers/postgres.ts';

const NOW = 1_000_000;

describe.each(bothEngines())('looking up many sessions in one statement on %s', (engine) => {
  let db: Database;
  let stores: Stores;
  beforeEach(async () => {
    db = await openTestDatabase(engine);
    stores = createStores(db);
    for (const email of ['ann@example.com', 'ben@example.com']) {
      await stores.users.insert({ email, passwordHash: 'x' }, NOW, () => `hero_${email.slice(0, 3)}`);
    }
    const session = (id: string, userId: number, kind: 'jwt' | 'token', expiresAt = NOW + 1000) =>
      stores.sessions.create({ id, userId, kind, expiresAt }, NOW);
    await session('a'.repeat(32), 1, 'jwt');
    await session('b'.repeat(32), 2, 'jwt');
    await session('c'.repeat(32), 2, 'jwt', NOW);
    await session('d'.repeat(64), 1, 'token');
    await stores.sessions.revokeJwt('revoked', NOW + 1000);
  });
  afterEach(async () => {
    await db.close();
  });

  it('answers every JWT lookup in order, as the single lookup would', async () => {
    const lookups = [
      { sid: 'b'.repeat(32), userId: 2, jti: 'live' },
      { sid: 'a'.repeat(32), userId: 2, jti: 'live' }, // another user's session
      { sid: 'a'.repeat(32), userId: 1, jti: 'revoked' },
      { sid: 'c'.repeat(32), userId: 2, jti: 'live' }, // ended at NOW
      { sid: 'a'.repeat(32), userId: 1, jti: 'live' },
      { sid: 'd'.repeat(64), userId: 1, jti: 'live' }, // an opaque token's session
    ];
    const batched = await stores.sessions.usersForJwts(lookups, NOW);
    const single = await Promise.all(lookups.map((l) => stores.sessions.userForJwt(l.sid, l.userId, l.jti, NOW)));
    expect(batched).toEqual(single);
    expect(batched.map((answer) => answer?.user.email)).toEqual(['ben@example.com', undefined, undefined, undefined, 'ann@example.com', undefined]);
  });

  it('answers every token lookup in order, as the single lookup would', async () => {
    const hashes = ['d'.repeat(64), 'e'.repeat(64), 'a'.repeat(32), 'd'.repeat(64)];
    const batched = await stores.sessions.usersForTokens(hashes, NOW);
    expect(batched).toEqual(await Promise.all(hashes.map((hash) => stores.sessions.userForToken(hash, NOW))));
    expect(batched.map((answer) => answer?.sessionId)).toEqual(['d'.repeat(64), undefined, undefined, 'd'.repeat(64)]);
  });
});

describe('coalescer', () => {
  it('answers the lookups of one turn with one call, each caller its own answer', async () => {
    const calls: number[][] = [];
    const lookUp = createCoalescer(async (items: number[]) => {
      calls.push(items);
      return items.map((item) => item * 10);
    });
    expect(await Promise.all([1, 2, 3].map(lookUp))).toEqual([10, 20, 30]);
    expect(await lookUp(4)).toBe(40);
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it('splits a large turn into batches of at most maxBatch, and fails every caller of a failed batch', async () => {
    const sizes: number[] = [];
    const lookUp = createCoalescer(async (items: number[]) => {
      sizes.push(items.length);
      if (items.includes(13)) throw new Error('down');
      return items;
    }, 5);
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => lookUp(i + 5)));
    expect(sizes).toEqual([5, 5, 2]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([...Array(5).fill('fulfilled'), ...Array(5).fill('rejected'), 'fulfilled', 'fulfilled']);
  });
});
