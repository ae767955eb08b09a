import { SidekickError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import type { JwtLookup, SessionUser } from '../store/sessions.ts';
import type { User } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { createCoalescer } from './coalescer.ts';
import { sha256Hex } from './crypto.ts';
import { InvalidJwtError, type JwtClaims, type JwtCodec, type JwtType } from './jwt.ts';
import type { MaybePromise } from './maybe-async.ts';
import { createUnchangedCache } from './unchanged-cache.ts';

export type Credential =
  | { kind: 'jwt'; claims: JwtClaims }
  | { kind: 'token'; sessionId: string };

export interface Authenticated {
  user: User;
  credential: Credential;
}

export type JwtAuthenticated = Authenticated & { credential: { kind: 'jwt'; claims: JwtClaims } };

export const OPAQUE_TOKEN_PATTERN = /^[0-9a-f]{40}$/;

/** Live sessions whose user the per-request check remembers (see liveSession); one is well under 1 KiB. */
const LIVE_SESSIONS_REMEMBERED = 10_000;

export const tokenInvalid = (message = 'Token is invalid or expired') => new SidekickError('token_not_valid', message);

export interface LiveCredentialDeps {
  store: Store;
  /** The database's change stamp (see port.ts), or undefined where there is none. */
  changeStamp: (() => string) | undefined;
  jwt: JwtCodec;
  clock: Clock;
}

/**
 * Every credential checked on every request: the JWT's signature, expiry and type, and its session or
 * opaque token alive in the database with an active user, remembered only while the database is unchanged.
 */
export function createLiveCredentials(deps: LiveCredentialDeps) {
  const { jwt, clock } = deps;
  const { sessions } = deps.store;
  const liveSessions = createUnchangedCache<SessionUser>(deps.changeStamp, LIVE_SESSIONS_REMEMBERED);
  // Where nothing can be remembered (PostgreSQL), every request asks, and the requests of one moment ask
  // in one statement (see coalescer.ts); SQLite answers in microseconds, and remembers.
  const lookUp = deps.changeStamp
    ? { jwt: (l: JwtLookup) => sessions.userForJwt(l.sid, l.userId, l.jti, clock.now()), token: (hash: string) => sessions.userForToken(hash, clock.now()) }
    : {
        jwt: createCoalescer((lookups: JwtLookup[]) => sessions.usersForJwts(lookups, clock.now())),
        token: createCoalescer((hashes: string[]) => sessions.usersForTokens(hashes, clock.now())),
      };

  /**
   * The session, if unexpired and its user exists (active or not). Asked on every authenticated request:
   * the answer is remembered until the database changes (by any connection), so it is always what the
   * query would say now; the session's end is checked here, against the clock.
   */
  async function liveSession(key: string, read: () => Promise<SessionUser | undefined>): Promise<SessionUser | undefined> {
    const now = clock.now();
    const live = await liveSessions.get(key, read);
    return live && live.sessionExpiresAt > now ? live : undefined;
  }

  /** Signature, issuer, expiry and type; 401 `token_not_valid` otherwise. */
  async function verifiedClaims(token: string, type: 'access' | 'refresh' | 'any'): Promise<JwtClaims> {
    try {
      return await jwt.verify(token, type);
    } catch (error) {
      if (error instanceof InvalidJwtError) throw tokenInvalid();
      throw error;
    }
  }

  /**
   * Verified claims whose user is alive and active and whose session and jti are unrevoked. Remembered
   * under the token they came from: a verified token names one set of claims, and the token's hash was
   * computed already for the signature cache, where a key built from the claims is a new string to hash
   * on every request.
   */
  async function liveClaims(token: string, claims: JwtClaims): Promise<Authenticated> {
    const user = (await liveSession(token, () => lookUp.jwt({ sid: claims.sid, userId: claims.user_id, jti: claims.jti })))?.user;
    if (!user || !user.isActive) throw tokenInvalid();
    return { user, credential: { kind: 'jwt', claims } };
  }

  /** A verified JWT whose user is alive and active and whose session and jti are unrevoked. */
  async function liveJwt(token: string, type: 'access' | 'refresh' | 'any'): Promise<Authenticated> {
    return liveClaims(token, await verifiedClaims(token, type));
  }

  /** `Authorization` header → the user, or 401 in the contract's words. */
  async function checkCredential(header: string | undefined): Promise<Authenticated> {
    if (!header || !header.trim()) {
      throw new SidekickError('not_authenticated', 'Authentication credentials were not provided.');
    }
    const [scheme, value, ...rest] = header.trim().split(/\s+/);
    const kind = scheme.toLowerCase();
    if ((kind !== 'bearer' && kind !== 'token') || !value || rest.length > 0) {
      throw new SidekickError('authentication_failed', 'Invalid authorization header.');
    }
    if (kind === 'bearer') {
      try {
        return await liveJwt(value, 'access');
      } catch (error) {
        if (error instanceof SidekickError) throw tokenInvalid('Given token not valid for any token type');
        throw error;
      }
    }
    // Remembered under the token itself, so a known session costs no hash on the way in (the token is
    // held in this process's memory only, as it is while the request is read). An opaque token (40 hex
    // digits) never spells a JWT (three dotted parts), so the two kinds share the cache unprefixed.
    const session = OPAQUE_TOKEN_PATTERN.test(value)
      ? await liveSession(value, () => lookUp.token(sha256Hex(value)))
      : undefined;
    if (!session) throw new SidekickError('authentication_failed', 'Invalid token.');
    if (!session.user.isActive) throw new SidekickError('authentication_failed', 'User inactive or deleted.');
    return { user: session.user, credential: { kind: 'token', sessionId: session.sessionId } };
  }

  const isLive = (session: SessionUser) => session.sessionExpiresAt > clock.now() && session.user.isActive;

  /**
   * liveJwt's answer without a promise, where every step of it is remembered: the token verified before,
   * unexpired and of the `type` asked; its session and user remembered with the database unchanged since
   * (the change stamp is read here too), the session unexpired and the user active. Undefined where
   * anything is unknown or fails: liveJwt then answers, and says why.
   */
  function knownJwt(token: string, type: JwtType): JwtAuthenticated | undefined {
    const claims = jwt.knownClaims(token, type);
    const session = claims && liveSessions.known(token);
    return claims && session && isLive(session) ? { user: session.user, credential: { kind: 'jwt', claims } } : undefined;
  }

  /**
   * checkCredential's answer without a promise, where every step of it is remembered: a token verified
   * before (signature and issuer), unexpired and of the right kind, whose session and user are
   * remembered with the database unchanged since (the change stamp is read here too), checked for the
   * session's end and the user being active. Undefined where anything is unknown or fails: the full check
   * then answers, and says why. Only the plain spelling (`Bearer <token>`, one space) is looked up; any
   * other spelling the full check accepts is answered there.
   */
  function knownCredential(header: string | undefined): Authenticated | undefined {
    if (header === undefined) return undefined;
    const space = header.indexOf(' ');
    if (space < 0) return undefined;
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1);
    if (scheme === 'bearer') return knownJwt(value, 'access');
    if (scheme !== 'token' || !OPAQUE_TOKEN_PATTERN.test(value)) return undefined;
    const session = liveSessions.known(value);
    return session && isLive(session) ? { user: session.user, credential: { kind: 'token', sessionId: session.sessionId } } : undefined;
  }

  return {
    verifiedClaims,
    liveClaims,
    liveJwt,
    knownJwt,

    /**
     * `Authorization` header → the user, or 401 in the contract's words. A credential whose every check
     * can be answered from memory (see knownCredential) is answered at once; anything else, every
     * refusal included, comes as a promise.
     */
    authenticate(header: string | undefined): MaybePromise<Authenticated> {
      return knownCredential(header) ?? checkCredential(header);
    },
  };
}
