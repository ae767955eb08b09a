import { sql, type Engine, type Executor, type SqlValue } from '../db/port.ts';

/**
 * Whole tables, for copying a database between engines. The schema is the same on both (a test holds
 * them to it), so rows move column for column; what differs is where each engine keeps its id counters.
 */

/**
 * Every table with data, parents before children, each with the key its rows are read in order of;
 * `ids`: numbered by the database (an identity on PostgreSQL), `autoincrement`: on SQLite too, with a
 * counter that never goes back.
 */
export const COPIED_TABLES = [
  { name: 'users', key: 'id', ids: true, autoincrement: true },
  { name: 'sessions', key: 'id', ids: false, autoincrement: false },
  { name: 'revoked_jwts', key: 'jti', ids: false, autoincrement: false },
  { name: 'pending_registrations', key: 'email', ids: false, autoincrement: false },
  { name: 'throttle_events', key: 'id', ids: true, autoincrement: false },
  { name: 'outbox', key: 'id', ids: true, autoincrement: true },
] as const;

export type CopiedTable = (typeof COPIED_TABLES)[number];
export type Row = Record<string, SqlValue>;

const PAGE = 1000;
const firstPage = (table: CopiedTable) => sql<Row>(`SELECT * FROM ${table.name} ORDER BY ${table.key} LIMIT ${PAGE}`);
const nextPage = (table: CopiedTable) => sql<Row>(`SELECT * FROM ${table.name} WHERE ${table.key} > ? ORDER BY ${table.key} LIMIT ${PAGE}`);
const countOf = (table: CopiedTable) => sql<{ n: number }>(`SELECT count(*) AS n FROM ${table.name}`);

// The highest id ever handed out, deleted rows included: SQLite's AUTOINCREMENT keeps it in
// sqlite_sequence (throttle_events has none: its highest id is the highest row's); PostgreSQL's
// identity in its sequence.
const SQLITE_COUNTER = sql<{ n: number | null }>(
  'SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = @table), 0), coalesce(@highest, 0)) AS n',
);
const POSTGRES_COUNTER = sql<{ n: number | null }>(
  "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(@table, 'id')::regclass), 0) AS n",
);
const SQLITE_SET_COUNTER = sql(`INSERT INTO sqlite_sequence (name, seq) SELECT @table, @n
  WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = @table)`);
const SQLITE_RAISE_COUNTER = sql('UPDATE sqlite_sequence SET seq = @n WHERE name = @table AND seq < @n');
const POSTGRES_SET_COUNTER = sql("SELECT setval(pg_get_serial_sequence(@table, 'id'), @n)");
const HIGHEST_ID = (table: CopiedTable) => sql<{ n: number | null }>(`SELECT max(id) AS n FROM ${table.name}`);

export function createTableStore(db: Executor, engine: Engine) {
  return {
    count: async (table: CopiedTable) => (await db.get(countOf(table)))!.n,
    /** Rows in key order, a page at a time, so a large table is never held whole. */
    async *rows(table: CopiedTable): AsyncGenerator<Row[]> {
      let page = await db.all(firstPage(table));
      while (page.length > 0) {
        yield page;
        if (page.length < PAGE) return;
        page = await db.all(nextPage(table), [page.at(-1)![table.key]]);
      }
    },
    async insert(table: CopiedTable, rows: Row[]): Promise<void> {
      if (rows.length === 0) return;
      const columns = Object.keys(rows[0]);
      const insert = sql(`INSERT INTO ${table.name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
      for (const row of rows) await db.run(insert, columns.map((column) => row[column]));
    },
    /** The highest id the table ever handed out (0 if none). */
    async counter(table: CopiedTable): Promise<number> {
      const highest = (await db.get(HIGHEST_ID(table)))!.n;
      if (engine === 'sqlite') return (await db.get(SQLITE_COUNTER, { table: table.name, highest }))!.n ?? 0;
      return Math.max((await db.get(POSTGRES_COUNTER, { table: table.name }))!.n ?? 0, highest ?? 0);
    },
    /** New rows get ids above `n`, never one handed out before. */
    async setCounter(table: CopiedTable, n: number): Promise<void> {
      if (n <= 0) return;
      if (engine === 'sqlite') {
        if (!table.autoincrement) return;
        await db.run(SQLITE_SET_COUNTER, { table: table.name, n });
        await db.run(SQLITE_RAISE_COUNTER, { table: table.name, n });
      } else {
        await db.get(POSTGRES_SET_COUNTER, { table: table.name, n });
      }
    },
  };
}
