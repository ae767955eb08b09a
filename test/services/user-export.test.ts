import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/port.ts';
import { exportedUser, exportUsersToFile, writeUserExport, type ExportFormat } from '../../src/services/user-export.ts';
import { parseUserFile, type ImportRow } from '../../src/services/user-file.ts';
import { createUserImportService, ImportRejectedError } from '../../src/services/user-import.ts';
import { createStore, type Store } from '../../src/store/index.ts';
import type { RestoredUser } from '../../src/store/user-batches.ts';
import type { User } from '../../src/store/users.ts';
import { ROOT } from '../cli/helpers/build.ts';
import { passwordWorks } from '../helpers/passwords.ts';
import { bothEngines, type TestEngine } from '../helpers/postgres.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
// The shape of a Django hash, for the round trip only: nobody logs in with it.
const DJANGO_HASH = `pbkdf2_sha256$870000$salt$${'Q'.repeat(43)}=`;
const UNUSABLE_HASH = `!${'x7'.repeat(20)}`;
const BCRYPT_SHAPE = `$2b$12$${'a'.repeat(53)}`;
const STORED_PICTURE = `${'0123456789abcdef'.repeat(2)}.png`;

const rowsOf = (values: Record<string, unknown>[]): ImportRow[] => values.map((v, i) => ({ row: i + 1, values: v }));
const kept = (fields: Partial<RestoredUser> & { email: string }): RestoredUser => ({
  passwordHash: BCRYPT_SHAPE,
  isActive: true,
  lastLoginAt: null,
  createdAt: Date.UTC(2025, 0, 1),
  updatedAt: Date.UTC(2025, 0, 1),
  ...fields,
});

/** Every user in id order, as the store reads them. */
async function allUsers(store: Store): Promise<User[]> {
  const users: User[] = [];
  for (let page = await store.userBatches.pageAfter(0, 1000); page.length > 0; page = await store.userBatches.pageAfter(page.at(-1)!.id, 1000)) {
    users.push(...page);
  }
  return users;
}

