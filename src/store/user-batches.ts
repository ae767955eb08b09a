import { sql, type Executor, type Sql } from '../db/port.ts';
import type { NewSession } from './sessions.ts';
import { USER_COLUMNS, toUser, type NewUser, type User, type UserRow } from './users.ts';

/**
 * Users many at a time, for moving them in and out (users:export, users:import, users:import-django):
 * every column kept, a few statements per thousand rows instead of one per row.
 */

/** A user read back from an export: every column given, the id and superhero name only when kept. */
export interface RestoredUser extends NewUser {
  id?: number;
  superheroName?: string;
  isActive: boolean;
  lastLoginAt: number | null;
  createdAt: number;
  updatedAt: number;
}

const EMAIL_TAKEN = sql<{ one: number }>('SELECT 1 AS one FROM users WHERE email = ?');
// Export and lossless import (users:export, users:import with kept ids, hashes and times).
// Keyset pages: each page an index seek past the last id, however deep the export has gone.
const PAGE_AFTER = sql<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?`);
// Which of many values (a JSON array, one parameter) are taken: one statement per batch, not per row.
const EMAILS_TAKEN = sql<{ value: string }>('SELECT email AS value FROM users WHERE email IN (SELECT value FROM json_each(?))', {
  postgres: 'SELECT email AS value FROM users WHERE email IN (SELECT json_array_elements_text(?::json))',
});
const IDS_TAKEN = sql<{ value: number }>('SELECT id AS value FROM users WHERE id IN (SELECT value FROM json_each(?))', {
  postgres: 'SELECT id AS value FROM users WHERE id IN (SELECT json_array_elements_text(?::json)::bigint)',
});
const SUPERHERO_NAMES_TAKEN = sql<{ value: string }>(
  'SELECT superhero_name AS value FROM users WHERE superhero_name IN (SELECT value FROM json_each(?))',
  { postgres: 'SELECT superhero_name AS value FROM users WHERE superhero_name IN (SELECT json_array_elements_text(?::json))' },
);
const ID_TAKEN = sql<{ one: number }>('SELECT 1 AS one FROM users WHERE id = ?');
const SUPERHERO_NAME_TAKEN = sql<{ one: number }>('SELECT 1 AS one FROM users WHERE superhero_name = ?');
// Many users in one statement, from a JSON array of rows, each an array of KEPT_COLUMNS' values
// (SQLite reads them in array order, so the explicit ids of a batch are in before any id the batch
// numbers). Rows with a unique column taken are left out; RETURNING (in no particular order) says which
// went in, and with what id: only that, as returning every column would double SQLite's time.
const KEPT_COLUMNS = [
  'id', 'email', 'password_hash', 'superhero_name', 'name', 'gender', 'preferences', 'dob', 'bio', 'phone_number',
  'profile_picture', 'email_verified', 'is_active', 'is_staff', 'is_superuser', 'last_login_at', 'created_at', 'updated_at',
] as const;
const KEPT_TYPES: Record<(typeof KEPT_COLUMNS)[number], string> = {
  id: 'bigint', email: 'text', password_hash: 'text', superhero_name: 'text', name: 'text', gender: 'text', preferences: 'text',
  dob: 'text', bio: 'text', phone_number: 'text', profile_picture: 'text', email_verified: 'integer', is_active: 'integer',
  is_staff: 'integer', is_superuser: 'integer', last_login_at: 'bigint', created_at: 'bigint', updated_at: 'bigint',
};
const INSERT_KEPT_MANY = sql<{ id: number; email: string }>(
  `INSERT INTO users (${KEPT_COLUMNS.join(', ')})
  SELECT ${KEPT_COLUMNS.map((_, i) => `value ->> ${i}`).join(', ')} FROM json_each(?) WHERE true
  ON CONFLICT DO NOTHING
  RETURNING id, email`,
  {
    postgres: `INSERT INTO users (${KEPT_COLUMNS.join(', ')})
  SELECT coalesce((r ->> 0)::bigint, nextval(pg_get_serial_sequence('users', 'id'))),
    ${KEPT_COLUMNS.slice(1).map((column, i) => `(r ->> ${i + 1})::${KEPT_TYPES[column]}`).join(', ')}
  FROM jsonb_array_elements(?::jsonb) AS r
  ON CONFLICT DO NOTHING
  RETURNING id, email`,
  },
);

// New users numbered past `n`: SQLite's AUTOINCREMENT counter follows explicit ids by itself; a
// PostgreSQL identity does not, so its sequence is moved as db:copy moves it (store/tables.ts), never back.
const RAISE_ID_COUNTER = sql<{ n: number }>('SELECT @n AS n', {
  postgres: `SELECT setval(pg_get_serial_sequence('users', 'id'), @n) AS n
    WHERE @n > coalesce(pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass), 0)`,
});

// Sessions moving in with their users (DRF tokens, SimpleJWT's logins), from a JSON array of rows.
const INSERT_SESSIONS = sql(
  `INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)`,
  {
    postgres: `INSERT INTO sessions (id, user_id, kind, created_at, expires_at)
  SELECT (r ->> 0)::text, (r ->> 1)::bigint, (r ->> 2)::text, (r ->> 3)::bigint, (r ->> 4)::bigint FROM jsonb_array_elements(?::jsonb) AS r`,
  },
);
/** Rows per statement. */
const SESSION_BATCH = 1000;

export function createUserBatchStore(db: Executor) {
  const takenAmong = async <T extends string | number>(query: Sql<{ value: T }>, values: readonly T[]): Promise<Set<T>> =>
    new Set(values.length === 0 ? [] : (await db.all(query, [JSON.stringify(values)])).map((row) => row.value));
  /**
   * insertKept for many users at once, each with its superhero name: one statement. Answers the users
   * inserted, in no particular order; a user whose id, email or name is taken is not among them.
   */
  async function insertKeptMany(users: readonly (RestoredUser & { superheroName: string })[]): Promise<User[]> {
    if (users.length === 0) return [];
    const rows = users.map((user): UserRow => ({
      id: user.id ?? 0,
      email: user.email,
      password_hash: user.passwordHash,
      password_version: 0,
      superhero_name: user.superheroName,
      name: user.name ?? '',
      gender: user.gender ?? '',
      preferences: user.preferences ?? '',
      dob: user.dob ?? null,
      bio: user.bio ?? '',
      phone_number: user.phoneNumber ?? '',
      profile_picture: user.profilePicture ?? null,
      email_verified: user.emailVerified ? 1 : 0,
      is_active: user.isActive ? 1 : 0,
      is_staff: user.isStaff ? 1 : 0,
      is_superuser: user.isSuperuser ? 1 : 0,
      last_login_at: user.lastLoginAt,
      created_at: user.createdAt,
      updated_at: user.updatedAt,
    }));
    const values = rows.map((row, i) => KEPT_COLUMNS.map((column) => (column === 'id' ? (users[i].id ?? null) : row[column])));
    const ids = new Map((await db.all(INSERT_KEPT_MANY, [JSON.stringify(values)])).map((row) => [row.email, row.id]));
    // The rows as written: every column is the value given, but for the id of a row numbered here.
    return rows.filter((row) => ids.has(row.email)).map((row) => toUser({ ...row, id: ids.get(row.email)! }));
  }

  return {
    /** Up to `limit` users with ids above `afterId`, in id order (0 for the first page). */
    pageAfter: async (afterId: number, limit: number) => (await db.all(PAGE_AFTER, [afterId, limit])).map(toUser),
    /** Which of `values` are taken already, in that column: one statement for the whole list. */
    emailsTaken: async (emails: readonly string[]) => takenAmong(EMAILS_TAKEN, emails),
    idsTaken: async (ids: readonly number[]) => takenAmong(IDS_TAKEN, ids),
    superheroNamesTaken: async (names: readonly string[]) => takenAmong(SUPERHERO_NAMES_TAKEN, names),
    /**
     * Inserts a user with every column as given (an import of an export): its id unless undefined, its
     * superhero name or one from `drawName` (drawn again while taken). Answers the user, or which kept
     * column is taken (by a commit before or during this one), inserting nothing.
     */
    insertKept: async (user: RestoredUser, drawName: () => string): Promise<User | 'id' | 'email' | 'superhero_name'> => {
      for (;;) {
        const [inserted] = await insertKeptMany([{ ...user, superheroName: user.superheroName ?? drawName() }]);
        if (inserted) return inserted;
        if (user.id !== undefined && (await db.get(ID_TAKEN, [user.id]))) return 'id';
        if (await db.get(EMAIL_TAKEN, [user.email])) return 'email';
        if (user.superheroName !== undefined && (await db.get(SUPERHERO_NAME_TAKEN, [user.superheroName]))) return 'superhero_name';
      }
    },
    insertKeptMany,
    /** Users inserted from now on get ids above `n` (ids kept by an import); never lowers the counter. */
    raiseIdCounter: async (n: number) => void (await db.get(RAISE_ID_COUNTER, { n })),
    /** Opens these sessions as they are (their users inserted in the same transaction). */
    async insertSessions(sessions: readonly NewSession[], now: number): Promise<void> {
      for (let at = 0; at < sessions.length; at += SESSION_BATCH) {
        const batch = sessions.slice(at, at + SESSION_BATCH).map((s) => [s.id, s.userId, s.kind, now, s.expiresAt]);
        await db.run(INSERT_SESSIONS, [JSON.stringify(batch)]);
      }
    },
  };
}

export type UserBatchStore = ReturnType<typeof createUserBatchStore>;
