import type { Database } from '../db/database.ts';

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
  superheroName: string;
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

export function createUserStore(db: Database) {
  const byId = db.prepare<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`);
  const byEmail = db.prepare<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`);
  const emailTaken = db.prepare<{ one: number }>('SELECT 1 AS one FROM users WHERE email = ?');
  const heroTaken = db.prepare<{ one: number }>('SELECT 1 AS one FROM users WHERE superhero_name = ?');
  const insert = db.prepare<UserRow>(`INSERT INTO users
      (email, password_hash, superhero_name, name, gender, preferences, dob, bio, phone_number, profile_picture,
       email_verified, is_staff, is_superuser, created_at, updated_at)
    VALUES (@email, @passwordHash, @superheroName, @name, @gender, @preferences, @dob, @bio, @phoneNumber, @profilePicture,
       @emailVerified, @isStaff, @isSuperuser, @now, @now)
    RETURNING ${USER_COLUMNS}`);
  // A column is changed only where its parameter is not NULL; `clear*` flags set nullable ones to NULL.
  const updateProfile = db.prepare<UserRow>(`UPDATE users SET
      name = coalesce(@name, name),
      gender = coalesce(@gender, gender),
      preferences = coalesce(@preferences, preferences),
      dob = CASE WHEN @clearDob THEN NULL ELSE coalesce(@dob, dob) END,
      bio = coalesce(@bio, bio),
      phone_number = coalesce(@phoneNumber, phone_number),
      profile_picture = CASE WHEN @clearPicture THEN NULL ELSE coalesce(@profilePicture, profile_picture) END,
      updated_at = @now
    WHERE id = @id
    RETURNING ${USER_COLUMNS}`);
  const updateAdmin = db.prepare<UserRow>(`UPDATE users SET
      is_active = coalesce(@isActive, is_active),
      is_staff = coalesce(@isStaff, is_staff),
      is_superuser = coalesce(@isSuperuser, is_superuser),
      name = coalesce(@name, name),
      updated_at = @now
    WHERE id = @id
    RETURNING ${USER_COLUMNS}`);
  const setPassword = db.prepare(
    'UPDATE users SET password_hash = ?, password_version = password_version + 1, updated_at = ? WHERE id = ?',
  );
  // A reset link reached the address: the password changes and the address counts as proved.
  const resetPassword = db.prepare(`UPDATE users SET password_hash = ?, password_version = password_version + 1,
      email_verified = 1, updated_at = ?
    WHERE id = ? AND password_version = ?`);
  const claimAccount = db.prepare<UserRow>(`UPDATE users SET password_hash = @passwordHash, password_version = password_version + 1,
      email_verified = 1, gender = @gender, preferences = @preferences, dob = @dob, updated_at = @now
    WHERE id = @id AND email_verified = 0
    RETURNING ${USER_COLUMNS}`);
  const rehash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?');
  const touchLogin = db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?');
  const storedPictures = db.prepare<{ profile_picture: string }>(
    "SELECT profile_picture FROM users WHERE profile_picture IS NOT NULL AND profile_picture NOT LIKE 'http%'",
  );
  const pictureOf = db.prepare<{ profile_picture: string | null }>('SELECT profile_picture FROM users WHERE id = ?');
  // RETURNING the picture, so the file that goes with the row is the one the row held when it went.
  const remove = db.prepare<{ profile_picture: string | null }>('DELETE FROM users WHERE id = ? RETURNING profile_picture');
  const list = db.prepare<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?`);
  const count = db.prepare<{ n: number }>('SELECT count(*) AS n FROM users');

  return {
    findById: (id: number) => {
      const row = byId.get(id);
      return row && toUser(row);
    },
    findByEmail: (email: string) => {
      const row = byEmail.get(email);
      return row && toUser(row);
    },
    emailExists: (email: string) => emailTaken.get(email) !== undefined,
    superheroNameExists: (name: string) => heroTaken.get(name) !== undefined,
    insert: (user: NewUser, now: number): User =>
      toUser(
        insert.get({
          email: user.email,
          passwordHash: user.passwordHash,
          superheroName: user.superheroName,
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
        })!,
      ),
    updateProfile: (id: number, changes: ProfileChanges, now: number): User | undefined => {
      const row = updateProfile.get({
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
    updateAdmin: (id: number, changes: AdminChanges, now: number): User | undefined => {
      const row = updateAdmin.get({
        id,
        now,
        isActive: flag(changes.isActive),
        isStaff: flag(changes.isStaff),
        isSuperuser: flag(changes.isSuperuser),
        name: maybe(changes.name),
      });
      return row && toUser(row);
    },
    setPassword: (id: number, passwordHash: string, now: number) => setPassword.run(passwordHash, now, id).changes === 1,
    /**
     * A reset link's password change, compare-and-set: fails when the password changed since `version`
     * was read. Marks the address proved (the link was mailed to it).
     */
    resetPassword: (id: number, version: number, passwordHash: string, now: number) =>
      resetPassword.run(passwordHash, now, id, version).changes === 1,
    /** An unproved account taken over by whoever proved its address; undefined when it was proved already. */
    claim: (id: number, claim: Claim, now: number): User | undefined => {
      const row = claimAccount.get({ id, now, ...claim });
      return row && toUser(row);
    },
    /** The same password under a new hash (a cost upgrade): no change of password, so reset links live on. */
    rehashPassword: (id: number, previousHash: string, passwordHash: string) =>
      rehash.run(passwordHash, id, previousHash).changes === 1,
    recordLogin: (id: number, now: number) => void touchLogin.run(now, id),
    /** Every picture value that is not a URL: the names of uploaded files in use. */
    storedPictures: () => new Set(storedPictures.all().map((row) => row.profile_picture)),
    /** The stored picture as it is now (inside a transaction: as this update will replace it). */
    pictureOf: (id: number) => pictureOf.get(id)?.profile_picture ?? null,
    /** Deletes the user; answers whether a row went and the picture it held. */
    delete: (id: number) => {
      const row = remove.get(id);
      return { deleted: row !== undefined, picture: row?.profile_picture ?? null };
    },
    list: (limit: number, offset: number) => list.all(limit, offset).map(toUser),
    count: () => count.get()!.n,
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
