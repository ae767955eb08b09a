import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_DIR, manifest, sqliteSource } from '../helpers/django.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, type CliWorkspace } from './helpers/cli.ts';

describe('users:import-django as a subprocess', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('reports a dry run as JSON and writes nothing, then imports', async () => {
    w = await createCliWorkspace();
    const dry = await w.run(['users:import-django', sqliteSource('kitchen'), '--dry-run', '--media-dir', MEDIA_DIR, '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, original: 'kitchen', users: 8, tokens: 2, pictures: { copied: 1, dropped: 1 } });
    expect((await w.run(['users:list', '--json'])).stdout).not.toContain('kitchen.test');

    const real = await w.run(['users:import-django', sqliteSource('kitchen'), '--media-dir', MEDIA_DIR]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/Imported 8 users from the kitchen original/);
    expect(real.stdout).toMatch(/warning: id 2 \(Chef\.Gordon@Kitchen\.test\): profile picture dropped/);
    // Never a password, a hash or a token in the output.
    for (const user of manifest.kitchen.users) if (user.password) expect(real.stdout + real.stderr).not.toContain(user.password);
    for (const { key } of manifest.kitchen.tokens) expect(real.stdout + real.stderr).not.toContain(key);
    expect(real.stdout).not.toMatch(/pbkdf2_sha256\$/);
  });

  it('exits 2 naming the tables it expected for a database of neither original, and for case duplicates', async () => {
    w = await createCliWorkspace();
    expect((await w.run(['db:migrate'])).code).toBe(0);
    const other = await w.run(['users:import-django', path.join(w.dataDir, 'sidekick.db')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/expected users_user \(the accounts original.*authtoken_token \(the kitchen original/);
    const duplicates = await w.run(['users:import-django', sqliteSource('accounts-duplicates')]);
    expect(duplicates.code).toBe(2);
    expect(duplicates.stderr).toMatch(/Sam@Example\.com.*sam@example\.com.*differ only in case/);
  });
});
