import type { SourceDatabase, SourceRow, SourceValue } from '../db/source.ts';

/**
 * The two Django originals' tables (../shared/originals.md), read from their database. Only what the
 * import needs is read; Django's own tables (sessions, permissions, migrations) hold nothing to move.
 */
export type OriginalKind = 'accounts' | 'kitchen';

/** A user as the original stored it, values normalised across SQLite and PostgreSQL. */
export interface OriginalUser {
  id: number;
  email: string;
  password: string;
  lastLogin: number | null;
  dateJoined: number | null;
  superheroName: string | null;
  gender: string;
  preferences: string;
  dob: string | null;
  isActive: boolean;
  isStaff: boolean;
  isSuperuser: boolean;
  name: string;
  bio: string;
  phoneNumber: string;
  /** A path under the original's media folder, as Django's ImageField stores it. */
  profilePicture: string | null;
}

export interface OriginalToken {
  key: string;
  userId: number;
}

/** The tables (and their columns) that tell each original apart. */
export const EXPECTED_TABLES: Record<OriginalKind, Record<string, readonly string[]>> = {
  accounts: {
    users_user: ['id', 'password', 'last_login', 'email', 'gender', 'preferences', 'dob', 'superhero_name'],
  },
  kitchen: {
    authentication_user: ['id', 'password', 'last_login', 'is_superuser', 'email', 'is_staff', 'is_active', 'date_joined'],
    authentication_userprofile: ['user_id', 'name', 'date_of_birth', 'phone_number', 'bio', 'profile_picture'],
    authtoken_token: ['key', 'user_id'],
  },
};

/** Which original the database is, or undefined with the tables each one lacks. */
export async function recogniseOriginal(source: SourceDatabase): Promise<{ kind?: OriginalKind; missing: Record<OriginalKind, string[]> }> {
  const tables = await source.tables();
  const missing = { accounts: [] as string[], kitchen: [] as string[] };
  for (const kind of ['accounts', 'kitchen'] as const) {
    for (const [table, columns] of Object.entries(EXPECTED_TABLES[kind])) {
      const found = tables.get(table);
      if (!found) missing[kind].push(table);
      else for (const column of columns) if (!found.has(column)) missing[kind].push(`${table}.${column}`);
    }
  }
  const kind = (['accounts', 'kitchen'] as const).find((candidate) => missing[candidate].length === 0);
  return { kind, missing };
}

const ACCOUNTS_USERS = `SELECT id, password, last_login, email, gender, preferences, dob, superhero_name
  FROM users_user ORDER BY id`;
const KITCHEN_USERS = `SELECT u.id, u.password, u.last_login, u.is_superuser, u.email, u.is_staff, u.is_active, u.date_joined,
    p.name, p.date_of_birth, p.phone_number, p.bio, p.profile_picture
  FROM authentication_user u LEFT JOIN authentication_userprofile p ON p.user_id = u.id ORDER BY u.id`;
const KITCHEN_TOKENS = 'SELECT key, user_id FROM authtoken_token ORDER BY user_id';

const text = (value: SourceValue) => (value === null || value === undefined ? '' : String(value));
const optionalText = (value: SourceValue) => (value === null || value === undefined || value === '' ? null : String(value));
const flag = (value: SourceValue) => value === true || value === 1 || value === '1' || value === 't';

/**
 * Django writes datetimes as UTC text on SQLite ('2024-05-01 12:00:00.123456', with USE_TZ) and as
 * timestamptz on PostgreSQL; either becomes epoch milliseconds. Text without a zone is taken as UTC.
 */
export function djangoTime(value: SourceValue): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value.getTime();
  const textValue = String(value).trim().replace(' ', 'T');
  const zoned = /([zZ]|[+-]\d\d:?\d\d)$/.test(textValue) ? textValue : `${textValue}Z`;
  const ms = Date.parse(zoned.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? null : ms;
}

/** A `date` column as 'YYYY-MM-DD' (PostgreSQL's driver was told to leave it as text). */
const djangoDate = (value: SourceValue) => (value instanceof Date ? value.toISOString().slice(0, 10) : optionalText(value));

function toOriginalUser(kind: OriginalKind, row: SourceRow): OriginalUser {
  const accounts = kind === 'accounts';
  return {
    id: Number(row.id),
    email: text(row.email),
    password: text(row.password),
    lastLogin: djangoTime(row.last_login),
    dateJoined: accounts ? null : djangoTime(row.date_joined),
    superheroName: accounts ? optionalText(row.superhero_name) : null,
    gender: accounts ? text(row.gender) : '',
    preferences: accounts ? text(row.preferences) : '',
    dob: djangoDate(accounts ? row.dob : row.date_of_birth),
    // The accounts original has no flags: every row is an active, ordinary user.
    isActive: accounts ? true : flag(row.is_active),
    isStaff: accounts ? false : flag(row.is_staff),
    isSuperuser: accounts ? false : flag(row.is_superuser),
    name: text(row.name),
    bio: text(row.bio),
    phoneNumber: text(row.phone_number),
    profilePicture: optionalText(row.profile_picture),
  };
}

export async function readOriginal(source: SourceDatabase, kind: OriginalKind): Promise<{ users: OriginalUser[]; tokens: OriginalToken[] }> {
  const users = (await source.all(kind === 'accounts' ? ACCOUNTS_USERS : KITCHEN_USERS)).map((row) => toOriginalUser(kind, row));
  const tokens =
    kind === 'kitchen'
      ? (await source.all(KITCHEN_TOKENS)).map((row) => ({ key: text(row.key), userId: Number(row.user_id) }))
      : [];
  return { users, tokens };
}
