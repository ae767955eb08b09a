/** Field errors in Django REST framework's shape: `{ field: [message, …] }`. */
export type FieldErrors = Record<string, string[]>;

/**
 * Every failure a service can report. The transports map a code to what they speak (an HTTP status,
 * an exit code) in one place each; the services never know which transport called them.
 */
export const ERROR_CODES = {
  invalid: { status: 400, exit: 2 },
  otp_invalid: { status: 400, exit: 2 },
  invalid_credentials: { status: 400, exit: 2 },
  parse_error: { status: 400, exit: 2 },
  reset_link_invalid: { status: 400, exit: 2 },
  not_authenticated: { status: 401, exit: 2 },
  authentication_failed: { status: 401, exit: 2 },
  token_not_valid: { status: 401, exit: 2 },
  no_active_account: { status: 401, exit: 2 },
  permission_denied: { status: 403, exit: 2 },
  not_found: { status: 404, exit: 3 },
  method_not_allowed: { status: 405, exit: 2 },
  payload_too_large: { status: 413, exit: 2 },
  unsupported_media_type: { status: 415, exit: 2 },
  throttled: { status: 429, exit: 2 },
  overloaded: { status: 503, exit: 4 },
  unavailable: { status: 503, exit: 66 },
  /** The database is locked by a writer that did not finish in time (SQLite's busy timeout, PostgreSQL's lock_timeout). */
  database_busy: { status: 503, exit: 75 },
  /** The database cannot be reached or opened. */
  database_unavailable: { status: 503, exit: 69 },
  /** The database file is damaged, or is not a database. */
  database_corrupt: { status: 500, exit: 66 },
  error: { status: 500, exit: 1 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SidekickError extends Error {
  readonly code: ErrorCode;
  readonly fields: FieldErrors | undefined;
  /** Seconds until the caller may try again (throttled, overloaded). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: { fields?: FieldErrors; retryAfter?: number } = {}) {
    super(message);
    this.name = 'SidekickError';
    this.code = code;
    this.fields = options.fields;
    this.retryAfter = options.retryAfter;
  }
}

export function validationError(fields: FieldErrors, code: ErrorCode = 'invalid'): SidekickError {
  const first = Object.entries(fields)[0];
  const message = first ? `${first[0]}: ${first[1].join(' ')}` : 'Invalid input.';
  return new SidekickError(code, message, { fields });
}

export function throttledError(retryAfter: number): SidekickError {
  const seconds = Math.max(1, Math.ceil(retryAfter));
  return new SidekickError('throttled', `Request was throttled. Expected available in ${seconds} seconds.`, {
    retryAfter: seconds,
  });
}

export const notFound = (message = 'Not found.') => new SidekickError('not_found', message);
