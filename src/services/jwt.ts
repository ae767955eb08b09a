import { jwtVerify, errors as joseErrors } from 'jose';
import type { Clock } from './clock.ts';
import { createHmacSha256, createRandomHexPool } from './crypto.ts';

export type JwtType = 'access' | 'refresh';

export interface JwtClaims {
  token_type: JwtType;
  user_id: number;
  jti: string;
  /** The session (login) the token belongs to: logout and rotation reuse end it as a whole. */
  sid: string;
  iat: number;
  exp: number;
  /** Absent on SimpleJWT's tokens from before a move (see simpleJwtSessionId). */
  iss?: string;
}

export class InvalidJwtError extends Error {}

/** How much of a jti names its session (hex characters). */
const JTI_SESSION_PART = 16;

/**
 * 32 hex characters, the length of SimpleJWT's (uuid4().hex): the session id's first 64 bits, then 64
 * random bits. An operator holding only a jti can then find whether its session is alive; the session
 * id is no secret (tokens carry it as `sid`), nor is the jti.
 */
const jtiFor = (sid: string, randomHex: (bytes: number) => string) =>
  sid.slice(0, JTI_SESSION_PART) + randomHex((32 - JTI_SESSION_PART) / 2);

/** The part of a jti that the id of the session it was issued in starts with. */
export const sessionPrefixOf = (jti: string) => jti.slice(0, JTI_SESSION_PART);

/**
 * Tokens SimpleJWT issued before a move from a Django original (no `iss`, no `sid`) belong to this one
 * session of their user, which users:import-django opens: a password change, a deactivation or a logout
 * ends it as it ends any session, and its expiry bounds how long such tokens are taken.
 */
export const simpleJwtSessionId = (userId: number) => `simplejwt-${userId}`;
export const isSimpleJwtSession = (sid: string) => sid.startsWith('simplejwt-');

/** SimpleJWT 5.5.0 writes `user_id` as a number, 5.5.1 and later as a string. */
const SIMPLEJWT_USER_ID = /^[1-9][0-9]{0,14}$/;

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * `text` as a JSON string. The ids this server makes (hex) need no escaping and are quoted at once,
 * where JSON.stringify costs a call into V8's runtime; any other text goes through it.
 */
const quotedJson = (text: string) => (BASE64URL_SEGMENT.test(text) ? `"${text}"` : JSON.stringify(text));

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

/** Every token this server mints has this header; base64url of `{"alg":"HS256","typ":"JWT"}`. */
const SIGNED_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * HS256 only, keyed with the secret's own UTF-8 bytes, as SimpleJWT's SIGNING_KEY is.
 *
 * Tokens presented to us are untrusted input and are verified by jose. jose works through WebCrypto,
 * whose every job is a round trip through the libuv thread pool: waking a pool thread cost the event
 * loop about 50 µs per call here, more than the rest of a token refresh. So a token's signature is
 * checked once (a client presents the same access token for its whole life; see verify), and the
 * tokens we mint ourselves, whose header and claims we build, are signed in place with node:crypto.
 */
export function createJwtCodec(options: JwtCodecOptions) {
  const secretBytes = new TextEncoder().encode(options.secret);
  // Imported once: jose would otherwise import the raw key again on every call.
  const keyPromise = crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const ttl = { access: options.accessTtl, refresh: options.refreshTtl };
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  /** Token → claims that jose verified. Insertion order is age: the oldest entry goes first when full. */
  const verified = new Map<string, JwtClaims>();
  const nowSeconds = () => Math.floor(options.clock.now() / 1000);
  const jtiRandom = createRandomHexPool();
  const signature = createHmacSha256(secretBytes);
  const issuerJson = JSON.stringify(options.issuer);

  function sign(type: JwtType, userId: number, sid: string): { token: string; claims: JwtClaims } {
    const iat = nowSeconds();
    const claims: JwtClaims = {
      token_type: type,
      user_id: userId,
      jti: jtiFor(sid, jtiRandom),
      sid,
      iat,
      exp: iat + ttl[type],
      iss: options.issuer,
    };
    // What JSON.stringify(claims) writes, without its generic walk over keys and values (several times
    // the cost here): the type is one of two words, the numbers integers, the texts quoted as JSON.
    const payload = `{"token_type":"${type}","user_id":${userId},"jti":${quotedJson(claims.jti)},"sid":${quotedJson(sid)},"iat":${iat},"exp":${claims.exp},"iss":${issuerJson}}`;
    const signingInput = `${SIGNED_HEADER}.${Buffer.from(payload).toString('base64url')}`;
    return { token: `${signingInput}.${signature(signingInput)}`, claims };
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
    const { token_type, jti, iss } = payload;
    let { user_id, sid } = payload;
    if (token_type !== 'access' && token_type !== 'refresh') throw new InvalidJwtError('no token type');
    if (iss === undefined && sid === undefined) {
      // SimpleJWT's, signed with the original's SECRET_KEY; alive only while its session is.
      if (typeof user_id === 'string' && SIMPLEJWT_USER_ID.test(user_id)) user_id = Number(user_id);
      if (Number.isSafeInteger(user_id)) sid = simpleJwtSessionId(user_id as number);
    } else if (iss !== options.issuer) {
      throw new InvalidJwtError('unexpected issuer');
    }
    if (!Number.isSafeInteger(user_id) || typeof jti !== 'string' || typeof sid !== 'string') {
      throw new InvalidJwtError('malformed claims');
    }
    return { ...payload, user_id, sid } as unknown as JwtClaims;
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

  /**
   * The claims of a token verified before, if it is still unexpired and of the expected type: verify's
   * answer without a promise. Undefined otherwise; verify then says why.
   */
  function knownClaims(token: string, expected: JwtType | 'any'): JwtClaims | undefined {
    const claims = verified.get(token);
    return claims && claims.exp > nowSeconds() && (expected === 'any' || claims.token_type === expected) ? claims : undefined;
  }

  return {
    sign,
    verify,
    knownClaims,
    /** How many verified tokens are remembered now. */
    get cachedTokens() {
      return verified.size;
    },
  };
}

export type JwtCodec = ReturnType<typeof createJwtCodec>;
