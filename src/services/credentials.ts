import { SidekickError } from '../errors.ts';
import type { Store, Stores } from '../store/index.ts';
import type { JwtLookup, NewSession, SessionUser } from '../store/sessions.ts';
import type { User } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { randomHex, sha256Hex } from './crypto.ts';
import { InvalidJwtError, isSimpleJwtSession, sessionPrefixOf, type JwtClaims, type JwtCodec } from './jwt.ts';
import { createCoalescer } from './coalescer.ts';
import type { MaybePromise } from './maybe-async.ts';
import { createUnchangedCache } from './unchanged-cache.ts';

export type Credential =
  | { kind: 'jwt'; claims: JwtClaims }
  | { kind: 'token'; sessionId: string };

export interface Authenticated {
  user: User;
  credential: Credential;
}

/** Credentials signed and ready, and the session row that makes them live once stored. */
export interface Minted<T> {
  value: T;
  session: NewSession;
}

export interface TokenPair {
  access: string;
  refresh: string;
}

export const OPAQUE_TOKEN_PATTERN = /^[0-9a-f]{40}$/;

/** Live sessions whose user the per-request check remembers (see liveSession); one is well under 1 KiB. */
const LIVE_SESSIONS_REMEMBERED = 10_000;

const tokenInvalid = (message = 'Token is invalid or expired') => new SidekickError('token_not_valid', message);

export interface CredentialServiceDeps {
  store: Store;
  /** The database's change stamp (see port.ts), or undefined where there is none. */
  changeStamp: (() => string) | undefined;
  jwt: JwtCodec;
  clock: Clock;
  tokenTtl: number;
  rotateRefreshTokens: boolean;
}

