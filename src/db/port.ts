import { createHash } from 'node:crypto';

/**
 * The one face of the database the stores and services see, whichever engine serves it: statements
 * written once (`sql`), run through an executor (the database, or an open transaction), all async.
 */

export type SqlValue = string | number | bigint | null | Uint8Array;
/** Positional values for `?`, or named values for `@name` (extra keys ignored, missing ones an error). */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

/** A statement for both engines: SQLite's text, and PostgreSQL's with `$n` placeholders. */
export interface Sql<Row = Record<string, SqlValue>> {
  readonly sqlite: string;
  readonly postgres: string;
  /** For named parameters: the name behind each `$n`, in order; undefined for positional ones. */
  readonly names: readonly string[] | undefined;
  /** A name for PostgreSQL's prepared statement, the same for the same text. */
  readonly id: string;
  /** Only carries the row type. */
  readonly row?: Row;
}

export interface Executor {
  get<Row>(query: Sql<Row>, params?: SqlParams): Promise<Row | undefined>;
  all<Row>(query: Sql<Row>, params?: SqlParams): Promise<Row[]>;
  /** Rows changed. */
  run(query: Sql<unknown>, params?: SqlParams): Promise<number>;
  /** Statements without parameters, one after another (migrations). */
  exec(text: string): Promise<void>;
  /**
   * Locks named by `keys` until the transaction ends. PostgreSQL takes an advisory lock per key, in one
   * order, so read-then-write rules on different rows (a throttle's count) cannot interleave; SQLite
   * needs none, as a transaction there is the only writer.
   */
  lock(keys: readonly string[]): Promise<void>;
}

export type Engine = 'sqlite' | 'postgres';

export interface TransactionOptions {
  /**
   * Reads only, every one of them from the same snapshot, writers not held up: SQLite's deferred BEGIN
   * (in WAL mode), PostgreSQL's REPEATABLE READ READ ONLY. For copies of the whole database.
   */
  snapshot?: boolean;
}

export interface Database extends Executor {
  readonly engine: Engine;
  /** Which driver serves this process (diagnostics only). */
  readonly driver: string;
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  /**
   * One transaction around `work`: SQLite's BEGIN IMMEDIATE, PostgreSQL's READ COMMITTED with locks made
   * explicit. `work` must hold nothing but SQL (hash and sign before): every statement in it goes
   * through `tx`.
   */
  transaction<T>(work: (tx: Executor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * A value that differs from the last one read whenever the data may have changed in between, by any
   * connection or process, read without a query; undefined where the engine offers none that is exact
   * (PostgreSQL: a notification arrives after the commit, so a cache it invalidates could answer from
   * before a logout another node already acknowledged).
   */
  readonly changeStamp: (() => string) | undefined;
  /** SQLite only: an online, consistent copy of the whole database into `file`. */
  backup(file: string): Promise<void>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------ statements

/**
 * `sql\`…\`` for both engines, or `sql(text, { postgres })` where PostgreSQL needs other words. The text
 * uses `?` or `@name` placeholders; PostgreSQL's `$n` are worked out here, once, when the module loads.
 */
export function sql<Row = Record<string, SqlValue>>(text: string, variants: { postgres?: string } = {}): Sql<Row> {
  const postgres = numberPlaceholders(variants.postgres ?? text);
  return Object.freeze({
    sqlite: text,
    postgres: postgres.text,
    names: postgres.names,
    id: `sk_${createHash('sha1').update(postgres.text).digest('hex').slice(0, 20)}`,
  });
}

/** PostgreSQL's values for `query` in the order of its `$n`. */
export function postgresValues(query: Sql<unknown>, params: SqlParams | undefined): SqlValue[] {
  if (params === undefined) return [];
  if (isPositional(params)) return params as SqlValue[];
  return query.names!.map((name) => {
    const value = (params as Record<string, SqlValue>)[name];
    if (value === undefined) throw new RangeError(`Missing named parameter "${name}"`);
    return value;
  });
}

export const isPositional = (params: SqlParams): params is readonly SqlValue[] => Array.isArray(params);

/** `?` → `$1, $2, …` in order; `@name` → one `$n` per distinct name. Literals, quoted names and comments skipped. */
function numberPlaceholders(text: string): { text: string; names: string[] | undefined } {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end === -1 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '?') {
      out += `$${++positional}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      let j = i + 1;
      while (/[A-Za-z0-9_]/.test(text[j] ?? '')) j++;
      const name = text.slice(i + 1, j);
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      out += `$${index + 1}`;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  if (positional > 0 && names.length > 0) throw new Error(`a statement mixes ? and @name placeholders: ${text}`);
  return { text: out, names: names.length > 0 ? names : undefined };
}

/** A database URL as it may be shown: its password replaced by `***`. */
export const withoutPassword = (url: string) => url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
