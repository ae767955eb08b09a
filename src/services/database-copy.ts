import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { isPostgresUrl, openDatabase, type Database } from '../db/database.ts';
import { loadMigrations, migrate, schemaVersion } from '../db/migrate.ts';
import { withoutPassword } from '../db/port.ts';
import { SidekickError } from '../errors.ts';
import { COPIED_TABLES, createTableStore } from '../store/tables.ts';

export interface CopyResult {
  from: string;
  to: string;
  /** Rows copied, by table. */
  rows: Record<string, number>;
}

/**
 * Copies every row of `source` into the database at `target` (an SQLite file, or a `postgres://` URL):
 * the target is migrated first and must hold no data. The source is read from one snapshot (writers
 * carry on meanwhile); the target is written in one transaction, row counts are compared before it
 * commits, and id counters are carried over, so an id handed out before (a deleted user's) is never
 * handed out again.
 */
export async function copyDatabase(source: Database, target: string): Promise<CopyResult> {
  const shownTarget = isPostgresUrl(target) ? withoutPassword(target) : path.resolve(target);
  if (!isPostgresUrl(target) && source.engine === 'sqlite' && existsSync(target) && sameFile(target, source.location)) {
    throw new SidekickError('invalid', 'the target is the database itself');
  }
  const latest = loadMigrations(source.engine).at(-1)?.version ?? 0;
  if ((await schemaVersion(source)) !== latest) {
    throw new SidekickError('invalid', `the source database is not at schema version ${latest}: run db:migrate on it first`);
  }
  const into = await openDatabase(target);
  try {
    await migrate(into);
    const rows: Record<string, number> = {};
    await source.transaction(
      async (read) => {
        const from = createTableStore(read, source.engine);
        await into.transaction(async (write) => {
          const to = createTableStore(write, into.engine);
          for (const table of COPIED_TABLES) {
            if ((await to.count(table)) > 0) {
              throw new SidekickError('invalid', `the target ${shownTarget} is not empty (its ${table.name} table has rows): copy into an empty database`);
            }
          }
          for (const table of COPIED_TABLES) {
            let copied = 0;
            for await (const page of from.rows(table)) {
              await to.insert(table, page);
              copied += page.length;
            }
            const [expected, written] = [await from.count(table), await to.count(table)];
            if (expected !== copied || written !== copied) {
              throw new SidekickError('error', `${table.name}: ${expected} rows in the source, ${copied} read, ${written} written; nothing was copied`);
            }
            if (table.ids) await to.setCounter(table, await from.counter(table));
            rows[table.name] = copied;
          }
        });
      },
      { snapshot: true },
    );
    return { from: source.location, to: shownTarget, rows };
  } finally {
    await into.close();
  }
}

const sameFile = (a: string, b: string) => {
  try {
    return statSync(a).ino === statSync(b).ino && statSync(a).dev === statSync(b).dev;
  } catch {
    return false;
  }
};
