import { sql, type Executor } from '../db/port.ts';
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

// The user's state is re-read by the insert itself: a session opens only for a user who still exists,
// is active and (when given) still has the password version the caller verified. PostgreSQL: FOR SHARE
// makes a racing password change, deactivation or deletion wait for this insert or this insert for it,
// and the re-checked row decides (the casts give the selected parameters their columns' types).
const INSERT = sql(
  `INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
  SELECT @id, id, @kind, @now, @expiresAt FROM users
  WHERE id = @userId AND is_active = 1 AND (@passwordVersion IS NULL OR password_version = @passwordVersion)`,
  {
    postgres: `INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
  SELECT CAST(@id AS TEXT), id, CAST(@kind AS TEXT), CAST(@now AS BIGINT), CAST(@expiresAt AS BIGINT) FROM users
  WHERE id = @userId AND is_active = 1 AND (CAST(@passwordVersion AS INTEGER) IS NULL OR password_version = @passwordVersion)
  FOR SHARE`,
  },
);
const EXTEND = sql('UPDATE sessions SET expires_at = CASE WHEN expires_at > @at THEN expires_at ELSE @at END WHERE id = @id');
const REMOVE = sql('DELETE FROM sessions WHERE id = ?');
const REMOVE_FOR_USER = sql('DELETE FROM sessions WHERE user_id = ?');
// One statement per authenticated request: the user, alive and active, with the session unrevoked.
const USER_FOR_JWT = sql<SessionUserRow>(`SELECT ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM sessions
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.id = ? AND sessions.user_id = ? AND sessions.kind = 'jwt' AND sessions.expires_at > ?
    AND NOT EXISTS (SELECT 1 FROM revoked_jwts WHERE jti = ?)`);
// The same, for many credentials in one statement (PostgreSQL, where each statement is a round trip; see
// services/coalescer.ts). `@items` is a JSON array; `batch_index` says which item a row answers (1-based).
const USERS_FOR_JWTS = sql<SessionUserRow & { batch_index: number }>(
  `SELECT k.key + 1 AS batch_index, ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM json_each(@items) AS k
    JOIN sessions ON sessions.id = json_extract(k.value, '$[0]') AND sessions.user_id = json_extract(k.value, '$[1]')
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.kind = 'jwt' AND sessions.expires_at > @now
    AND NOT EXISTS (SELECT 1 FROM revoked_jwts WHERE jti = json_extract(k.value, '$[2]'))`,
  {
    postgres: `SELECT k.i AS batch_index, ${USER_COLUMNS}, ${SESSION_COLUMNS}
    FROM json_array_elements(CAST(@items AS json)) WITH ORDINALITY AS k(v, i)
    JOIN sessions ON sessions.id = k.v->>0 AND sessions.user_id = CAST(k.v->>1 AS BIGINT)
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.kind = 'jwt' AND sessions.expires_at > @now
    AND NOT EXISTS (SELECT 1 FROM revoked_jwts WHERE jti = k.v->>2)`,
  },
);
const USERS_FOR_TOKENS = sql<SessionUserRow & { batch_index: number }>(
  `SELECT k.key + 1 AS batch_index, ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM json_each(@items) AS k
    JOIN sessions ON sessions.id = k.value
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.kind = 'token' AND sessions.expires_at > @now`,
  {
    postgres: `SELECT k.i AS batch_index, ${USER_COLUMNS}, ${SESSION_COLUMNS}
    FROM json_array_elements_text(CAST(@items AS json)) WITH ORDINALITY AS k(id, i)
    JOIN sessions ON sessions.id = k.id
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.kind = 'token' AND sessions.expires_at > @now`,
  },
);
const USER_FOR_TOKEN = sql<SessionUserRow>(`SELECT ${USER_COLUMNS}, ${SESSION_COLUMNS} FROM sessions
    JOIN users ON users.id = sessions.user_id
  WHERE sessions.id = ? AND sessions.kind = 'token' AND sessions.expires_at > ?`);
