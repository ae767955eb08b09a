import { createHmac } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtCodec, InvalidJwtError } from '../../src/services/jwt.ts';
import { ManualClock } from '../helpers/clock.ts';

const SECRET = 'jwt-codec-test-secret-0123456789abcdef';
const ISSUER = 'http://localhost:8000';
const key = new TextEncoder().encode(SECRET);

function codec(clock = new ManualClock(), cacheSize?: number) {
  return { clock, jwt: createJwtCodec({ secret: SECRET, issuer: ISSUER, accessTtl: 300, refreshTtl: 86400, clock, cacheSize }) };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A token with any header and payload, correctly signed with the server secret. */
function forge(header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

async function claimsFor(clock: ManualClock) {
  const now = Math.floor(clock.now() / 1000);
  return { token_type: 'access', user_id: 7, jti: 'j1', sid: 's1', iat: now, exp: now + 300, iss: ISSUER };
}

describe('JWT codec (HS256: minted with node:crypto, checked by jose)', () => {
  it('mints tokens that jose verifies with the secret, with the contract header and claims', async () => {
    const { clock, jwt } = codec();
    const { token, claims } = jwt.sign('access', 7, 'sid-1');
    const { payload, protectedHeader } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      currentDate: new Date(clock.now()),
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toEqual(claims);
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it('accepts a token jose signed with the same secret and claims', async () => {
    const { clock, jwt } = codec();
    const claims = await claimsFor(clock);
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
    expect(await jwt.verify(token, 'access')).toEqual(claims);
    const untyped = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect(await jwt.verify(untyped, 'any')).toEqual(claims);
  });

  it('refuses a flipped signature bit, a padded or re-encoded signature, and a missing one', async () => {
    const { jwt } = codec();
    const { token } = jwt.sign('access', 7, 'sid-1');
    const [h, p, s] = token.split('.');
    const flipped = Buffer.from(s, 'base64url');
    flipped[0] ^= 1;
    for (const bad of [`${h}.${p}.${flipped.toString('base64url')}`, `${token}=`, `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`, `${h}.${p}.`, `${h}.${p}`]) {
      await expect(jwt.verify(bad, 'access'), bad).rejects.toThrow(InvalidJwtError);
    }
  });

  it('refuses correctly signed tokens whose header is not plain HS256', async () => {
    const { clock, jwt } = codec();
    const claims = await claimsFor(clock);
    for (const header of [
      { alg: 'none', typ: 'JWT' },
      { alg: 'HS512', typ: 'JWT' },
      { alg: 'hs256', typ: 'JWT' },
      { alg: 'HS256', typ: 'at+jwt' },
      { alg: 'HS256', crit: ['b64'], b64: false },
      ['HS256'],
    ]) {
      await expect(jwt.verify(forge(header, claims), 'access'), JSON.stringify(header)).rejects.toThrow(InvalidJwtError);
    }
  });

  it('refuses correctly signed tokens with bad claims: expiry, issuer, type, user id, numbers as text', async () => {
    const { clock, jwt } = codec();
    const good = await claimsFor(clock);
    const header = { alg: 'HS256', typ: 'JWT' };
    expect(await jwt.verify(forge(header, good), 'access')).toEqual(good);
    for (const payload of [
      { ...good, exp: good.iat },
      { ...good, exp: String(good.exp) },
      { ...good, exp: undefined },
      { ...good, iat: undefined },
      { ...good, nbf: good.iat + 60 },
      { ...good, iss: 'http://evil.example' },
      { ...good, iss: undefined },
      { ...good, token_type: 'refresh' },
      { ...good, token_type: undefined },
      { ...good, user_id: '7' },
      { ...good, jti: 1 },
      { ...good, sid: undefined },
      [good],
      'a string',
    ]) {
      await expect(jwt.verify(forge(header, payload), 'access'), JSON.stringify(payload)).rejects.toThrow(InvalidJwtError);
    }
  });

  it('refuses a token from the second its exp is reached, as jose does', async () => {
    const { clock, jwt } = codec();
    const { token } = jwt.sign('refresh', 7, 'sid-1');
    clock.advanceSeconds(86399);
    expect((await jwt.verify(token, 'refresh')).user_id).toBe(7);
    clock.advanceSeconds(1);
    await expect(jwt.verify(token, 'refresh')).rejects.toThrow(InvalidJwtError);
  });

  it('refuses a token signed with another secret', async () => {
    const { jwt } = codec();
    const other = createJwtCodec({ secret: `${SECRET}-other`, issuer: ISSUER, accessTtl: 300, refreshTtl: 86400, clock: new ManualClock() });
    const { token } = other.sign('access', 7, 'sid-1');
    await expect(jwt.verify(token, 'access')).rejects.toThrow(InvalidJwtError);
  });

  it('checks the type and expiry of a remembered token on every call, and forgets it at exp', async () => {
    const { clock, jwt } = codec();
    const { token } = jwt.sign('access', 7, 'sid-1');
    expect((await jwt.verify(token, 'access')).user_id).toBe(7);
    expect(jwt.cachedTokens).toBe(1);
    await expect(jwt.verify(token, 'refresh')).rejects.toThrow(InvalidJwtError);
    expect((await jwt.verify(token, 'any')).user_id).toBe(7);
    clock.advanceSeconds(300);
    await expect(jwt.verify(token, 'access')).rejects.toThrow(InvalidJwtError);
    expect(jwt.cachedTokens).toBe(0);
  });

  it('remembers only tokens it verified, and at most cacheSize of them', async () => {
    const { jwt } = codec(new ManualClock(), 2);
    const tokens = [1, 2, 3].map((id) => jwt.sign('access', id, `sid-${id}`).token);
    const [h, p, s] = tokens[0].split('.');
    await expect(jwt.verify(`${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`, 'access')).rejects.toThrow(InvalidJwtError);
    expect(jwt.cachedTokens).toBe(0);
    for (const [index, token] of tokens.entries()) expect((await jwt.verify(token, 'access')).user_id).toBe(index + 1);
    expect(jwt.cachedTokens).toBe(2);
    // The evicted one is verified again from scratch.
    expect((await jwt.verify(tokens[0], 'access')).user_id).toBe(1);
  });
});
