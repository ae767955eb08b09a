import { z } from 'zod';
import { SidekickError, type FieldErrors } from '../errors.ts';
import type { Store } from '../store/index.ts';
import type { RestoredUser } from '../store/user-batches.ts';
import type { User } from '../store/users.ts';
import type { AccountService, ValidNewUser } from './accounts.ts';
import type { Clock } from './clock.ts';
import { isStoredName } from './media.ts';
import { hashFormat } from './password-formats.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { emailTaken } from './registration.ts';
import { randomSuperheroName } from './superhero.ts';
import { IMPORT_COLUMNS, parseFlag, type ImportRow } from './user-file.ts';
import { parseInput, text } from './validation.ts';

export interface RowProblem {
  row: number;
  email: string | undefined;
  fields: FieldErrors;
}

/** The whole import was refused; `rows` names every row at fault. Nothing was written. */
export class ImportRejectedError extends SidekickError {
  readonly rows: RowProblem[];
  constructor(rows: RowProblem[], total: number) {
    super('invalid', `${rows.length} of ${total} rows are invalid, nothing was imported: ${describeProblems(rows)}`);
    this.name = 'ImportRejectedError';
    this.rows = rows;
  }
}

const MAX_ROWS_NAMED = 20;

function describeProblems(rows: RowProblem[]): string {
  const named = rows.slice(0, MAX_ROWS_NAMED).map((problem) => {
    const who = problem.email ? ` (${problem.email})` : '';
    const what = Object.entries(problem.fields)
      .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
      .join(' ');
    return `row ${problem.row}${who}: ${what}`;
  });
  if (rows.length > MAX_ROWS_NAMED) named.push(`and ${rows.length - MAX_ROWS_NAMED} more rows`);
  return named.join('; ');
}

