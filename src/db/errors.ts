import { SidekickError } from '../errors.ts';

/**
 * Driver errors in the one error model (errors.ts), so HTTP and the CLI map them once. Only failures of
 * the database itself are translated; a constraint broken or SQL refused is a bug and stays as it is,
 * to be logged whole.
 */
export function databaseError(error: unknown): unknown {
  if (error instanceof SidekickError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  const translated = fromSqlite(code) ?? fromPostgres(code, error);
  if (!translated) return error;
  Object.defineProperty(translated, 'cause', { value: error, configurable: true, writable: true });
  return translated;
}

function fromSqlite(code: string): SidekickError | undefined {
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new SidekickError('database_busy', 'the database is locked by another process; try again', { retryAfter: 1 });
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new SidekickError('database_corrupt', `the database file is not a healthy SQLite database (${code}): restore it from a backup`);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) return new SidekickError('database_unavailable', 'cannot open the database file');
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) {
    return new SidekickError('database_unavailable', `the database cannot be written (${code})`);
  }
  return undefined;
}

/** SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html */
function fromPostgres(code: string, error: Error): SidekickError | undefined {
  // 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout), 40001/40P01
  // serialization failure and deadlock: all pass once the other writer is done.
  if (code === '55P03' || code === '57014' || code === '40001' || code === '40P01') {
    return new SidekickError('database_busy', 'the database is busy; try again', { retryAfter: 1 });
  }
  // Class 08 connection exceptions, 57P01–57P03 shutdown and cannot-connect-now, 53 insufficient
  // resources (too many connections, disk full), 3D000 no such database, 28 authentication.
  if (/^(08|53|28)/.test(code) || /^57P0[123]$/.test(code) || code === '3D000') {
    return new SidekickError('database_unavailable', `the database is unavailable (${code}): ${error.message}`);
  }
  // The socket-level failures node reports before PostgreSQL can say anything.
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN)$/.test(code)) {
    return new SidekickError('database_unavailable', `the database cannot be reached (${code})`);
  }
  if (code === 'XX001' || code === 'XX002') {
    return new SidekickError('database_corrupt', `the database reports corrupt data (${code}): ${error.message}`);
  }
  return undefined;
}
