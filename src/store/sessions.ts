import type { Database } from '../db/database.ts';
import { USER_COLUMNS, toUser, type User, type UserRow } from './users.ts';

export type SessionKind = 'jwt' | 'token';

/** A session's user, alive, with the session's id and end (epoch ms). */
export interface SessionUser {
  user: User;
  sessionId: string;
  sessionExpiresAt: number;
}

type SessionUserRow = UserRow & { session_id: string; session_expires_at: number };
const SESSION_COLUMNS = 'sessions.id AS session_id, sessions.expires_at AS session_expires_at';

const toSessionUser = (row: SessionUserRow | undefined): SessionUser | undefined =>
  row && { user: toUser(row), sessionId: row.session_id, sessionExpiresAt: row.session_expires_at };

/** A session about to open: a JWT family (id = `sid`) or an opaque token (id = its hash). */
export interface NewSession {
  id: string;
  userId: number;
  kind: SessionKind;
  expiresAt: number;
}

/** Sessions (JWT families and opaque tokens) and single revoked JWTs. */
export function createSessionStore(db: Database) {
  // The user's state is re-read by the insert itself: a session opens only for a user who still exists,
  // is active and (when given) still has the password version the caller verified.
  const insert = db.prepare(`INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
    SELECT @id, id, @kind, @now, @expiresAt FROM users
    WHERE id = @userId AND is_active = 1 AND (@passwordVersion IS NULL OR password_version = @passwordVersion)`);
  const extend = db.prepare('UPDATE sessions SET expires_at = max(expires_at, ?) WHERE id = ?');
  const remove = db.prepare('DELETE FROM sessions WHERE id = ?');
  const removeForUser = db.prepare('DELETE FROM sessions WHERE user_id = ?');
  // One statement per authenticated request: the user, alive and active, with the session unrevoked.
  const userForJwt = db.prepare<SessionUserRow>(`SELECT ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM sessions
      JOIN users ON users.id = sessions.user_id
    WHERE sessions.id = ? AND sessions.user_id = ? AND sessions.kind = 'jwt' AND sessions.expires_at > ?
      AND NOT EXISTS (SELECT 1 FROM revoked_jwts WHERE jti = ?)`);
  const userForToken = db.prepare<SessionUserRow>(`SELECT ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM sessions
      JOIN users ON users.id = sessions.user_id
    WHERE sessions.id = ? AND sessions.kind = 'token' AND sessions.expires_at > ?`);
  const revokeJwt = db.prepare('INSERT OR IGNORE INTO revoked_jwts (jti, expires_at) VALUES (?, ?)');
  const jwtRevoked = db.prepare<{ one: number }>('SELECT 1 AS one FROM revoked_jwts WHERE jti = ?');
  const liveCount = db.prepare<{ n: number }>(
    'SELECT count(*) AS n FROM sessions WHERE user_id = ? AND expires_at > ?',
  );
  // Session ids are lower-case hex: 'g' sorts after every id with the prefix.
  const liveJwtByPrefix = db.prepare<{ id: string; expires_at: number }>(`SELECT id, expires_at FROM sessions
    WHERE id >= ? AND id < ? AND kind = 'jwt' AND expires_at > ? LIMIT 1`);
  const purgeSessions = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  const purgeRevoked = db.prepare('DELETE FROM revoked_jwts WHERE expires_at <= ?');

  return {
    /** False when the user is gone, inactive, or no longer at `passwordVersion`. */
    create: (session: NewSession, now: number, passwordVersion?: number) =>
      insert.run({ ...session, now, passwordVersion: passwordVersion ?? null }).changes === 1,
    extend: (id: string, expiresAt: number) => void extend.run(expiresAt, id),
    delete: (id: string) => remove.run(id).changes === 1,
    deleteForUser: (userId: number) => removeForUser.run(userId).changes,
    userForJwt: (sid: string, userId: number, jti: string, now: number) => toSessionUser(userForJwt.get(sid, userId, now, jti)),
    userForToken: (tokenHash: string, now: number) => toSessionUser(userForToken.get(tokenHash, now)),
    revokeJwt: (jti: string, expiresAt: number) => void revokeJwt.run(jti, expiresAt),
    isJwtRevoked: (jti: string) => jwtRevoked.get(jti) !== undefined,
    /** The live JWT session whose id starts with `prefix` (lower-case hex), if any. */
    liveJwtSession: (prefix: string, now: number) => {
      const row = liveJwtByPrefix.get(prefix, `${prefix}g`, now);
      return row && { id: row.id, expiresAt: row.expires_at };
    },
    liveCount: (userId: number, now: number) => liveCount.get(userId, now)!.n,
    purgeExpired: (now: number) => purgeSessions.run(now).changes + purgeRevoked.run(now).changes,
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
