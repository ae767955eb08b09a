import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
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

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A base64url JSON object segment; anything else (padding, stray characters, arrays) is refused. */
function decodeSegment(segment: string): Record<string, unknown> {
  if (!BASE64URL.test(segment)) throw new InvalidJwtError('bad base64url');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidJwtError('bad JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidJwtError('not an object');
  return value as Record<string, unknown>;
}

export interface JwtCodecOptions {
  secret: string;
  issuer: string;
  accessTtl: number;
  refreshTtl: number;
  clock: Clock;
}

/** `{"alg":"HS256","typ":"JWT"}`, the header jose writes for these tokens, encoded once. */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * HS256 only, signed with the secret's own UTF-8 bytes, as SimpleJWT's SIGNING_KEY is.
 *
 * Both directions use node:crypto's HMAC synchronously rather than jose: jose goes through WebCrypto,
 * whose jobs run on the libuv thread pool (shared with bcrypt in older designs, file writes and anything
 * else async): a thread hop and a queue per token. The tokens are the same compact JWS jose makes; the
 * tests check that jose verifies them and that this verifier refuses what jose refuses.
 */
export function createJwtCodec(options: JwtCodecOptions) {
  const secretBytes = new TextEncoder().encode(options.secret);
  const hmacKey = createSecretKey(secretBytes);
  const ttl = { access: options.accessTtl, refresh: options.refreshTtl };
  const mac = (signingInput: string) => createHmac('sha256', hmacKey).update(signingInput).digest('base64url');

  function signNow(type: JwtType, userId: number, sid: string): { token: string; claims: JwtClaims } {
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
    const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return { token: `${signingInput}.${mac(signingInput)}`, claims };
  }

  /** Kept async so callers need not care how the token is made. */
  async function sign(type: JwtType, userId: number, sid: string): Promise<{ token: string; claims: JwtClaims }> {
    return signNow(type, userId, sid);
  }

  /**
   * Signature, algorithm, issuer, expiry and type: everything a token proves without the database.
   *
   * Synchronous, with node:crypto's HMAC, on purpose: jose verifies through WebCrypto, whose jobs run on
   * the libuv thread pool, so every authenticated read would queue behind bcrypt during a login burst. The
   * checks are jose's (`jwtVerify` with the options `sign` implies), only stricter where they differ:
   * canonical base64url, `alg` exactly HS256, no `crit`, `typ` JWT if present.
   */
  function verify(token: string, expected: JwtType | 'any'): JwtClaims {
    const firstDot = token.indexOf('.');
    const secondDot = token.indexOf('.', firstDot + 1);
    if (firstDot <= 0 || secondDot <= firstDot + 1 || token.indexOf('.', secondDot + 1) !== -1) {
      throw new InvalidJwtError('not a compact JWS');
    }
    const signingInput = token.slice(0, secondDot);
    const signature = token.slice(secondDot + 1);
    const expectedSignature = mac(signingInput);
    if (
      signature.length !== expectedSignature.length ||
      !timingSafeEqual(Buffer.from(signature, 'latin1'), Buffer.from(expectedSignature, 'latin1'))
    ) {
      throw new InvalidJwtError('signature verification failed');
    }
    // The signature is ours, so these parse a document we made; still checked as if hostile.
    const header = decodeSegment(token.slice(0, firstDot));
    if (header.alg !== 'HS256' || header.crit !== undefined || (header.typ !== undefined && header.typ !== 'JWT')) {
      throw new InvalidJwtError('unexpected header');
    }
    const payload = decodeSegment(token.slice(firstDot + 1, secondDot));
    const now = Math.floor(options.clock.now() / 1000);
    const { exp, iat, nbf, iss, token_type, user_id, jti, sid } = payload;
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new InvalidJwtError('exp and iat must be numbers');
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) throw new InvalidJwtError('not yet valid');
    if (exp <= now) throw new InvalidJwtError('expired');
    if (iss !== options.issuer) throw new InvalidJwtError('unexpected issuer');
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
