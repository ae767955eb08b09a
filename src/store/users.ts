import { sql, type Executor } from '../db/port.ts';

export interface User {
  id: number;
  email: string;
  passwordHash: string;
  /** Bumped by every password change, never by a rehash (see migration 003). */
  passwordVersion: number;
  superheroName: string;
  name: string;
  gender: string;
  preferences: string;
  dob: string | null;
  bio: string;
  phoneNumber: string;
  /** An http(s) URL, or the name of an uploaded file under `<data>/media/` (see services/media.ts). */
  profilePicture: string | null;
  /** The owner of the address proved it (see migration 006). */
  emailVerified: boolean;
  isActive: boolean;
  isStaff: boolean;
  isSuperuser: boolean;
  lastLoginAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface UserRow {
  id: number;
  email: string;
  password_hash: string;
  password_version: number;
  superhero_name: string;
  name: string;
  gender: string;
  preferences: string;
  dob: string | null;
  bio: string;
  phone_number: string;
  profile_picture: string | null;
  email_verified: number;
  is_active: number;
  is_staff: number;
  is_superuser: number;
  last_login_at: number | null;
  created_at: number;
  updated_at: number;
}

export const USER_COLUMNS = `users.id, users.email, users.password_hash, users.password_version, users.superhero_name, users.name,
  users.gender, users.preferences, users.dob, users.bio, users.phone_number, users.profile_picture, users.email_verified, users.is_active,
  users.is_staff, users.is_superuser, users.last_login_at, users.created_at, users.updated_at`;

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    passwordVersion: row.password_version,
    superheroName: row.superhero_name,
    name: row.name,
    gender: row.gender,
    preferences: row.preferences,
    dob: row.dob,
    bio: row.bio,
    phoneNumber: row.phone_number,
    profilePicture: row.profile_picture,
    emailVerified: row.email_verified === 1,
    isActive: row.is_active === 1,
    isStaff: row.is_staff === 1,
    isSuperuser: row.is_superuser === 1,
    lastLoginAt: row.last_login_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Fields a profile update may change; `undefined` leaves a field as it is. */
export interface ProfileChanges {
  name?: string;
  gender?: string;
  preferences?: string;
  dob?: string | null;
  bio?: string;
  phoneNumber?: string;
  profilePicture?: string | null;
}

export interface NewUser extends ProfileChanges {
  email: string;
  passwordHash: string;
  isStaff?: boolean;
  isSuperuser?: boolean;
  emailVerified?: boolean;
}

/** What a registration that proved the address writes over an unproved account of that address. */
export interface Claim {
  passwordHash: string;
  gender: string;
  preferences: string;
  dob: string;
}

export interface AdminChanges {
  isActive?: boolean;
  isStaff?: boolean;
  isSuperuser?: boolean;
  name?: string;
}

const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0);
const maybe = <T>(value: T | undefined) => (value === undefined ? null : value);

const BY_ID = sql<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`);
const BY_EMAIL = sql<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`);
const EMAIL_TAKEN = sql<{ one: number }>('SELECT 1 AS one FROM users WHERE email = ?');
// Any unique column taken (the email, or the superhero name just drawn) inserts nothing and returns no
// row, without an error that would end a PostgreSQL transaction; the caller asks which it was.
const INSERT = sql<UserRow>(`INSERT INTO users
    (email, password_hash, superhero_name, name, gender, preferences, dob, bio, phone_number, profile_picture,
     email_verified, is_staff, is_superuser, created_at, updated_at)
  VALUES (@email, @passwordHash, @superheroName, @name, @gender, @preferences, @dob, @bio, @phoneNumber, @profilePicture,
     @emailVerified, @isStaff, @isSuperuser, @now, @now)
  ON CONFLICT DO NOTHING
  RETURNING ${USER_COLUMNS}`);
