import { SidekickError } from '../errors.ts';
import type { Store, Stores } from '../store/index.ts';
import type { NewSession } from '../store/sessions.ts';
import type { User } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { randomHex, sha256Hex } from './crypto.ts';
import { InvalidJwtError, isSimpleJwtSession, sessionPrefixOf, type JwtClaims, type JwtCodec } from './jwt.ts';
import type { MaybePromise } from './maybe-async.ts';
import { createLiveCredentials, OPAQUE_TOKEN_PATTERN, tokenInvalid, type Credential } from './live-credentials.ts';

export type { Authenticated, Credential } from './live-credentials.ts';

/** Credentials signed and ready, and the session row that makes them live once stored. */
export interface Minted<T> {
  value: T;
  session: NewSession;
}

export interface RefreshAnswer {
  access: string;
  /** Only with rotation on. */
  refresh?: string;
}

export interface TokenPair {
  access: string;
  refresh: string;
}

export interface CredentialServiceDeps {
  store: Store;
  /** The database's change stamp (see port.ts), or undefined where there is none. */
  changeStamp: (() => string) | undefined;
  jwt: JwtCodec;
  clock: Clock;
  tokenTtl: number;
  rotateRefreshTokens: boolean;
}

/** Passwords in, credentials out, and their revocation; the per-request check is live-credentials.ts's. */
export function createCredentialService(deps: CredentialServiceDeps) {
  const { store, jwt, clock } = deps;
  const { sessions } = store;
  const live = createLiveCredentials(deps);
  const { verifiedClaims, liveClaims, liveJwt } = live;

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

  /** refresh's whole way: every check asked of the database, and the rotation written. */
  async function refreshFully(refreshToken: string): Promise<RefreshAnswer> {
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
  }

  return {
    mintJwtPair,
    mintOpaqueToken,
    openSessionInTransaction,
    issueJwtPair: (user: User) => issue(mintJwtPair(user)),
    issueOpaqueToken: (user: User) => issue(mintOpaqueToken(user)),

    authenticate: live.authenticate,

    /**
     * A new access token for a live refresh token. With rotation on, also a new refresh token; the old
     * one is revoked, and presenting it again ends its whole session (it was stolen or replayed).
     * Without rotation a refresh writes nothing, and one whose every check is remembered (see
     * live-credentials.ts's knownJwt) is answered at once; anything else, every refusal included, comes
     * as a promise.
     */
    refresh(refreshToken: string): MaybePromise<RefreshAnswer> {
      const known = deps.rotateRefreshTokens ? undefined : live.knownJwt(refreshToken, 'refresh');
      if (!known || isSimpleJwtSession(known.credential.claims.sid)) return refreshFully(refreshToken);
      return { access: jwt.sign('access', known.user.id, known.credential.claims.sid).token };
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
