import { createHmac } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createHmacSha256 } from '../../src/services/crypto.ts';
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

  it('writes the payload JSON.stringify would, for an issuer that needs escaping too', async () => {
    const clock = new ManualClock();
    for (const issuer of [ISSUER, 'https://idp.example/"quoted"\\path', 'https://ünïcode.example/😀', 'tab\there\u2028']) {
      const jwt = createJwtCodec({ secret: SECRET, issuer, accessTtl: 300, refreshTtl: 86400, clock });
      // A session id of another signer holding the secret may be any text.
      for (const [type, sid] of [['access', 'a'.repeat(32)], ['refresh', 'simplejwt-12'], ['access', 'odd "sid"\\ü']] as const) {
        const { token, claims } = jwt.sign(type, 123456789, sid);
        const [header, payload, signature] = token.split('.');
        expect(Buffer.from(payload, 'base64url').toString('utf8')).toBe(JSON.stringify(claims));
        expect(signature).toBe(createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url'));
        expect((await jwtVerify(token, key, { issuer, currentDate: new Date(clock.now()) })).payload).toEqual(claims);
      }
    }
  });

  it("signs as node:crypto's HMAC-SHA256 does, for keys and messages of every length around SHA-256's block", () => {
    const lengths = [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 200, 447, 448, 449, 1000, 5000];
    for (const keyLength of [1, 32, 63, 64, 65, 100, 200]) {
      const secret = Buffer.from(Array.from({ length: keyLength }, (_, i) => (i * 37 + keyLength) % 256));
      const sign = createHmacSha256(secret);
      for (const length of lengths) {
        const message = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7 + length) % 95))).join('');
        expect(sign(message), `key ${keyLength}, message ${length}`).toBe(createHmac('sha256', secret).update(message).digest('base64url'));
      }
    }
    // A long message, then a short one: what the longer one left in the reused buffer is not signed.
    const sign = createHmacSha256(key);
    sign('x'.repeat(3000));
    expect(sign('short')).toBe(createHmac('sha256', key).update('short').digest('base64url'));
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
