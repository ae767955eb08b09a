import type { OutboxEntry } from '../store/outbox.ts';
import { UNSAFE_CHARACTERS } from '../services/validation.ts';
import { exportedUser } from '../services/user-export.ts';
import type { User } from '../store/users.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What commands show of a user: what an export holds, but never the password hash. */
export function userJson(user: User) {
  const { password_hash: _hidden, ...shown } = exportedUser(user);
  return shown;
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

// The backslash too, so that an escape shown is never ambiguous with text that looks like one.
const ESCAPED = new RegExp(`[${UNSAFE_CHARACTERS}\\\\]`, 'gu');

/**
 * Text as a terminal may safely show it: control characters, separators and bidirectional overrides
 * (stored before they were refused, or imported) become visible escapes instead of moving the cursor,
 * faking lines or recolouring the screen.
 */
export function printable(text: string): string {
  return text.replace(ESCAPED, (character) => {
    if (character === '\\') return '\\\\';
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    const code = character.codePointAt(0)!;
    return named[character] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** `key: value` lines, keys aligned. */
export function describe(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value === null || value === '' ? '-' : printable(String(value))}`)
    .join('\n');
}

/** A plain text table; the last column is not padded. */
export function table(headers: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map(printable));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');
