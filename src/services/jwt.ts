import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { randomHex } from './crypto.ts';
import type { Clock } from './clock.ts';

export type JwtType = 'access' | 'refresh';

export interface JwtClaims {
  token_type: JwtType;
  user_id: number;
  jti: string;
  /** The session (login) the token belongs to: logout and rotation reuse end it as a whole. */
  sid: string;
  iat: number;
  exp: number;
  iss: string;
}

export class InvalidJwtError extends Error {}

export interface JwtCodecOptions {
  secret: string;
  issuer: string;
  accessTtl: number;
  refreshTtl: number;
  clock: Clock;
}

/** HS256 only, signed with the secret's own UTF-8 bytes, as SimpleJWT's SIGNING_KEY is. */
export function createJwtCodec(options: JwtCodecOptions) {
  const secretBytes = new TextEncoder().encode(options.secret);
  // Imported once: jose would otherwise import the raw key again on every call.
  const keyPromise = crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  const ttl = { access: options.accessTtl, refresh: options.refreshTtl };

  async function sign(type: JwtType, userId: number, sid: string): Promise<{ token: string; claims: JwtClaims }> {
    const iat = Math.floor(options.clock.now() / 1000);
    const claims: JwtClaims = {
      token_type: type,
      user_id: userId,
      jti: randomHex(16),
      sid,
      iat,
      exp: iat + ttl[type],
      iss: options.issuer,
    };
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(await keyPromise);
    return { token, claims };
  }

  /** Signature, algorithm, issuer, expiry and type: everything a token proves without the database. */
  async function verify(token: string, expected: JwtType | 'any'): Promise<JwtClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await keyPromise, {
        algorithms: ['HS256'],
        issuer: options.issuer,
        currentDate: new Date(options.clock.now()),
        requiredClaims: ['exp', 'iat', 'jti'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw new InvalidJwtError(String(error));
      throw error;
    }
    const { token_type, user_id, jti, sid } = payload;
    if (token_type !== 'access' && token_type !== 'refresh') throw new InvalidJwtError('no token type');
    if (expected !== 'any' && token_type !== expected) throw new InvalidJwtError('wrong token type');
    if (!Number.isSafeInteger(user_id) || typeof jti !== 'string' || typeof sid !== 'string') {
      throw new InvalidJwtError('malformed claims');
    }
    return payload as unknown as JwtClaims;
  }

  return { sign, verify };
}

export type JwtCodec = ReturnType<typeof createJwtCodec>;