// A column is changed only where its parameter is not NULL; `clear*` flags set nullable ones to NULL.
const UPDATE_PROFILE = sql<UserRow>(`UPDATE users SET
    name = coalesce(@name, name),
    gender = coalesce(@gender, gender),
    preferences = coalesce(@preferences, preferences),
    dob = CASE WHEN @clearDob = 1 THEN NULL ELSE coalesce(@dob, dob) END,
    bio = coalesce(@bio, bio),
    phone_number = coalesce(@phoneNumber, phone_number),
    profile_picture = CASE WHEN @clearPicture = 1 THEN NULL ELSE coalesce(@profilePicture, profile_picture) END,
    updated_at = @now
  WHERE id = @id
  RETURNING ${USER_COLUMNS}`);
const UPDATE_ADMIN = sql<UserRow>(`UPDATE users SET
    is_active = coalesce(@isActive, is_active),
    is_staff = coalesce(@isStaff, is_staff),
    is_superuser = coalesce(@isSuperuser, is_superuser),
    name = coalesce(@name, name),
    updated_at = @now
  WHERE id = @id
  RETURNING ${USER_COLUMNS}`);
const SET_PASSWORD = sql(
  'UPDATE users SET password_hash = ?, password_version = password_version + 1, updated_at = ? WHERE id = ?',
);
// A reset link reached the address: the password changes and the address counts as proved.
const RESET_PASSWORD = sql(`UPDATE users SET password_hash = ?, password_version = password_version + 1,
    email_verified = 1, updated_at = ?
  WHERE id = ? AND password_version = ?`);
const CLAIM = sql<UserRow>(`UPDATE users SET password_hash = @passwordHash, password_version = password_version + 1,
    email_verified = 1, gender = @gender, preferences = @preferences, dob = @dob, updated_at = @now
  WHERE id = @id AND email_verified = 0
  RETURNING ${USER_COLUMNS}`);
