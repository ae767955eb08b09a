import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/port.ts';
import { SidekickError } from '../errors.ts';
import { createStore } from '../store/index.ts';
import type { User } from '../store/users.ts';
import { EXPORT_FORMAT, EXPORT_VERSION } from './user-file.ts';

/** The columns of an export, in order: what users:import reads back as it was. */
export const EXPORT_COLUMNS = [
  'id', 'email', 'password_hash', 'superhero_name', 'name', 'gender', 'preferences', 'dob', 'bio', 'phone_number',
  'profile_picture', 'email_verified', 'is_active', 'is_staff', 'is_superuser', 'last_login', 'date_joined', 'updated_at',
] as const;

export type ExportFormat = 'json' | 'csv';
type Cell = string | number | boolean | null;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * A user as exported: every column as stored, the password hash included (Sidekick's bcrypt, a hash kept
 * from a Django import, or an unusable `!…`), the picture as stored (a URL, or an uploaded file's name
 * under `<data>/media/`), times in ISO 8601 UTC.
 */
export function exportedUser(user: User) {
  return {
    id: user.id,
    email: user.email,
    password_hash: user.passwordHash,
    superhero_name: user.superheroName,
    name: user.name,
    gender: user.gender,
    preferences: user.preferences,
    dob: user.dob,
    bio: user.bio,
    phone_number: user.phoneNumber,
    profile_picture: user.profilePicture,
    email_verified: user.emailVerified,
    is_active: user.isActive,
    is_staff: user.isStaff,
    is_superuser: user.isSuperuser,
    last_login: iso(user.lastLoginAt),
    date_joined: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
  };
}

/** RFC 4180: a cell with a quote, comma or line break is quoted, its quotes doubled; null is empty. */
function csvCell(value: Cell): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: readonly Cell[]) => `${cells.map(csvCell).join(',')}\r\n`;

/** Users read per statement: keyset pages, so 100,000 users are never one result in memory. */
const PAGE = 1000;

export interface ExportOptions {
  format: ExportFormat;
  /** The export's time (its `exported_at`). */
  now: number;
  onProgress?: (done: number, total: number) => void;
}

/** Where the export goes, a piece at a time. */
export interface ExportSink {
  write(text: string): Promise<void>;
}

/**
 * Writes every user, in id order, to `sink` as JSON (`{"format": "sidekick-users", "version": 1,
 * "exported_at", "users": [...]}`, one user a line) or CSV (a header row, then a user a line). All pages
 * are read in one snapshot, so the export is consistent while the server writes. Answers the count.
 */
export async function writeUserExport(db: Database, sink: ExportSink, options: ExportOptions): Promise<number> {
  const store = createStore(db);
  return store.transaction(
    async (tx) => {
      const total = await tx.users.count();
      if (options.format === 'json') {
        const header = { format: EXPORT_FORMAT, version: EXPORT_VERSION, exported_at: new Date(options.now).toISOString() };
        await sink.write(`${JSON.stringify(header).slice(0, -1)},"users":[\n`);
      } else {
        await sink.write(csvLine(EXPORT_COLUMNS));
      }
      let done = 0;
      let after = 0;
      for (;;) {
        const page = await tx.userBatches.pageAfter(after, PAGE);
        if (page.length === 0) break;
        const rows = page.map(exportedUser);
        await sink.write(
          options.format === 'json'
            ? `${done === 0 ? '' : ',\n'}${rows.map((row) => JSON.stringify(row)).join(',\n')}`
            : rows.map((row) => csvLine(EXPORT_COLUMNS.map((column) => row[column]))).join(''),
        );
        done += page.length;
        after = page.at(-1)!.id;
        options.onProgress?.(done, total);
        if (page.length < PAGE) break;
      }
      if (options.format === 'json') await sink.write(`${done === 0 ? '' : '\n'}]}\n`);
      return done;
    },
    { snapshot: true },
  );
}

const sameFile = (a: string, b: string) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};

/**
 * The export into `file`, which only its owner may read (it holds every password hash): written beside
 * it under a temporary name created 0600, flushed to disk, then renamed over `file`, so `file` never
 * holds half an export. Missing folders are made, 0700.
 */
export async function exportUsersToFile(db: Database, file: string, options: ExportOptions): Promise<{ exported: number; file: string }> {
  const target = path.resolve(file);
  if (db.engine === 'sqlite' && ['', '-wal', '-shm', '-journal'].some((suffix) => sameFile(target, `${db.location}${suffix}`))) {
    throw new SidekickError('invalid', 'the export file cannot be the database itself');
  }
  if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new SidekickError('invalid', `${target} is a folder`);
  const dir = path.dirname(target);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const partial = path.join(dir, `.${path.basename(target)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await open(partial, 'wx', 0o600);
  let closed = false;
  try {
    const exported = await writeUserExport(db, { write: async (text) => void (await handle.write(text)) }, options);
    await handle.sync();
    await handle.close();
    closed = true;
    renameSync(partial, target);
    return { exported, file: target };
  } finally {
    if (!closed) await handle.close().catch(() => {});
    rmSync(partial, { force: true });
  }
}
