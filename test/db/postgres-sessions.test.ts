import { describe, expect, it } from 'vitest';
import { openDatabase, sql } from '../../src/db/database.ts';
import { SESSION_SETTINGS } from '../../src/db/postgres.ts';
import { freshPostgresDatabase, postgresMissing } from '../helpers/postgres.ts';

describe.skipIf(postgresMissing() !== undefined)('PostgreSQL connections', () => {
  it('carry the timeouts that keep one stuck node or statement from holding the others up', async () => {
    const db = await openDatabase(await freshPostgresDatabase());
    try {
      for (const [name, value] of Object.entries(SESSION_SETTINGS)) {
        // On the pool and inside a transaction (its own pooled connection) alike.
        expect((await db.get(sql(`SHOW ${name}`)))?.[name], name).toBe(value);
        expect(await db.transaction((tx) => tx.get(sql(`SHOW ${name}`))), name).toEqual({ [name]: value });
      }
      expect(SESSION_SETTINGS.idle_in_transaction_session_timeout).toBe('5s');
    } finally {
      await db.close();
    }
  });

  it('turns a statement cut off by statement_timeout into a retryable busy answer', async () => {
    const db = await openDatabase(await freshPostgresDatabase());
    try {
      const slow = db.transaction(async (tx) => {
        await tx.exec("SET LOCAL statement_timeout = '50ms'");
        await tx.get(sql('SELECT pg_sleep(1)'));
      });
      await expect(slow).rejects.toMatchObject({ code: 'database_busy', retryAfter: 1 });
    } finally {
      await db.close();
    }
  });
});
