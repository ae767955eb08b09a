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

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Verified tokens remembered at most; one entry is the token and its claims, well under 1 KiB. */
const DEFAULT_CACHE_SIZE = 10_000;

export interface JwtCodecOptions {
  secret: string;
  issuer: string;
  accessTtl: number;
  refreshTtl: number;
  clock: Clock;
  /** Verified tokens to remember (see verify); 0 turns the cache off. */
  cacheSize?: number;
}

/**
 * HS256 only, signed with the secret's own UTF-8 bytes, as SimpleJWT's SIGNING_KEY is, through jose.
 *
 * jose works through WebCrypto, whose jobs run on the libuv thread pool. Password hashing stays off that
 * pool (bcrypt-pool.ts), and a token's signature is checked once: a client presents the same access
 * token for its whole life, so verify remembers what it proved (see verify).
 */
export function createJwtCodec(options: JwtCodecOptions) {
  const secretBytes = new TextEncoder().encode(options.secret);
  // Imported once: jose would otherwise import the raw key again on every call.
  const keyPromise = crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  const ttl = { access: options.accessTtl, refresh: options.refreshTtl };
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  /** Token → claims that jose verified. Insertion order is age: the oldest entry goes first when full. */
  const verified = new Map<string, JwtClaims>();
  const nowSeconds = () => Math.floor(options.clock.now() / 1000);

  async function sign(type: JwtType, userId: number, sid: string): Promise<{ token: string; claims: JwtClaims }> {
    const iat = nowSeconds();
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

  /** What a token proves for its whole life: signature, algorithm, issuer and well-formed claims. */
  async function verifySignedClaims(token: string): Promise<JwtClaims> {
    // Canonical base64url only: jose would also take padding, so one token could be spelled several ways.
    const segments = token.split('.');
    if (segments.length !== 3 || !segments.every((segment) => BASE64URL_SEGMENT.test(segment))) {
      throw new InvalidJwtError('not a compact JWS');
    }
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token, await keyPromise, {
        algorithms: ['HS256'],
        issuer: options.issuer,
        currentDate: new Date(options.clock.now()),
        requiredClaims: ['exp', 'iat', 'jti'],
      });
      if (result.protectedHeader.typ !== undefined && result.protectedHeader.typ !== 'JWT') {
        throw new InvalidJwtError('unexpected typ');
      }
      payload = result.payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw new InvalidJwtError(String(error));
      throw error;
    }
    const { token_type, user_id, jti, sid } = payload;
    if (token_type !== 'access' && token_type !== 'refresh') throw new InvalidJwtError('no token type');
    if (!Number.isSafeInteger(user_id) || typeof jti !== 'string' || typeof sid !== 'string') {
      throw new InvalidJwtError('malformed claims');
    }
    return payload as unknown as JwtClaims;
  }

  function remember(token: string, claims: JwtClaims): void {
    if (cacheSize === 0) return;
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, claims);
  }

  /**
   * Signature, algorithm, issuer, expiry and type: everything a token proves without the database.
   *
   * A token jose verified once is remembered, keyed by the whole token, so its signature is not checked
   * again; expiry and type are checked on every call, and an entry dies at its token's `exp`. Whether the
   * user is active and the token unrevoked is not the token's to prove: callers ask the database each time.
   */
  async function verify(token: string, expected: JwtType | 'any'): Promise<JwtClaims> {
    let claims = verified.get(token);
    if (!claims) {
      claims = await verifySignedClaims(token);
      remember(token, claims);
    }
    if (claims.exp <= nowSeconds()) {
      verified.delete(token);
      throw new InvalidJwtError('expired');
    }
    if (expected !== 'any' && claims.token_type !== expected) throw new InvalidJwtError('wrong token type');
    return claims;
  }

  return {
    sign,
    verify,
    /** How many verified tokens are remembered now. */
    get cachedTokens() {
      return verified.size;
    },
  };
}

export type JwtCodec = ReturnType<typeof createJwtCodec>;
