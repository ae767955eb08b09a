import { SidekickError, type FieldErrors } from '../errors.ts';
import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';
import type { AccountService, ValidNewUser } from './accounts.ts';
import type { Clock } from './clock.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { emailTaken } from './registration.ts';
import { randomSuperheroName } from './superhero.ts';

/** One user as read from an import file: raw values, not yet checked. */
export interface ImportRow {
  /** 1-based position among the file's users (a CSV header is not counted). */
  row: number;
  values: Record<string, unknown>;
}

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

/** Columns an import file may carry; anything else is a typo that would silently drop data. */
export const IMPORT_COLUMNS = [
  'email', 'password', 'name', 'gender', 'preferences', 'dob', 'date_of_birth', 'bio', 'profile_picture',
  'is_staff', 'is_superuser', 'staff', 'superuser',
] as const;

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true, '1': true, yes: true, y: true,
  false: false, '0': false, no: false, n: false, '': false,
};

function parseFlag(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') return BOOLEAN_WORDS[value.trim().toLowerCase()];
  return undefined;
}

const fileError = (message: string) => new SidekickError('invalid', message);

/** ` (line L, column C)` for a JSON.parse failure that names a position, else what little is safe to say. */
function jsonErrorPlace(text: string, message: string): string {
  const position = /position (\d+)/.exec(message);
  if (!position) return /end of JSON input/i.test(message) ? ' (it ends too early)' : '';
  const before = text.slice(0, Number(position[1])).split('\n');
  return ` (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}

/**
 * A JSON file (an array of objects, or `{"users": [...]}`) or a CSV file with a header row, as rows.
 * Only the shape is checked here; the values are checked by `import`.
 */
export function parseUserFile(text: string, format: 'json' | 'csv'): ImportRow[] {
  const body = text.replace(/^\uFEFF/, '');
  let records: unknown[];
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      // Only where: V8's message quotes the text around the fault, which may be somebody's password.
      throw fileError(`the file is not valid JSON${jsonErrorPlace(body, (error as Error).message)}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { users?: unknown } | null)?.users;
    if (!Array.isArray(list)) throw fileError('a JSON import file must be an array of users or {"users": [...]}');
    records = list;
  } else {
    records = csvRecords(body);
  }
  if (records.length === 0) throw fileError('the file holds no users');
  return records.map((values, index) => ({ row: index + 1, values: values as Record<string, unknown> }));
}

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function csvRecords(text: string): Record<string, string>[] {
  const table: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        field += char;
      }
    } else if (char === '"' && field === '') {
      quoted = true;
    } else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      table.push(record);
      record = [];
      field = '';
    } else {
      field += char;
    }
  }
  if (quoted) throw fileError('the CSV file ends inside a quoted field');
  if (field !== '' || record.length > 0) {
    record.push(field);
    table.push(record);
  }
  const rows = table.filter((cells) => cells.some((cell) => cell.trim() !== ''));
  const header = rows.shift()?.map((name) => name.trim().toLowerCase());
  if (!header) throw fileError('the CSV file is empty');
  const unknown = header.filter((name) => !(IMPORT_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw fileError(`unknown CSV column ${unknown.map((name) => `"${name}"`).join(', ')} (known: ${IMPORT_COLUMNS.join(', ')})`);
  }
  return rows.map((cells, index) => {
    if (cells.length !== header.length) {
      throw fileError(`CSV row ${index + 1} has ${cells.length} fields but the header has ${header.length}`);
    }
    const values: Record<string, string> = {};
    header.forEach((name, column) => {
      // An empty cell means "not given", so optional fields keep their defaults.
      if (cells[column] !== '') values[name] = cells[column];
    });
    return values;
  });
}

export interface UserImportDeps {
  store: Store;
  hasher: PasswordHasher;
  accounts: Pick<AccountService, 'validateNewUser'>;
  clock: Clock;
}

export interface ImportProgress {
  (hashed: number, total: number): void;
}

/** Bulk creation for scripted demo environments: every row or none. */
export function createUserImportService(deps: UserImportDeps) {
  const { store, hasher, accounts, clock } = deps;

  async function check(rows: ImportRow[]): Promise<ValidNewUser[]> {
    const problems: RowProblem[] = [];
    const valid: ValidNewUser[] = [];
    const seen = new Map<string, number>();
    for (const { row, values } of rows) {
      const email = typeof values?.email === 'string' ? values.email.trim().toLowerCase() : undefined;
      const fields: FieldErrors = {};
      if (typeof values !== 'object' || values === null || Array.isArray(values)) {
        problems.push({ row, email, fields: { non_field_errors: ['Expected an object with the user\'s fields.'] } });
        continue;
      }
      for (const key of Object.keys(values)) {
        if (!(IMPORT_COLUMNS as readonly string[]).includes(key)) fields[key] = ['Unknown field.'];
      }
      const isStaff = parseFlag(values.is_staff ?? values.staff);
      const isSuperuser = parseFlag(values.is_superuser ?? values.superuser);
      if (isStaff === undefined) fields.is_staff = ['Must be a valid boolean.'];
      if (isSuperuser === undefined) fields.is_superuser = ['Must be a valid boolean.'];
      try {
        const checked = accounts.validateNewUser(values, { isStaff, isSuperuser });
        const earlier = seen.get(checked.user.email);
        if (earlier !== undefined) {
          fields.email = [`Same email as row ${earlier}.`];
        } else {
          seen.set(checked.user.email, row);
          if (await store.users.emailExists(checked.user.email)) fields.email = emailTaken().fields!.email;
        }
        if (Object.keys(fields).length === 0) valid.push(checked);
      } catch (error) {
        if (!(error instanceof SidekickError) || !error.fields) throw error;
        Object.assign(fields, error.fields);
      }
      if (Object.keys(fields).length > 0) problems.push({ row, email, fields });
    }
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
     * Validates every row with sign-up's schema and password policy, hashes every password, then
     * inserts all users in one transaction. Any problem (including an email registered
     * meanwhile by the running server) refuses the whole file, naming each row at fault.
     */
    async import(rows: ImportRow[], onProgress?: ImportProgress): Promise<User[]> {
      const valid = await check(rows);
      const hashes = await hashAll(
        valid.map((entry) => entry.password),
        onProgress,
      );
      return store.transaction(async (tx) => {
        const now = clock.now();
        const inserted: User[] = new Array(valid.length);
        const taken: RowProblem[] = [];
        // In email order: two imports naming the same emails wait for each other's rows in one order, so
        // they queue instead of deadlocking (PostgreSQL). An email registered meanwhile (here, or by
        // another node) inserts nothing, and the whole file is refused.
        const order = valid.map((_, index) => index).sort((a, b) => (valid[a].user.email < valid[b].user.email ? -1 : 1));
        for (const index of order) {
          const user = await tx.users.insert({ ...valid[index].user, passwordHash: hashes[index] }, now, randomSuperheroName);
          if (user) inserted[index] = user;
          else taken.push({ row: rows[index].row, email: valid[index].user.email, fields: emailTaken().fields! });
        }
        if (taken.length > 0) throw new ImportRejectedError(taken.sort((a, b) => a.row - b.row), rows.length);
        return inserted;
      });
    },
  };
}

export type UserImportService = ReturnType<typeof createUserImportService>;
