/**
 * Exit codes of every command, in one table. Services' errors map through ERROR_CODES in src/errors.ts
 * (2 invalid input, 3 not found, 4 overloaded); these cover what only the CLI meets.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  /** sysexits EX_NOINPUT: a missing database or an unreadable input file. */
  noInput: 66,
  /** sysexits EX_NOUSER: the mail server refused the recipient for good (mail:test). */
  noUser: 67,
  /** sysexits EX_UNAVAILABLE: a server Sidekick needs (the SMTP relay) cannot be reached or refused the exchange. */
  unavailable: 69,
  /** sysexits EX_TEMPFAIL: the database is locked, or the mail server answered 4xx; trying again later may work. */
  busy: 75,
  /** sysexits EX_CONFIG: a bad SIDEKICK_* value or a database newer than this Sidekick. */
  config: 78,
  /** The operator pressed Ctrl-C at a prompt. */
  interrupted: 130,
} as const;

/** A failure of the command line itself (a missing value, an unreadable file): one line, one exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