// RETURNING only what was inserted: of parallel revocations of one jti (two refreshes rotating one
// token), exactly one gets a row back, on either engine (PostgreSQL's second waits for the first's commit).
const REVOKE_JWT = sql<{ jti: string }>('INSERT INTO revoked_jwts (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING jti');
const JWT_REVOKED = sql<{ one: number }>('SELECT 1 AS one FROM revoked_jwts WHERE jti = ?');
const LIVE_COUNT = sql<{ n: number }>('SELECT count(*) AS n FROM sessions WHERE user_id = ? AND expires_at > ?');
// Session ids are lower-case hex: 'g' sorts after every id with the prefix (byte order on both engines).
const LIVE_JWT_BY_PREFIX = sql<{ id: string; expires_at: number }>(`SELECT id, expires_at FROM sessions
  WHERE id >= ? AND id < ? AND kind = 'jwt' AND expires_at > ? LIMIT 1`);
const PURGE_SESSIONS = sql('DELETE FROM sessions WHERE expires_at <= ?');
const PURGE_REVOKED = sql('DELETE FROM revoked_jwts WHERE expires_at <= ?');

/** What userForJwt is asked with. */
export interface JwtLookup {
  sid: string;
  userId: number;
  jti: string;
}

/** A batch's rows, one answer per item (undefined where no row came back). */
function inOrder(count: number, rows: (SessionUserRow & { batch_index: number })[]): (SessionUser | undefined)[] {
  const answers: (SessionUser | undefined)[] = new Array(count).fill(undefined);
  for (const row of rows) answers[row.batch_index - 1] = toSessionUser(row);
  return answers;
}

/** Sessions (JWT families and opaque tokens) and single revoked JWTs, through `db` (the database or a transaction). */
export function createSessionStore(db: Executor) {
  return {
    /** False when the user is gone, inactive, or no longer at `passwordVersion`. */
    create: async (session: NewSession, now: number, passwordVersion?: number) =>
      (await db.run(INSERT, { ...session, now, passwordVersion: passwordVersion ?? null })) === 1,
    extend: async (id: string, expiresAt: number) => void (await db.run(EXTEND, { id, at: expiresAt })),
    delete: async (id: string) => (await db.run(REMOVE, [id])) === 1,
    deleteForUser: (userId: number) => db.run(REMOVE_FOR_USER, [userId]),
    userForJwt: async (sid: string, userId: number, jti: string, now: number) =>
      toSessionUser(await db.get(USER_FOR_JWT, [sid, userId, now, jti])),
    userForToken: async (tokenHash: string, now: number) => toSessionUser(await db.get(USER_FOR_TOKEN, [tokenHash, now])),
    /** userForJwt for each of `lookups`, in one statement; answers in the same order. */
    usersForJwts: async (lookups: readonly JwtLookup[], now: number) =>
      inOrder(lookups.length, await db.all(USERS_FOR_JWTS, { items: JSON.stringify(lookups.map((l) => [l.sid, l.userId, l.jti])), now })),
    /** userForToken for each of `tokenHashes`, in one statement; answers in the same order. */
    usersForTokens: async (tokenHashes: readonly string[], now: number) =>
      inOrder(tokenHashes.length, await db.all(USERS_FOR_TOKENS, { items: JSON.stringify(tokenHashes), now })),
    /** True for the one caller that revoked it; false when it was revoked already. */
    revokeJwt: async (jti: string, expiresAt: number) => (await db.get(REVOKE_JWT, [jti, expiresAt])) !== undefined,
    isJwtRevoked: async (jti: string) => (await db.get(JWT_REVOKED, [jti])) !== undefined,
    /** The live JWT session whose id starts with `prefix` (lower-case hex), if any. */
    liveJwtSession: async (prefix: string, now: number) => {
      const row = await db.get(LIVE_JWT_BY_PREFIX, [prefix, `${prefix}g`, now]);
      return row && { id: row.id, expiresAt: row.expires_at };
    },
    liveCount: async (userId: number, now: number) => (await db.get(LIVE_COUNT, [userId, now]))!.n,
    purgeExpired: async (now: number) => (await db.run(PURGE_SESSIONS, [now])) + (await db.run(PURGE_REVOKED, [now])),
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
