import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Database } from './port.ts';
import type { PostgresOptions } from './postgres.ts';
import { openSqlite } from './sqlite.ts';

export type { Database, Executor, Sql, SqlParams, SqlValue } from './port.ts';
export { sql } from './port.ts';

export const isPostgresUrl = (target: string) => /^postgres(ql)?:\/\//i.test(target);

/** PostgreSQL for a `postgres://` URL, else the SQLite file at `target` (its folder made if missing). */
export async function openDatabase(target: string, options: PostgresOptions = {}): Promise<Database> {
  // Loaded only when asked for: an SQLite deployment never loads the PostgreSQL driver.
  if (isPostgresUrl(target)) return (await import('./postgres.ts')).openPostgres(target, options);
  if (target !== ':memory:' && !target.startsWith('file:')) mkdirSync(path.dirname(target), { recursive: true });
  return openSqlite(target);
}
