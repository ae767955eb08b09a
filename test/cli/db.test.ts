import { sql } from '../../src/db/port.ts';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('db:* commands as subprocesses', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('db:migrate creates the database, then reports it up to date', async () => {
    w = await createCliWorkspace({ migrate: false });
    const first = await w.run(['db:migrate', '--json']);
    expect(first.code).toBe(0);
    expect(first.json()).toEqual({ database: path.join(w.dataDir, 'sidekick.db'), applied: [1, 2, 3, 4, 5, 6, 7], version: 7 });
    const again = await w.run(['db:migrate']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/is up to date \(schema version 7\)/);
  });

  it('refuses with exit 78 a database whose schema is newer than this Sidekick', async () => {
    w = await createCliWorkspace();
    const db = await openDatabase(path.join(w.dataDir, 'sidekick.db'));
    await db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-future.sql', 0)");
    await db.close();
    const result = failure(await w.run(['users:list']));
    expect(result.code).toBe(78);
    expect(result.lines).toEqual([expect.stringMatching(/^Error: the database schema is version 999/)]);
  });

  it('db:backup takes a consistent copy while a server writes, and the copy passes integrity_check', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    const { accounts } = sidekick.services;
    for (let i = 0; i < 5; i++) await accounts.createUser({ email: `seed${i}@example.com`, password: PASSWORD });

    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const user = await accounts.createUser({ email: `live${written}@example.com`, password: PASSWORD });
        await sidekick.services.credentials.issueOpaqueToken(user);
        written++;
      }
    })();
    const file = path.join(w.dataDir, 'backup.db');
    const result = await w.run(['db:backup', file, '--json']);
    writing = false;
    await writer;

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ database: path.join(w.dataDir, 'sidekick.db'), file, integrity: 'ok', bytes: expect.any(Number) });
    expect(written).toBeGreaterThan(0);
    const copy = await openDatabase(file);
    try {
      expect((await copy.all(sql('PRAGMA integrity_check')))).toEqual([{ integrity_check: 'ok' }]);
      const users = (await copy.get(sql('SELECT count(*) AS n FROM users')))!.n;
      expect(users).toBeGreaterThanOrEqual(5);
      expect(users).toBeLessThanOrEqual(5 + written);
    } finally {
      await copy.close();
    }
    // No partial file is left beside the copy.
    expect(readdirSync(w.dataDir).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('db:backup refuses to overwrite a file unless --force, and fails on a missing database', async () => {
    w = await createCliWorkspace();
    const file = path.join(w.dataDir, 'existing.db');
    writeFileSync(file, 'precious');
    const [refused, missing] = (
      await Promise.all([
        w.run(['db:backup', file]),
        w.run(['db:backup', path.join(w.dataDir, 'x.db')], { env: { SIDEKICK_DB: path.join(w.dataDir, 'absent.db') } }),
      ])
    ).map(failure);
    expect(refused).toMatchObject({ code: 2, lines: [`Error: ${file} already exists (pass --force to overwrite it)`] });
    expect(missing.code).toBe(66);
    expect(existsSync(path.join(w.dataDir, 'absent.db'))).toBe(false);

    const forced = await w.run(['db:backup', file, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/integrity ok/);
  });
});