describe.each(bothEngines())('users:export and users:import on %s', (engine: TestEngine) => {
  const opened: TestSidekick[] = [];
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close();
  });
  async function sidekick(): Promise<TestSidekick & { store: Store }> {
    const t = await createTestSidekick({}, { engine });
    opened.push(t);
    return Object.assign(t, { store: createStore(t.sidekick.db) });
  }

  /** Users with every kind of value an export must carry: hashes of three kinds, a gap in the ids, odd text. */
  async function seed(t: TestSidekick & { store: Store }): Promise<void> {
    const { accounts } = t.sidekick.services;
    const ada = await accounts.createUser({ email: 'ada@example.com', password: PASSWORD, name: 'Ada, "the" first', isStaff: true });
    t.clock.advanceSeconds(61);
    await accounts.updateKitchenProfile(ada, {
      bio: 'Line one,\nline "two"\r\nand, three',
      phone_number: '+44 20 7946 0958',
      date_of_birth: '1815-12-10',
      profile_picture: 'https://example.com/ada.png?size=1,2',
    });
    await accounts.updateAccountsProfile(ada, { gender: 'Female', preferences: 'Engines; looms' });
    await t.store.users.recordLogin(ada.id, t.clock.now() + 1234);
    await accounts.createUser({ email: 'gone@example.com', password: PASSWORD });
    await accounts.deleteByEmail('gone@example.com');
    const cid = await accounts.createUser({ email: 'cid@example.com', password: PASSWORD, isSuperuser: true, name: 'Ünïcødé 🦸' });
    await accounts.updateAdmin(cid.email, { isActive: false });
    const inserted = [
      kept({ email: 'dee@example.com', passwordHash: DJANGO_HASH, superheroName: 'WonderWoman_c55436', emailVerified: true, lastLoginAt: Date.UTC(2024, 4, 1, 8, 30, 0, 5) }),
      kept({ email: 'eve@example.com', passwordHash: UNUSABLE_HASH, profilePicture: STORED_PICTURE, dob: '2000-02-29', isActive: false }),
    ];
    for (const user of inserted) expect(typeof (await t.store.userBatches.insertKept(user, () => `hero_${user.email.length}`))).toBe('object');
  }

  async function exportText(t: TestSidekick, format: ExportFormat): Promise<string> {
    const file = path.join(t.dataDir, `export.${format}`);
    await exportUsersToFile(t.sidekick.db, file, { format, now: t.clock.now() });
    return readFileSync(file, 'utf8');
  }

  for (const format of ['json', 'csv'] as const) {
    it(`reads its own ${format} export back into a fresh database, every user identical field by field`, async () => {
      const source = await sidekick();
      await seed(source);
      const before = await allUsers(source.store);
      expect(before.map((user) => user.email)).toEqual(['ada@example.com', 'cid@example.com', 'dee@example.com', 'eve@example.com']);
      expect(before.map((user) => user.id)).toEqual([1, 3, 4, 5]);
      const first = await exportText(source, format);

      const target = await sidekick();
      target.clock.advanceSeconds(86_400);
      const imported = await target.sidekick.services.userImport.import(parseUserFile(first, format));
      expect(imported.map((user) => user.id)).toEqual([1, 3, 4, 5]);
      const after = await allUsers(target.store);
      expect(after).toEqual(before);
      for (const [i, user] of after.entries()) expect(exportedUser(user), user.email).toEqual(exportedUser(before[i]));

      // Exported again, the same file (JSON: but for the time of the export).
      target.clock.advance(source.clock.now() - target.clock.now());
      expect(await exportText(target, format)).toBe(first);
      expect(first).toContain(DJANGO_HASH);
      expect(await passwordWorks(target.sidekick, 'ada@example.com', PASSWORD)).toBe(true);
    });
  }

  it('numbers users created after an import past the highest id it kept', async () => {
    const t = await sidekick();
    const hashes = ['a', 'b', 'c', 'd'].map((name) => ({ email: `${name}@example.com`, password_hash: BCRYPT_SHAPE }));
    // In email order a row without an id would come first and be numbered 1, the id the next row keeps.
    const imported = await t.sidekick.services.userImport.import(rowsOf([hashes[0], { ...hashes[1], id: 1 }, { ...hashes[2], id: 40 }, hashes[3]]));
    expect(imported.map((user) => user.id)).toEqual([41, 1, 40, 42]);
    const next = await t.sidekick.services.accounts.createUser({ email: 'next@example.com', password: PASSWORD });
    expect(next.id).toBe(43);
  });

  it('refuses the whole file when a kept id, email or superhero name is taken, naming each row, and writes nothing', async () => {
    const t = await sidekick();
    await t.store.userBatches.insertKept(kept({ id: 5, email: 'old@example.com', superheroName: 'batman_0000001' }), () => 'unused');
    const rows = rowsOf([
      { email: 'fine@example.com', password_hash: BCRYPT_SHAPE, id: 9 },
      { email: 'new@example.com', password_hash: BCRYPT_SHAPE, id: 5 },
      { email: 'OLD@example.com', password_hash: BCRYPT_SHAPE },
      { email: 'hero@example.com', password_hash: BCRYPT_SHAPE, superhero_name: 'batman_0000001' },
      { email: 'twin@example.com', password_hash: BCRYPT_SHAPE, id: 9 },
    ]);
    const error = await t.sidekick.services.userImport.import(rows).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportRejectedError);
    expect((error as ImportRejectedError).rows).toEqual([
      { row: 2, email: 'new@example.com', fields: { id: ['User with this id already exists.'] } },
      { row: 3, email: 'old@example.com', fields: { email: ['User with email already exists.'] } },
      { row: 4, email: 'hero@example.com', fields: { superhero_name: ['User with this superhero name already exists.'] } },
      { row: 5, email: 'twin@example.com', fields: { id: ['Same id as row 1.'] } },
    ]);
    expect((await allUsers(t.store)).map((user) => user.email)).toEqual(['old@example.com']);
  });

  it('refuses the whole file when a value is taken between its check and its transaction', async () => {
    const t = await sidekick();
    await t.store.userBatches.insertKept(kept({ id: 5, email: 'old@example.com', superheroName: 'batman_0000001' }), () => 'unused');
    // A check that saw nothing taken, as when another node inserts the rows just after it.
    const blind: Store = { ...t.store, userBatches: { ...t.store.userBatches, emailsTaken: async () => new Set(), idsTaken: async () => new Set(), superheroNamesTaken: async () => new Set() } };
    const service = createUserImportService({ store: blind, hasher: t.sidekick.hasher, accounts: t.sidekick.services.accounts, clock: t.clock });
    const fillers = Array.from({ length: 700 }, (_, i) => ({ email: `u${String(i).padStart(3, '0')}@example.com`, password_hash: BCRYPT_SHAPE, id: 100 + i }));
    const error = await service
      .import(rowsOf([...fillers, { email: 'new@example.com', password_hash: BCRYPT_SHAPE, id: 5 }, { email: 'old@example.com', password: PASSWORD }, { email: 'hero@example.com', password_hash: BCRYPT_SHAPE, superhero_name: 'batman_0000001' }]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportRejectedError);
    expect((error as ImportRejectedError).rows.map((problem) => [problem.row, Object.keys(problem.fields)])).toEqual([
      [701, ['id']],
      [702, ['email']],
      [703, ['superhero_name']],
    ]);
    expect((await allUsers(t.store)).map((user) => user.email)).toEqual(['old@example.com']);
  });

  it('refuses a row with both a password and a hash, or a hash it cannot verify, with a field error', async () => {
    const t = await sidekick();
    const rows = rowsOf([
      { email: 'both@example.com', password: PASSWORD, password_hash: BCRYPT_SHAPE },
      { email: 'junk@example.com', password_hash: 'md5$abc$def' },
      { email: 'short@example.com', password_hash: '$2b$12$tooshort' },
      { email: 'slow@example.com', password_hash: `pbkdf2_sha256$999999999$salt$${'Q'.repeat(43)}=` },
      { email: 'number@example.com', password_hash: 12345 },
      { email: 'space@example.com', password_hash: `!abc def` },
      { email: 'neither@example.com' },
      { email: 'ok@example.com', password_hash: UNUSABLE_HASH },
    ]);
    const error = (await t.sidekick.services.userImport.import(rows).catch((e: unknown) => e)) as ImportRejectedError;
    expect(error).toBeInstanceOf(ImportRejectedError);
    const byRow = Object.fromEntries(error.rows.map((problem) => [problem.row, problem.fields]));
    expect(byRow[1]).toEqual({ password_hash: ['Give either password or password_hash, not both.'] });
    for (const row of [2, 3, 4, 5, 6]) expect(byRow[row], `row ${row}`).toEqual({ password_hash: [expect.stringMatching(/^Not a password hash Sidekick can verify/)] });
    expect(byRow[7]).toEqual({ password: ['This field is required.'] });
    expect(byRow[8]).toBeUndefined();
    expect(error.rows).toHaveLength(7);
    expect(await t.store.users.count()).toBe(0);
  });

  it('checks kept columns as the rest: ids, times, flags and names', async () => {
    const t = await sidekick();
    const rows = rowsOf([
      { email: 'a@example.com', password_hash: BCRYPT_SHAPE, id: 0, last_login: 'yesterday', is_active: 'maybe' },
      { email: 'b@example.com', password_hash: BCRYPT_SHAPE, id: '12x', date_joined: '2024-02-30T00:00:00Z', email_verified: 'sometimes' },
      { email: 'c@example.com', password_hash: BCRYPT_SHAPE, superhero_name: ' ', updated_at: '2024-01-01T00:00:00' },
    ]);
    const error = (await t.sidekick.services.userImport.import(rows).catch((e: unknown) => e)) as ImportRejectedError;
    expect(error.rows.map((problem) => [problem.row, Object.keys(problem.fields).sort()])).toEqual([
      [1, ['id', 'is_active', 'last_login']],
      [2, ['date_joined', 'email_verified', 'id']],
      [3, ['superhero_name', 'updated_at']],
    ]);
    // Times with an offset or more digits than milliseconds are read as the moment they name.
    const [user] = await t.sidekick.services.userImport.import(
      rowsOf([{ email: 'd@example.com', password_hash: BCRYPT_SHAPE, id: '12', date_joined: '2024-05-01T14:00:00.123456+02:00', is_active: 'false' }]),
    );
    expect(user).toMatchObject({ id: 12, createdAt: Date.UTC(2024, 4, 1, 12, 0, 0, 123), isActive: false, emailVerified: false });
  });

  it('refuses a JSON file of another format or a later version', () => {
    expect(() => parseUserFile('{"format":"other","users":[{}]}', 'json')).toThrow(/"format" is "other", not "sidekick-users"/);
    expect(() => parseUserFile('{"format":"sidekick-users","version":2,"users":[{}]}', 'json')).toThrow(/version 2 of the sidekick-users format/);
  });

  it('exports one snapshot, page by page, while other connections write', async () => {
    const t = await sidekick();
    const users = Array.from({ length: 2500 }, (_, i) => ({ email: `u${i}@example.com`, password_hash: BCRYPT_SHAPE }));
    await t.sidekick.services.userImport.import(rowsOf(users));
    const writes: string[] = [];
    let wrote = false;
    const sink = {
      async write(text: string) {
        writes.push(text);
        if (wrote) return;
        wrote = true;
        // Another writer, between the first page and the rest: the export must not see it.
        await writeElsewhere(t, engine, ["DELETE FROM users WHERE id IN (1, 2400)", `UPDATE users SET name = 'changed' WHERE id = 2000`]);
      },
    };
    const progress: number[] = [];
    const exported = await writeUserExport(t.sidekick.db, sink, { format: 'json', now: t.clock.now(), onProgress: (done) => progress.push(done) });
    expect(exported).toBe(2500);
    expect(progress).toEqual([1000, 2000, 2500]);
    expect(writes.length).toBe(5); // header, three pages, end
    const file = JSON.parse(writes.join(''));
    expect(file.users.map((user: { id: number }) => user.id)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(file.users[1999].name).toBe('');
    expect(await t.store.users.count()).toBe(2498);
  });

  it('writes the file mode 0600 through a temporary name, and a failed export leaves the old file and no partial', async () => {
    const t = await sidekick();
    await t.sidekick.services.userImport.import(rowsOf(Array.from({ length: 1500 }, (_, i) => ({ email: `u${i}@example.com`, password_hash: BCRYPT_SHAPE }))));
    const dir = path.join(t.dataDir, 'exports', 'nightly');
    const file = path.join(dir, 'users.json');
    const result = await exportUsersToFile(t.sidekick.db, file, { format: 'json', now: t.clock.now() });
    expect(result).toEqual({ exported: 1500, file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    writeFileSync(file, 'the previous export');
    let pages = 0;
    const failing: Database = {
      ...t.sidekick.db,
      transaction: (work, options) =>
        t.sidekick.db.transaction(
          (tx) =>
            work({
              ...tx,
              all: (query, params) => (++pages === 2 ? Promise.reject(new Error('the disk is on fire')) : tx.all(query, params)),
            }),
          options,
        ),
    };
    await expect(exportUsersToFile(failing, file, { format: 'csv', now: t.clock.now() })).rejects.toThrow('the disk is on fire');
    expect(pages).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe('the previous export');
    expect(readdirSync(dir)).toEqual(['users.json']);
  });

  it('never writes the export over the database file', async () => {
    if (engine !== 'sqlite') return;
    const t = await sidekick();
    await expect(exportUsersToFile(t.sidekick.db, t.sidekick.db.location, { format: 'json', now: 0 })).rejects.toThrow(/cannot be the database itself/);
  });
});

/** Runs `statements` on the database through a connection of another process (SQLite) or another client (PostgreSQL). */
async function writeElsewhere(t: TestSidekick, engine: TestEngine, statements: string[]): Promise<void> {
  if (engine === 'sqlite') {
    const script = `const db = new (require('better-sqlite3'))(process.argv[1]); db.pragma('busy_timeout = 2000'); for (const s of JSON.parse(process.argv[2])) db.prepare(s).run(); db.close();`;
    execFileSync(process.execPath, ['-e', script, t.sidekick.db.location, JSON.stringify(statements)], { cwd: ROOT, stdio: 'pipe' });
    return;
  }
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: t.config.databaseUrl });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
