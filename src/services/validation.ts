import { z } from 'zod';
import { validationError, type FieldErrors } from '../errors.ts';
import { passwordProblems } from './password-policy.ts';

/** Django REST framework's wording, so existing clients keep matching on it. */
export const MESSAGES = {
  required: 'This field is required.',
  blank: 'This field may not be blank.',
  null: 'This field may not be null.',
  notString: 'Not a valid string.',
  email: 'Enter a valid email address.',
  url: 'Enter a valid URL.',
  date: 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.',
  pastDate: 'Date of birth must be in the past.',
  maxLength: (max: number) => `Ensure this field has no more than ${max} characters.`,
  // DRF's own wording for the NUL byte, which it refuses in every CharField.
  controlCharacters: 'Control characters are not allowed.',
  notObject: (got: string) => `Invalid data. Expected a dictionary, but got ${got}.`,
};

const typeError = (issue: { input?: unknown }) =>
  issue.input === undefined ? MESSAGES.required : issue.input === null ? MESSAGES.null : MESSAGES.notString;

const string = () => z.string({ error: typeError });
const maxLength = (max: number) => ({ error: MESSAGES.maxLength(max) });
/** Characters as DRF (Python's len) counts them: code points, not UTF-16 units, so an emoji is one. */
function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}
// No more UTF-16 units than `max` means no more code points: only longer text is counted.
const atMost = (max: number) => (value: string) => value.length <= max || codePoints(value) <= max;

/**
 * Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides: what
 * fakes lines or rewrites a terminal, a log or a page where the text is shown. Multi-line text (a bio)
 * keeps tab and line breaks.
 */
const SEPARATORS_AND_BIDI = '\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
/** A character class (without brackets) of every character unsafe to show as is; the CLI escapes them. */
export const UNSAFE_CHARACTERS = `\\p{Cc}${SEPARATORS_AND_BIDI}`;
const CONTROL = new RegExp(`[${UNSAFE_CHARACTERS}]`, 'u');
const CONTROL_BUT_LINES = new RegExp(`[^\\P{Cc}\\t\\n\\r]|[${SEPARATORS_AND_BIDI}]`, 'u');

/** Trimmed text, as DRF's CharField does; blank refused unless allowed; no control characters. */
export function text(max: number, options: { allowBlank?: boolean; multiline?: boolean } = {}) {
  const forbidden = options.multiline ? CONTROL_BUT_LINES : CONTROL;
  const base = string().trim();
  return (options.allowBlank ? base : base.min(1, { error: MESSAGES.blank, abort: true }))
    .refine((value) => !forbidden.test(value), { error: MESSAGES.controlCharacters, abort: true })
    .refine(atMost(max), maxLength(max))
    // For the OpenAPI document, which cannot read a refinement: JSON Schema counts code points too.
    .meta({ maxLength: max });
}

export const emailField = string()
  .trim()
  .min(1, { error: MESSAGES.blank, abort: true })
  .max(254, { ...maxLength(254), abort: true })
  .regex(z.regexes.email, { error: MESSAGES.email })
  .meta({ format: 'email', description: 'Stored and compared lower-cased.' })
  .transform((email) => email.toLowerCase());

/** Passwords are never trimmed: every character the user typed counts. */
export const passwordField = string()
  .min(1, { error: MESSAGES.blank, abort: true })
  .meta({
    description:
      "At least 8 characters, at most 72 bytes in UTF-8; not entirely numeric, not a common password, not the email's local part.",
  });

function isRealDate(value: string): boolean {
  const [year, month, day] = value.split('-').map(Number);
  if (year < 1) return false;
  // Not Date.UTC(year, …): it reads years 0–99 as 1900–1999, so 0001-01-01 would look unreal.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** `YYYY-MM-DD`, a date that exists and lies in the past. */
export function pastDateField(today: () => string) {
  return string()
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: MESSAGES.date, abort: true })
    .refine(isRealDate, { error: MESSAGES.date, abort: true })
    .refine((value) => value < today(), { error: MESSAGES.pastDate })
    .meta({ format: 'date', description: '`YYYY-MM-DD`, a real date in the past.' });
}

/** Whole years from `dob` to `day`, both `YYYY-MM-DD`: one more on each birthday. */
function ageOn(dob: string, day: string): number {
  const [by, bm, bd] = dob.split('-').map(Number);
  const [ty, tm, td] = day.split('-').map(Number);
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

/**
 * `SIDEKICK_MIN_AGE` (the accounts original ran with 18): a checked date of birth younger than that is
 * refused, at registration and at every later change. No date, no rule: it cannot tell.
 */
export function minimumAgeRule(minAge: number | undefined, today: () => string) {
  return (dob: string | null | undefined): void => {
    if (minAge === undefined || !dob || ageOn(dob, today()) >= minAge) return;
    throw validationError({ non_field_errors: [`You must be at least ${minAge} years old to register.`] });
  };
}

export const httpUrlField = (max: number) =>
  string()
    .trim()
    .max(max, { ...maxLength(max), abort: true })
    .refine((value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
      } catch {
        return false;
      }
    }, { error: MESSAGES.url });

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  return typeof value === 'string' ? 'str' : typeof value;
}

/**
 * Parses a request body against `schema`, throwing one validation error with every field's messages
 * in DRF's shape. `passwordKey` names a field to hold to the password policy as well.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  body: unknown,
  options: { passwordKey?: string; emailForPassword?: string } = {},
): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw validationError({ non_field_errors: [MESSAGES.notObject(describe(body))] });
  }
  const errors: FieldErrors = {};
  const add = (field: string, message: string) => {
    const list = (errors[field] ??= []);
    if (!list.includes(message)) list.push(message);
  };
  const result = schema.safeParse(body);
  if (!result.success) {
    for (const issue of result.error.issues) add(String(issue.path[0] ?? 'non_field_errors'), issue.message);
  }
  const { passwordKey } = options;
  const input = body as Record<string, unknown>;
  if (passwordKey && typeof input[passwordKey] === 'string' && input[passwordKey] !== '' && !errors[passwordKey]) {
    const email = options.emailForPassword ?? (typeof input.email === 'string' ? input.email.trim() : undefined);
    for (const problem of passwordProblems(input[passwordKey] as string, email)) add(passwordKey, problem);
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  return (result as { data: z.output<S> }).data;
}