const MESSAGES = {
  integer: 'A valid integer is required.',
  minimum: 'Ensure this value is greater than or equal to 1.',
  maximum: `Ensure this value is less than or equal to ${Number.MAX_SAFE_INTEGER}.`,
  datetime: 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].',
  bothPasswords: 'Give either password or password_hash, not both.',
  hash:
    'Not a password hash Sidekick can verify: expected its bcrypt ($2b$…), a Django hash (pbkdf2_sha256, pbkdf2_sha1, argon2, ' +
    'bcrypt_sha256, bcrypt, scrypt) or an unusable one (!…).',
  taken: {
    id: 'User with this id already exists.',
    email: emailTaken().fields!.email[0],
    superhero_name: 'User with this superhero name already exists.',
  },
};

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** An ISO 8601 time with its zone (as users:export and Django's dumpdata write it), in ms; undefined if unreal. */
export function parseTimestamp(value: string): number | undefined {
  const match = TIMESTAMP.exec(value.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const ms = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  // Not Date.UTC(year, …): it reads years 0–99 as 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const real =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day &&
    date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  if (!real) return undefined;
  const zone = match[8].toUpperCase();
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  return date.getTime() - offset * 60_000;
}

const timestampField = z.string({ error: MESSAGES.datetime }).transform((value, context) => {
  const ms = parseTimestamp(value);
  if (ms === undefined) context.addIssue({ code: 'custom', message: MESSAGES.datetime });
  return ms ?? 0;
});

// A CSV cell holds the id as text.
const idField = z.preprocess(
  (value) => (typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value),
  z
    .number({ error: MESSAGES.integer })
    .int({ error: MESSAGES.integer })
    .min(1, { error: MESSAGES.minimum })
    .max(Number.MAX_SAFE_INTEGER, { error: MESSAGES.maximum }),
);

/** What an export keeps beyond sign-up's fields (those are sign-up's own schema's). */
const keptSchema = z.object({
  id: idField.optional(),
  superhero_name: text(50).optional(),
  last_login: timestampField.optional(),
  date_joined: timestampField.optional(),
  updated_at: timestampField.optional(),
});

/** A hash as stored: printable ASCII (every format's alphabet), of a bounded size. */
const HASH_TEXT = /^[\x21-\x7e]{1,1024}$/;
const verifiableHash = (value: unknown): value is string => typeof value === 'string' && HASH_TEXT.test(value) && hashFormat(value) !== undefined;

// ------------------------------------------------------------------------------------------ service

export interface UserImportDeps {
  store: Store;
  hasher: PasswordHasher;
  accounts: Pick<AccountService, 'validateNewUser' | 'validateNewUserWithoutPassword'>;
  clock: Clock;
}

export interface ImportProgress {
  (hashed: number, total: number): void;
}

/** One row as it will be inserted: its hash given, or its password still to hash. */
interface ValidRow {
  /** Position in the file's rows. */
  index: number;
  user: Omit<RestoredUser, 'passwordHash' | 'createdAt' | 'updatedAt'> & { createdAt?: number; updatedAt?: number };
  password?: string;
  passwordHash?: string;
}

/** Taken-value queries go in batches of this many values, inserts of this many rows. */
const BATCH = 5000;
const INSERT_BATCH = 500;

/** Imports insert under this lock (PostgreSQL): two imports naming the same ids, emails or names queue, never deadlock. */
const IMPORT_LOCK = 'users:import';

/** Bulk creation for scripted demo environments, and users:export's files read back: every row or none. */
export function createUserImportService(deps: UserImportDeps) {
  const { store, hasher, accounts, clock } = deps;

  function checkRow(values: Record<string, unknown>, fields: FieldErrors): Omit<ValidRow, 'index'> | undefined {
    // null is "not given", as an empty CSV cell is: an export writes null for an unset date or picture.
    const given: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (value === null || value === undefined) continue;
      given[key] = value;
      if (!(IMPORT_COLUMNS as readonly string[]).includes(key)) fields[key] = ['Unknown field.'];
    }
    const flags = {
      isStaff: parseFlag(given.is_staff ?? given.staff),
      isSuperuser: parseFlag(given.is_superuser ?? given.superuser),
      emailVerified: parseFlag(given.email_verified),
      isActive: parseFlag(given.is_active, true),
    };
    const flagFields = { isStaff: 'is_staff', isSuperuser: 'is_superuser', emailVerified: 'email_verified', isActive: 'is_active' } as const;
    for (const [key, field] of Object.entries(flagFields)) {
      if (flags[key as keyof typeof flags] === undefined) fields[field] = ['Must be a valid boolean.'];
    }

    const hasHash = given.password_hash !== undefined;
    if (hasHash && given.password !== undefined) fields.password_hash = [MESSAGES.bothPasswords];
    else if (hasHash && !verifiableHash(given.password_hash)) fields.password_hash = [MESSAGES.hash];

    const body: Record<string, unknown> = { ...given };
    // An uploaded picture's name under <data>/media/, as an export keeps it: moved with the media folder.
    const picture = typeof given.profile_picture === 'string' && isStoredName(given.profile_picture) ? given.profile_picture : undefined;
    if (picture !== undefined) body.profile_picture = undefined;

    let kept: z.output<typeof keptSchema> | undefined;
    let user: ValidNewUser['user'] | undefined;
    let password: string | undefined;
    try {
      kept = parseInput(keptSchema, given);
    } catch (error) {
      if (!(error instanceof SidekickError) || !error.fields) throw error;
      Object.assign(fields, error.fields);
    }
    try {
      const accountFlags = { isStaff: flags.isStaff, isSuperuser: flags.isSuperuser };
      // A row that brings its hash has no password to judge; its other fields get sign-up's checks.
      if (hasHash) user = accounts.validateNewUserWithoutPassword(body, accountFlags);
      else ({ user, password } = accounts.validateNewUser(body, accountFlags));
    } catch (error) {
      if (!(error instanceof SidekickError) || !error.fields) throw error;
      for (const [field, messages] of Object.entries(error.fields)) (fields[field] ??= []).push(...messages);
    }
    if (!kept || !user) return undefined;
    // Spelled out, not spread: 100,000 rows of one fixed shape are several times faster to build.
    return {
      user: {
        email: user.email,
        name: user.name,
        gender: user.gender,
        preferences: user.preferences,
        dob: user.dob,
        bio: user.bio,
        phoneNumber: user.phoneNumber,
        profilePicture: picture ?? user.profilePicture,
        isStaff: user.isStaff,
        isSuperuser: user.isSuperuser,
        id: kept.id,
        superheroName: kept.superhero_name,
        emailVerified: flags.emailVerified,
        isActive: flags.isActive ?? true,
        lastLoginAt: kept.last_login ?? null,
        createdAt: kept.date_joined,
        updatedAt: kept.updated_at,
      },
      password,
      passwordHash: hasHash ? (given.password_hash as string) : undefined,
    };
  }

  /** Which of `values` are taken already, in batches of one statement each. */
  async function takenAmong<T>(values: T[], taken: (batch: T[]) => Promise<Set<T>>): Promise<Set<T>> {
    const all = new Set<T>();
    for (let start = 0; start < values.length; start += BATCH) {
      for (const value of await taken(values.slice(start, start + BATCH))) all.add(value);
    }
    return all;
  }

  async function check(rows: ImportRow[]): Promise<ValidRow[]> {
    const fieldsOf: FieldErrors[] = rows.map(() => ({}));
    const checkedRows: ReturnType<typeof checkRow>[] = [];
    const seen = { email: new Map<string, number>(), id: new Map<number, number>(), superhero_name: new Map<string, number>() };
    const same = { email: 'Same email as row', id: 'Same id as row', superhero_name: 'Same superhero name as row' };
    rows.forEach(({ row, values }, index) => {
      const fields = fieldsOf[index];
      if (typeof values !== 'object' || values === null || Array.isArray(values)) {
        fields.non_field_errors = ["Expected an object with the user's fields."];
        checkedRows.push(undefined);
        return;
      }
      const checked = checkRow(values, fields);
      checkedRows.push(checked);
      if (!checked) return;
      const { user } = checked;
      for (const [key, value] of [['email', user.email], ['id', user.id], ['superhero_name', user.superheroName]] as const) {
        if (value === undefined) continue;
        const earlier = (seen[key] as Map<unknown, number>).get(value);
        if (earlier !== undefined) fields[key] = [`${same[key]} ${earlier}.`];
        else (seen[key] as Map<unknown, number>).set(value, row);
      }
    });

    // What the database holds already: a few statements for the whole file, not one per row.
    const [emails, ids, names] = await Promise.all([
      takenAmong([...seen.email.keys()], (batch) => store.userBatches.emailsTaken(batch)),
      takenAmong([...seen.id.keys()], (batch) => store.userBatches.idsTaken(batch)),
      takenAmong([...seen.superhero_name.keys()], (batch) => store.userBatches.superheroNamesTaken(batch)),
    ]);
    checkedRows.forEach((checked, index) => {
      if (!checked) return;
      const { user } = checked;
      const fields = fieldsOf[index];
      if (emails.has(user.email) && !fields.email) fields.email = [MESSAGES.taken.email];
      if (user.id !== undefined && ids.has(user.id) && !fields.id) fields.id = [MESSAGES.taken.id];
      if (user.superheroName !== undefined && names.has(user.superheroName) && !fields.superhero_name) {
        fields.superhero_name = [MESSAGES.taken.superhero_name];
      }
    });

    const problems: RowProblem[] = [];
    const valid: ValidRow[] = [];
    rows.forEach(({ row, values }, index) => {
      const fields = fieldsOf[index];
      const checked = checkedRows[index];
      if (Object.keys(fields).length > 0) {
        const email = typeof values?.email === 'string' ? values.email.trim().toLowerCase() : undefined;
        problems.push({ row, email, fields });
      } else if (checked) {
        valid.push({ index, ...checked });
      }
    });
    if (problems.length > 0) throw new ImportRejectedError(problems, rows.length);
    return valid;
  }

  /** Hashes through the shared hasher, a few at a time so its queue never overflows. */
  async function hashAll(passwords: string[], onProgress?: ImportProgress): Promise<string[]> {
    const hashes: string[] = new Array(passwords.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < passwords.length) {
        const index = next++;
        hashes[index] = await hasher.hash(passwords[index]);
        onProgress?.(++done, passwords.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, passwords.length) }, worker));
    return hashes;
  }

  return {
    /**
     * Validates every row with sign-up's schema (and its password policy where a row brings a password
     * rather than its hash), hashes those passwords, then inserts all users in one transaction. Any
     * problem (including an id, email or superhero name taken meanwhile by the running server) refuses
     * the whole file, naming each row at fault.
     */
    async import(rows: ImportRow[], onProgress?: ImportProgress): Promise<User[]> {
      const valid = await check(rows);
      const toHash = valid.filter((entry) => entry.passwordHash === undefined);
      const hashes = await hashAll(
        toHash.map((entry) => entry.password!),
        onProgress,
      );
      toHash.forEach((entry, index) => (entry.passwordHash = hashes[index]));
      const highestId = valid.reduce((highest, entry) => Math.max(highest, entry.user.id ?? 0), 0);
      return store.transaction(async (tx) => {
        await tx.lock([IMPORT_LOCK]);
        const now = clock.now();
        // PostgreSQL: before inserting, so that nodes signing users up meanwhile are numbered past the
        // file's ids (a sequence moves outside transactions: a file refused after this leaves a gap).
        if (highestId > 0) await tx.userBatches.raiseIdCounter(highestId);
        const inserted: User[] = new Array(rows.length);
        const taken: RowProblem[] = [];
        // Kept ids first, in statements of their own (SQLite numbers the other rows past them), each group
        // in email order: two imports naming the same emails wait for each other's rows in one order.
        const byEmail = (a: ValidRow, b: ValidRow) => (a.user.email < b.user.email ? -1 : 1);
        const groups = [valid.filter((entry) => entry.user.id !== undefined), valid.filter((entry) => entry.user.id === undefined)];
        for (const group of groups.map((entries) => entries.sort(byEmail))) {
          for (let start = 0; start < group.length; start += INSERT_BATCH) {
            const batch = group.slice(start, start + INSERT_BATCH).map(({ index, user, passwordHash }) => ({
              index,
              user: { ...user, passwordHash: passwordHash!, createdAt: user.createdAt ?? now, updatedAt: user.updatedAt ?? now },
            }));
            const went = new Map(
              (await tx.userBatches.insertKeptMany(batch.map(({ user }) => ({ ...user, superheroName: user.superheroName ?? randomSuperheroName() }))))
                .map((user) => [user.email, user]),
            );
            // A row left out one at a time: a superhero name drawn again, or the value taken meanwhile (here,
            // or by another node), which refuses the whole file.
            for (const { index, user } of batch) {
              const result = went.get(user.email) ?? (await tx.userBatches.insertKept(user, randomSuperheroName));
              if (typeof result === 'string') taken.push({ row: rows[index].row, email: user.email, fields: { [result]: [MESSAGES.taken[result]] } });
              else inserted[index] = result;
            }
          }
        }
        if (taken.length > 0) throw new ImportRejectedError(taken.sort((a, b) => a.row - b.row), rows.length);
        return inserted;
      });
    },
  };
}

export type UserImportService = ReturnType<typeof createUserImportService>;
