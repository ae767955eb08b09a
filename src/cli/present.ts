import type { OutboxEntry } from '../store/outbox.ts';
import type { User } from '../store/users.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What commands show of a user: never the password hash. */
export function userJson(user: User) {
  return {
    id: user.id,
    email: user.email,
    superhero_name: user.superheroName,
    name: user.name,
    gender: user.gender,
    preferences: user.preferences,
    dob: user.dob,
    bio: user.bio,
    phone_number: user.phoneNumber,
    profile_picture: user.profilePicture,
    is_active: user.isActive,
    is_staff: user.isStaff,
    is_superuser: user.isSuperuser,
    last_login: iso(user.lastLoginAt),
    date_joined: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
  };
}

export type UserJson = ReturnType<typeof userJson>;

/** What an operator sees of a queued mail: never its body, which may carry a live code or link. */
export function mailJson(entry: OutboxEntry) {
  return {
    id: entry.id,
    to: entry.recipient,
    subject: entry.subject,
    status: entry.status,
    attempts: entry.attempts,
    next_attempt_at: entry.status === 'pending' ? iso(entry.nextAttemptAt) : null,
    last_error: entry.lastError,
    created_at: iso(entry.createdAt),
    sent_at: iso(entry.sentAt),
  };
}

/** `key: value` lines, keys aligned. */
export function describe(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value === null || value === '' ? '-' : String(value)}`)
    .join('\n');
}

/** A plain text table; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');
