import { SidekickError } from '../errors.ts';

/**
 * The files users:import reads and users:export writes: JSON or CSV, as rows of raw values. Only the
 * shape is checked here; user-import.ts checks the values.
 */

/** One user as read from an import file: raw values, not yet checked. */
export interface ImportRow {
  /** 1-based position among the file's users (a CSV header is not counted). */
  row: number;
  values: Record<string, unknown>;
}

/**
 * Columns an import file may carry (users:export writes all but `password`, `date_of_birth` and the
 * aliases); anything else is a typo that would silently drop data.
 */
export const IMPORT_COLUMNS = [
  'id', 'email', 'password', 'password_hash', 'superhero_name', 'name', 'gender', 'preferences', 'dob', 'date_of_birth',
  'bio', 'phone_number', 'profile_picture', 'email_verified', 'is_active', 'is_staff', 'is_superuser', 'staff', 'superuser',
  'last_login', 'date_joined', 'updated_at',
] as const;

/** The top-level `format` of a users:export JSON file, and the newest `version` this Sidekick reads. */
export const EXPORT_FORMAT = 'sidekick-users';
export const EXPORT_VERSION = 1;

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true, '1': true, yes: true, y: true,
  false: false, '0': false, no: false, n: false, '': false,
};

/** true/false, 1/0, yes/no (any case); undefined for anything else, `absent` when there is no value. */
export function parseFlag(value: unknown, absent = false): boolean | undefined {
  if (value === undefined || value === null) return absent;
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

/** users:export's `{"format": "sidekick-users", "version": 1, …}`: a later version may mean other columns. */
function checkExportHeader(file: { format?: unknown; version?: unknown }): void {
  if (Array.isArray(file)) return;
  if (file.format !== undefined && file.format !== EXPORT_FORMAT) {
    throw fileError(`the JSON file's "format" is ${JSON.stringify(file.format)}, not "${EXPORT_FORMAT}"`);
  }
  if (file.version !== undefined && file.version !== EXPORT_VERSION) {
    throw fileError(`the file is version ${JSON.stringify(file.version)} of the ${EXPORT_FORMAT} format; this Sidekick reads version ${EXPORT_VERSION}`);
  }
}

/**
 * A JSON file (an array of objects, `{"users": [...]}`, or users:export's file) or a CSV file with a
 * header row, as rows.
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
    checkExportHeader(parsed as { format?: unknown; version?: unknown });
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

// ------------------------------------------------------------------------------------- kept columns

/** DRF's wording for these field types. */
