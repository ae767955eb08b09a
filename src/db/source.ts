import { existsSync } from 'node:fs';
import { SidekickError } from '../errors.ts';
import { databaseError } from './errors.ts';
import { isPostgresUrl } from './database.ts';
import { withoutPassword } from './port.ts';
import { sqliteDriver, type SqliteConnection, type SqlValue } from './sqlite-driver.ts';

export type SourceValue = string | number | boolean | null | Date;
export type SourceRow = Record<string, SourceValue>;

/**
 * Another application's database, opened to read only (users:import-django): a SQLite file or a
 * PostgreSQL URL. Every read sees one snapshot, so a live original that keeps writing during the import
 * still gives a consistent picture. Nothing is ever written to it.
 */
export interface SourceDatabase {
  readonly engine: 'sqlite' | 'postgres';
  /** Where it is, without a password. */
  readonly location: string;
  /** Table name → its column names. */
  tables(): Promise<Map<string, Set<string>>>;
  all(text: string): Promise<SourceRow[]>;
  close(): Promise<void>;
}

const notFound = (location: string, why: string) => new SidekickError('not_found', `cannot open ${location}: ${why}`);

export async function openSourceDatabase(target: string): Promise<SourceDatabase> {
  return isPostgresUrl(target) ? openPostgresSource(target) : openSqliteSource(target);
}

async function openSqliteSource(file: string): Promise<SourceDatabase> {
  if (!existsSync(file)) throw notFound(file, 'no such file');
  let db: SqliteConnection;
  try {
    db = sqliteDriver.open(file, 5000, { readOnly: true });
    // One read transaction for the whole import: a snapshot, even with a writer on the file.
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_NOTADB') throw new SidekickError('invalid', `${file} is not a SQLite database`);
    throw databaseError(error);
  }
  const all = async (text: string, ...params: SqlValue[]) => {
    try {
      return db.prepare<SourceRow>(text).all(...params);
    } catch (error) {
      throw databaseError(error);
    }
  };
  return {
    engine: 'sqlite',
    location: file,
    async tables() {
      const tables = new Map<string, Set<string>>();
      for (const { name } of await all("SELECT name FROM sqlite_master WHERE type = 'table'")) {
        const columns = await all('SELECT name FROM pragma_table_info(?)', String(name));
        tables.set(String(name), new Set(columns.map((column) => String(column.name))));
      }
      return tables;
    },
    all: (text) => all(text),
    async close() {
      db.close();
    },
  };
}

async function openPostgresSource(url: string): Promise<SourceDatabase> {
  const { default: pg } = await import('pg');
  const location = withoutPassword(url);
  // Dates and numbers as text or numbers, never shifted into this machine's time zone: `date` stays
  // 'YYYY-MM-DD'; timestamps become Dates (they carry their zone); int8 ids become numbers.
  const types = {
    getTypeParser: ((oid: number, format?: string) => {
      if (oid === 1082) return (text: string) => text;
      if (oid === 20) return (text: string) => Number(text);
      return pg.types.getTypeParser(oid, format as 'text');
    }) as typeof pg.types.getTypeParser,
  };
  const client = new pg.Client({ connectionString: url, types, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (error) {
    await client.end().catch(() => {});
    throw databaseError(error);
  }
  const query = async (text: string, values: unknown[] = []) => {
    try {
      return (await client.query(text, values)).rows as SourceRow[];
    } catch (error) {
      throw databaseError(error);
    }
  };
  return {
    engine: 'postgres',
    location,
    async tables() {
      const rows = await query(
        `SELECT table_name, column_name FROM information_schema.columns
          WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
      );
      const tables = new Map<string, Set<string>>();
      for (const row of rows) {
        const name = String(row.table_name);
        if (!tables.has(name)) tables.set(name, new Set());
        tables.get(name)!.add(String(row.column_name));
      }
      return tables;
    },
    all: (text) => query(text),
    async close() {
      await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
    },
  };
}