const REHASH = sql('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?');
const TOUCH_LOGIN = sql('UPDATE users SET last_login_at = ? WHERE id = ?');
const STORED_PICTURES = sql<{ profile_picture: string }>(
  "SELECT profile_picture FROM users WHERE profile_picture IS NOT NULL AND profile_picture NOT LIKE 'http%'",
);
// PostgreSQL: the row stays locked until the transaction's update, so racing updates read in turn.
const PICTURE_FOR_UPDATE = sql<{ profile_picture: string | null }>('SELECT profile_picture FROM users WHERE id = ?', {
  postgres: 'SELECT profile_picture FROM users WHERE id = ? FOR UPDATE',
});
// RETURNING the picture, so the file that goes with the row is the one the row held when it went.
const REMOVE = sql<{ profile_picture: string | null }>('DELETE FROM users WHERE id = ? RETURNING profile_picture');
const LIST = sql<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?`);
const COUNT = sql<{ n: number }>('SELECT count(*) AS n FROM users');
// Through the partial index of migration 007: the same condition, word for word.
const IMPORTED_HASH_SAMPLE = sql<{ password_hash: string }>(
  "SELECT password_hash FROM users WHERE substr(password_hash, 1, 1) NOT IN ('$', '!') ORDER BY id LIMIT 1",
);

/** The users table, through `db` (the database or an open transaction). */
export function createUserStore(db: Executor) {
  return {
    findById: async (id: number) => {
      const row = await db.get(BY_ID, [id]);
      return row && toUser(row);
    },
    findByEmail: async (email: string) => {
      const row = await db.get(BY_EMAIL, [email]);
      return row && toUser(row);
    },
    emailExists: async (email: string) => (await db.get(EMAIL_TAKEN, [email])) !== undefined,
    /**
     * Inserts the user under a superhero name from `drawName` (drawn again while the one drawn is
     * taken); undefined, inserting nothing, when the email is taken, by a commit before or during this one.
     */
    insert: async (user: NewUser, now: number, drawName: () => string): Promise<User | undefined> => {
      for (;;) {
        const row = await db.get(INSERT, {
          email: user.email,
          passwordHash: user.passwordHash,
          superheroName: drawName(),
          name: user.name ?? '',
          gender: user.gender ?? '',
          preferences: user.preferences ?? '',
          dob: user.dob ?? null,
          bio: user.bio ?? '',
          phoneNumber: user.phoneNumber ?? '',
          profilePicture: user.profilePicture ?? null,
          emailVerified: user.emailVerified ? 1 : 0,
          isStaff: user.isStaff ? 1 : 0,
          isSuperuser: user.isSuperuser ? 1 : 0,
          now,
        });
        if (row) return toUser(row);
        if (await db.get(EMAIL_TAKEN, [user.email])) return undefined;
      }
    },
    updateProfile: async (id: number, changes: ProfileChanges, now: number): Promise<User | undefined> => {
      const row = await db.get(UPDATE_PROFILE, {
        id,
        now,
        name: maybe(changes.name),
        gender: maybe(changes.gender),
        preferences: maybe(changes.preferences),
        dob: maybe(changes.dob),
        clearDob: changes.dob === null ? 1 : 0,
        bio: maybe(changes.bio),
        phoneNumber: maybe(changes.phoneNumber),
        profilePicture: maybe(changes.profilePicture),
        clearPicture: changes.profilePicture === null ? 1 : 0,
      });
      return row && toUser(row);
    },
    updateAdmin: async (id: number, changes: AdminChanges, now: number): Promise<User | undefined> => {
      const row = await db.get(UPDATE_ADMIN, {
        id,
        now,
        isActive: flag(changes.isActive),
        isStaff: flag(changes.isStaff),
        isSuperuser: flag(changes.isSuperuser),
        name: maybe(changes.name),
      });
      return row && toUser(row);
    },
    setPassword: async (id: number, passwordHash: string, now: number) =>
      (await db.run(SET_PASSWORD, [passwordHash, now, id])) === 1,
    /**
     * A reset link's password change, compare-and-set: fails when the password changed since `version`
     * was read. Marks the address proved (the link was mailed to it).
     */
    resetPassword: async (id: number, version: number, passwordHash: string, now: number) =>
      (await db.run(RESET_PASSWORD, [passwordHash, now, id, version])) === 1,
    /** An unproved account taken over by whoever proved its address; undefined when it was proved already. */
    claim: async (id: number, claim: Claim, now: number): Promise<User | undefined> => {
      const row = await db.get(CLAIM, { id, now, ...claim });
      return row && toUser(row);
    },
    /** The same password under a new hash (a cost upgrade): no change of password, so reset links live on. */
    rehashPassword: async (id: number, previousHash: string, passwordHash: string) =>
      (await db.run(REHASH, [passwordHash, id, previousHash])) === 1,
    recordLogin: async (id: number, now: number) => void (await db.run(TOUCH_LOGIN, [now, id])),
    /** Every picture value that is not a URL: the names of uploaded files in use. */
    storedPictures: async () => new Set((await db.all(STORED_PICTURES)).map((row) => row.profile_picture)),
    /** The stored picture as this transaction's update will replace it (the row locked until then). */
    pictureForUpdate: async (id: number) => (await db.get(PICTURE_FOR_UPDATE, [id]))?.profile_picture ?? null,
    /** Deletes the user; answers whether a row went and the picture it held. */
    delete: async (id: number) => {
      const row = await db.get(REMOVE, [id]);
      return { deleted: row !== undefined, picture: row?.profile_picture ?? null };
    },
    list: async (limit: number, offset: number) => (await db.all(LIST, [limit, offset])).map(toUser),
    count: async () => (await db.get(COUNT))!.n,
    /** One hash another system wrote that no login has replaced yet, or undefined when none remain. */
    legacyHashSample: async () => (await db.get(IMPORTED_HASH_SAMPLE))?.password_hash,
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