/** Passwords in, credentials out; and every credential checked on every request. */
export function createCredentialService(deps: CredentialServiceDeps) {
  const { store, jwt, clock } = deps;
  const { sessions } = store;
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

  /** A JWT pair for `user`, signed, with the session it opens (not yet stored). */
  function mintJwtPair(user: User): Minted<TokenPair> {
    const sid = randomHex(16);
    const access = jwt.sign('access', user.id, sid);
    const refresh = jwt.sign('refresh', user.id, sid);
    return {
      value: { access: access.token, refresh: refresh.token },
      session: { id: sid, userId: user.id, kind: 'jwt', expiresAt: refresh.claims.exp * 1000 },
    };
  }

  /** An opaque token for `user`: 160 random bits, of which only the hash is stored. */
  function mintOpaqueToken(user: User): Minted<string> {
    const token = randomHex(20);
    return { value: token, session: { id: sha256Hex(token), userId: user.id, kind: 'token', expiresAt: clock.now() + deps.tokenTtl * 1000 } };
  }

  /**
   * Stores a minted session and the login time; false, storing nothing, when the user is gone or
   * inactive, or (with `passwordVersion`) their password changed since it was checked. Call inside the
   * caller's transaction.
   */
  async function openSessionInTransaction(tx: Stores, session: NewSession, passwordVersion?: number): Promise<boolean> {
    const now = clock.now();
    if (!(await tx.sessions.create(session, now, passwordVersion))) return false;
    await tx.users.recordLogin(session.userId, now);
    return true;
  }

  /** Mints and stores in one go (sign-up, operators): 404 when the user is gone or inactive by then. */
  async function issue<T>(minted: Minted<T>): Promise<T> {
    if (!(await store.transaction((tx) => openSessionInTransaction(tx, minted.session)))) {
      throw new SidekickError('not_found', 'The user no longer exists or is inactive.');
    }
    return minted.value;
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

  /**
   * A refresh with a token SimpleJWT issued before the move opens a session of Sidekick's own and answers
   * its pair. The old token is not spent (SimpleJWT's refresh tokens are reusable until they expire, and
   * a client may keep its old one) unless rotation is on, where it rotates once, like any refresh token.
   */
  async function moveToSidekickPair(user: User, claims: JwtClaims): Promise<TokenPair> {
    const minted = mintJwtPair(user);
    const opened = await store.transaction(async (tx) => {
      if (deps.rotateRefreshTokens && !(await tx.sessions.revokeJwt(claims.jti, claims.exp * 1000))) return false;
      return openSessionInTransaction(tx, minted.session);
    });
    if (!opened) throw tokenInvalid();
    return minted.value;
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
   * checkCredential's answer without a promise, where every step of it is remembered: a token verified
   * before (signature and issuer), unexpired and of the right kind, whose session and user are
   * remembered with the database unchanged since (the change stamp is read here too), checked for the
   * session's end and the user being active. Undefined where anything is unknown or fails: the full check
   * then answers, and says why. Only the plain spelling (`Bearer <token>`, one space) is looked up; any
   * other spelling the full check accepts is answered there.
   */
  function knownCredential(header: string | undefined): Authenticated | undefined {
    const space = header?.indexOf(' ') ?? -1;
    if (header === undefined || space < 0) return undefined;
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1);
    if (scheme === 'bearer') {
      const claims = jwt.knownClaims(value, 'access');
      const session = claims && liveSessions.known(value);
      return claims && session && isLive(session) ? { user: session.user, credential: { kind: 'jwt', claims } } : undefined;
    }
    if (scheme !== 'token' || !OPAQUE_TOKEN_PATTERN.test(value)) return undefined;
    const session = liveSessions.known(value);
    return session && isLive(session) ? { user: session.user, credential: { kind: 'token', sessionId: session.sessionId } } : undefined;
  }

  return {
    mintJwtPair,
    mintOpaqueToken,
    openSessionInTransaction,
    issueJwtPair: (user: User) => issue(mintJwtPair(user)),
    issueOpaqueToken: (user: User) => issue(mintOpaqueToken(user)),

    /**
     * `Authorization` header → the user, or 401 in the contract's words. A credential whose every check
     * can be answered from memory (see knownCredential) is answered at once; anything else, every
     * refusal included, comes as a promise.
     */
    authenticate(header: string | undefined): MaybePromise<Authenticated> {
      return knownCredential(header) ?? checkCredential(header);
    },

    /**
     * A new access token for a live refresh token. With rotation on, also a new refresh token; the old
     * one is revoked, and presenting it again ends its whole session (it was stolen or replayed).
     */
    async refresh(refreshToken: string): Promise<{ access: string; refresh?: string }> {
      const claims = await verifiedClaims(refreshToken, 'refresh');
      if (deps.rotateRefreshTokens && (await sessions.isJwtRevoked(claims.jti))) {
        await sessions.delete(claims.sid);
        throw tokenInvalid();
      }
      const { user } = await liveClaims(refreshToken, claims);
      if (isSimpleJwtSession(claims.sid)) return moveToSidekickPair(user, claims);
      const access = jwt.sign('access', user.id, claims.sid);
      if (!deps.rotateRefreshTokens) return { access: access.token };

      const next = jwt.sign('refresh', user.id, claims.sid);
      const rotated = await store.transaction(async (tx) => {
        // The revocation is the compare-and-set: of parallel refreshes with one token, one rotates.
        if (!(await tx.sessions.revokeJwt(claims.jti, claims.exp * 1000))) return false;
        await tx.sessions.extend(claims.sid, next.claims.exp * 1000);
        return true;
      });
      if (!rotated) throw tokenInvalid();
      return { access: access.token, refresh: next.token };
    },

    /** SimpleJWT's verify: any live token of either type. */
    async verify(token: string): Promise<void> {
      await liveJwt(token, 'any');
    },

    /** Revokes one refresh token (SimpleJWT's blacklist). */
    async blacklist(refreshToken: string): Promise<void> {
      const { credential } = await liveJwt(refreshToken, 'refresh');
      const { claims } = credential as { claims: JwtClaims };
      await sessions.revokeJwt(claims.jti, claims.exp * 1000);
    },

    /** Ends the session the credential belongs to: the opaque token, or the whole JWT login. */
    async logout(credential: Credential): Promise<void> {
      await sessions.delete(credential.kind === 'jwt' ? credential.claims.sid : credential.sessionId);
    },

    /** Every credential of the user dies at its next use. Call inside the caller's transaction. */
    revokeAllInTransaction(tx: Stores, userId: number): Promise<number> {
      return tx.sessions.deleteForUser(userId);
    },

    /**
     * An operator's revocation of a credential given as text: an opaque token, or a JWT (access or
     * refresh), which ends the whole login it belongs to. False when it names no live session: a forged,
     * expired or unknown token changes nothing.
     */
    async revokeToken(token: string): Promise<boolean> {
      if (OPAQUE_TOKEN_PATTERN.test(token)) return sessions.delete(sha256Hex(token));
      let claims: JwtClaims;
      try {
        claims = await jwt.verify(token, 'any');
      } catch (error) {
        if (error instanceof InvalidJwtError) return false;
        throw error;
      }
      return sessions.delete(claims.sid);
    },

    /**
     * Revokes the one JWT with this id, until its session's end. A jti begins with its session's id
     * (see jwt.ts), so an unknown or dead one is reported (false) rather than remembered.
     */
    async revokeJti(jti: string): Promise<boolean> {
      if (!/^[0-9a-f]{32}$/.test(jti)) return false;
      const session = await sessions.liveJwtSession(sessionPrefixOf(jti), clock.now());
      if (!session) return false;
      // Revoked already, or revoked now: either way the token is dead, which is what was asked.
      await sessions.revokeJwt(jti, session.expiresAt);
      return true;
    },
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;
