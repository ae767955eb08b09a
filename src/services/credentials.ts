import type { Database } from '../db/database.ts';
import { SidekickError } from '../errors.ts';
import type { SessionStore, SessionUser } from '../store/sessions.ts';
import type { User, UserStore } from '../store/users.ts';
import type { Clock } from './clock.ts';
import { randomHex, sha256Hex } from './crypto.ts';
import { InvalidJwtError, type JwtClaims, type JwtCodec } from './jwt.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { LIMITS, type ThrottleService } from './throttle.ts';
import { createUnchangedCache } from './unchanged-cache.ts';

export type Credential =
  | { kind: 'jwt'; claims: JwtClaims }
  | { kind: 'token'; sessionId: string };

export interface Authenticated {
  user: User;
  credential: Credential;
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
  db: Database;
  users: UserStore;
  sessions: SessionStore;
  hasher: PasswordHasher;
  jwt: JwtCodec;
  throttle: ThrottleService;
  clock: Clock;
  refreshTtl: number;
  tokenTtl: number;
  rotateRefreshTokens: boolean;
}

/** Passwords in, credentials out; and every credential checked on every request. */
export function createCredentialService(deps: CredentialServiceDeps) {
  const { db, users, sessions, hasher, jwt, throttle, clock } = deps;
  const liveSessions = createUnchangedCache<SessionUser>(db, LIVE_SESSIONS_REMEMBERED);

  /**
   * The session, if unexpired and its user exists (active or not). Asked on every authenticated request:
   * the answer is remembered until the database changes (by any connection), so it is always what the
   * query would say now; the session's end is checked here, against the clock.
   */
  function liveSession(key: string, read: (now: number) => SessionUser | undefined): SessionUser | undefined {
    const now = clock.now();
    const live = liveSessions.get(key, () => read(now));
    return live && live.sessionExpiresAt > now ? live : undefined;
  }

  /**
   * The user whose email and password these are, active, or undefined. Unknown emails cost a full
   * bcrypt check too, and both kinds of failure count against the same throttles.
   */
  async function checkPassword(email: string, password: string, client: string): Promise<User | undefined> {
    const accountBucket = `login:account:${email}`;
    const clientBucket = `login:client:${client}`;
    throttle.check(accountBucket, LIMITS.failedLoginsPerAccount);
    throttle.check(clientBucket, LIMITS.failedLoginsPerClient);
    const release = throttle.hold(accountBucket, clientBucket);

    const user = users.findByEmail(email);
    let matches: boolean;
    try {
      matches = user ? await hasher.verify(password, user.passwordHash) : await hasher.verifyNothing(password);
    } finally {
      release();
    }
    if (!user || !matches || !user.isActive) {
      db.immediate(() => {
        throttle.record(accountBucket);
        throttle.record(clientBucket);
      });
      return undefined;
    }
    if (hasher.needsRehash(user.passwordHash)) {
      // The configured cost changed since this hash was made: upgrade it while the password is at hand.
      const upgraded = await hasher.hash(password);
      users.rehashPassword(user.id, user.passwordHash, upgraded);
    }
    return user;
  }

  function issueJwtPair(user: User, sid = randomHex(16)): TokenPair {
    const access = jwt.sign('access', user.id, sid);
    const refresh = jwt.sign('refresh', user.id, sid);
    const now = clock.now();
    db.immediate(() => {
      sessions.create(sid, user.id, 'jwt', now, refresh.claims.exp * 1000);
      users.recordLogin(user.id, now);
    });
    return { access: access.token, refresh: refresh.token };
  }

  function issueOpaqueToken(user: User): string {
    // 160 random bits; only the hash is stored, so a database copy holds no usable token.
    const token = randomHex(20);
    const now = clock.now();
    db.immediate(() => {
      sessions.create(sha256Hex(token), user.id, 'token', now, now + deps.tokenTtl * 1000);
      users.recordLogin(user.id, now);
    });
    return token;
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

  /** Verified claims whose user is alive and active and whose session and jti are unrevoked. */
  function liveClaims(claims: JwtClaims): Authenticated {
    const user = liveSession(`jwt ${claims.sid} ${claims.user_id} ${claims.jti}`, (now) =>
      sessions.userForJwt(claims.sid, claims.user_id, claims.jti, now),
    )?.user;
    if (!user || !user.isActive) throw tokenInvalid();
    return { user, credential: { kind: 'jwt', claims } };
  }

  /** A verified JWT whose user is alive and active and whose session and jti are unrevoked. */
  async function liveJwt(token: string, type: 'access' | 'refresh' | 'any'): Promise<Authenticated> {
    return liveClaims(await verifiedClaims(token, type));
  }

  /** Revokes one JWT by its id; without its expiry, for as long as any token could live. */
  function revokeJti(jti: string, expiresAt?: number): boolean {
    const until = expiresAt ?? clock.now() + Math.max(deps.refreshTtl, deps.tokenTtl) * 1000;
    db.immediate(() => sessions.revokeJwt(jti, until));
    return true;
  }

  return {
    checkPassword,
    issueJwtPair,
    issueOpaqueToken,

    /** `Authorization` header → the user, or 401 in the contract's words. */
    async authenticate(header: string | undefined): Promise<Authenticated> {
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
      // held in this process's memory only, as it is while the request is read).
      const session = OPAQUE_TOKEN_PATTERN.test(value)
        ? liveSession(`token ${value}`, (now) => sessions.userForToken(sha256Hex(value), now))
        : undefined;
      if (!session) throw new SidekickError('authentication_failed', 'Invalid token.');
      if (!session.user.isActive) throw new SidekickError('authentication_failed', 'User inactive or deleted.');
      return { user: session.user, credential: { kind: 'token', sessionId: session.sessionId } };
    },

    /**
     * A new access token for a live refresh token. With rotation on, also a new refresh token; the old
     * one is revoked, and presenting it again ends its whole session (it was stolen or replayed).
     */
    async refresh(refreshToken: string): Promise<{ access: string; refresh?: string }> {
      const claims = await verifiedClaims(refreshToken, 'refresh');
      if (deps.rotateRefreshTokens && sessions.isJwtRevoked(claims.jti)) {
        db.immediate(() => sessions.delete(claims.sid));
        throw tokenInvalid();
      }
      const { user } = liveClaims(claims);
      const access = jwt.sign('access', user.id, claims.sid);
      if (!deps.rotateRefreshTokens) return { access: access.token };

      const next = jwt.sign('refresh', user.id, claims.sid);
      const rotated = db.immediate(() => {
        // Re-checked inside the transaction: of two parallel refreshes with one token, one rotates.
        if (sessions.isJwtRevoked(claims.jti)) return false;
        sessions.revokeJwt(claims.jti, claims.exp * 1000);
        sessions.extend(claims.sid, next.claims.exp * 1000);
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
      db.immediate(() => sessions.revokeJwt(claims.jti, claims.exp * 1000));
    },

    /** Ends the session the credential belongs to: the opaque token, or the whole JWT login. */
    logout(credential: Credential): void {
      const id = credential.kind === 'jwt' ? credential.claims.sid : credential.sessionId;
      db.immediate(() => sessions.delete(id));
    },

    /** Every credential of the user dies at its next use. Call inside the caller's transaction. */
    revokeAllInTransaction(userId: number): number {
      return sessions.deleteForUser(userId);
    },

    /** Revokes a credential given as text: a JWT (by its jti and session) or an opaque token. */
    revokeToken(token: string): boolean {
      if (OPAQUE_TOKEN_PATTERN.test(token)) return db.immediate(() => sessions.delete(sha256Hex(token)));
      const parts = token.split('.');
      if (parts.length !== 3) return false;
      let claims: Partial<JwtClaims>;
      try {
        claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      } catch {
        return false;
      }
      if (typeof claims.jti !== 'string') return false;
      return revokeJti(claims.jti, typeof claims.exp === 'number' ? claims.exp * 1000 : undefined);
    },

    revokeJti,
  };
}

export type CredentialService = ReturnType<typeof createCredentialService>;
