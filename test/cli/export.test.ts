import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, postgresMissing } from '../helpers/postgres.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, runInTerminal, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
// The shape of a Django hash, for the round trip only: nobody logs in with it.
const DJANGO_HASH = `pbkdf2_sha256$870000$salt$${'Q'.repeat(43)}=`;
const BCRYPT_SHAPE = `$2b$12$${'a'.repeat(53)}`;

const SEED = [
  { email: 'ada@example.com', password: PASSWORD, name: 'Ada, "the" first', bio: 'Two\nlines', dob: '1815-12-10', is_staff: true },
  { id: 17, email: 'dee@example.com', password_hash: DJANGO_HASH, superhero_name: 'WonderWoman_c55436', email_verified: true, last_login: '2024-05-01T08:30:00.005Z', date_joined: '2020-01-02T03:04:05.678Z', updated_at: '2021-01-02T03:04:05Z' },
  { id: 9, email: 'eve@example.com', password_hash: '!unusable0123456789', is_active: false, phone_number: '+1 555 0100' },
];

describe('users:export as a subprocess', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('writes every user with its hash to a 0600 file in folders it makes, and says how many with --json', async () => {
    w = await createCliWorkspace();
    const seeded = await w.run(['users:import', w.file('seed.json', JSON.stringify(SEED)), '--json']);
    expect(seeded.code, seeded.stderr).toBe(0);
    const target = path.join(w.dataDir, 'exports', '2026', 'users.json');
    const result = await w.run(['users:export', target, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.json()).toEqual({ exported: 3, file: target });
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(target)).mode & 0o777).toBe(0o700);
    const exported = JSON.parse(readFileSync(target, 'utf8'));
    expect(exported).toMatchObject({ format: 'sidekick-users', version: 1, exported_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    // Kept ids go in first; the row without one is numbered past them.
    expect(exported.users.map((user: { id: number }) => user.id)).toEqual([9, 17, 18]);
    expect(exported.users[2].password_hash).toMatch(/^\$2b\$04\$/);
    expect(exported.users[1]).toEqual({
      id: 17, email: 'dee@example.com', password_hash: DJANGO_HASH, superhero_name: 'WonderWoman_c55436', name: '', gender: '', preferences: '',
      dob: null, bio: '', phone_number: '', profile_picture: null, email_verified: true, is_active: true, is_staff: false, is_superuser: false,
      last_login: '2024-05-01T08:30:00.005Z', date_joined: '2020-01-02T03:04:05.678Z', updated_at: '2021-01-02T03:04:05.000Z',
    });

    // CSV by the file name; to standard output with -, where the export is all stdout carries.
    const csv = await w.run(['users:export', path.join(w.dataDir, 'users.csv')]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe(`Exported 3 users to ${path.join(w.dataDir, 'users.csv')} (mode 0600).\n`);
    const piped = await w.run(['users:export', '-', '--format', 'csv']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(readFileSync(path.join(w.dataDir, 'users.csv'), 'utf8'));
    expect(piped.stderr).toBe('Exported 3 users.\n');
    expect(piped.stdout.split('\r\n')[0]).toBe(
      'id,email,password_hash,superhero_name,name,gender,preferences,dob,bio,phone_number,profile_picture,email_verified,is_active,is_staff,is_superuser,last_login,date_joined,updated_at',
    );
  });

  it('round-trips SQLite → PostgreSQL → SQLite through the CLI, JSON and CSV, every field kept', async () => {
    w = await createCliWorkspace();
    const url = postgresMissing() ? undefined : await freshPostgresDatabase();
    const middle = await createCliWorkspace();
    const last = await createCliWorkspace();
    try {
      const onMiddle = (args: string[], input?: string) => middle.run(args, { env: url ? { SIDEKICK_DATABASE_URL: url } : {}, input });
      expect((await w.run(['users:import', w.file('seed.json', JSON.stringify(SEED))])).code).toBe(0);
      const first = path.join(w.dataDir, 'first.json');
      expect((await w.run(['users:export', first])).code).toBe(0);

      const imported = await onMiddle(['users:import', first, '--json']);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.json().users.map((user: { id: number }) => user.id)).toEqual([9, 17, 18]);
      const second = path.join(middle.dataDir, 'second.csv');
      expect((await onMiddle(['users:export', second])).code).toBe(0);

      const back = await last.run(['users:import', second, '--json']);
      expect(back.code, back.stderr).toBe(0);
      const third = await last.run(['users:export', '-', '--json']);
      const firstCsv = await w.run(['users:export', '-', '--format', 'csv']);
      expect(readFileSync(second, 'utf8')).toBe(firstCsv.stdout);
      expect(JSON.parse(third.stdout).users).toEqual(JSON.parse(readFileSync(first, 'utf8')).users);
      expect(third.stdout).toContain(DJANGO_HASH);

      // New users are numbered past the ids the import kept, on each engine.
      const created = await onMiddle(['users:create', '--email', 'new@example.com', '--password-stdin', '--json'], PASSWORD);
      expect(created.code, created.stderr).toBe(0);
      expect(created.json().id).toBe(19);
    } finally {
      await middle.close();
      await last.close();
    }
  }, 60_000);

  it('refuses a file with a bad hash, both a password and a hash, or a taken id, and imports nothing', async () => {
    w = await createCliWorkspace();
    expect((await w.run(['users:import', w.file('seed.json', JSON.stringify(SEED))])).code).toBe(0);
    const csv = [
      'id,email,password,password_hash',
      `,new@example.com,${PASSWORD},`,
      `,both@example.com,${PASSWORD},${BCRYPT_SHAPE}`,
      ',junk@example.com,,md5$salt$0123456789abcdef',
      `17,taken@example.com,,${BCRYPT_SHAPE}`,
    ].join('\n');
    const result = failure(await w.run(['users:import', w.file('bad.csv', csv), '--json']));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.lines).toEqual([expect.stringMatching(/^Error: 3 of 4 rows are invalid, nothing was imported: /)]);
    expect(result.line).toContain('row 2 (both@example.com): password_hash: Give either password or password_hash, not both.');
    expect(result.line).toContain('row 3 (junk@example.com): password_hash: Not a password hash Sidekick can verify');
    expect(result.line).toContain('row 4 (taken@example.com): id: User with this id already exists.');
    expect((await w.run(['users:list', '--json'])).json().total).toBe(3);
  });

  it('shows a progress bar on a terminal, and none with --json', async () => {
    w = await createCliWorkspace();
    const many = Array.from({ length: 1200 }, (_, i) => ({ email: `u${i}@example.com`, password_hash: BCRYPT_SHAPE }));
    expect((await w.run(['users:import', w.file('many.json', JSON.stringify(many))])).code).toBe(0);
    const shown = await runInTerminal(['users:export', path.join(w.dataDir, 'tty.json')], w.env, []);
    expect(shown.code).toBe(0);
    expect(shown.screen).toMatch(/Exporting users \[#{30}\] 1200\/1200/);
    const quiet = await runInTerminal(['users:export', path.join(w.dataDir, 'tty.json'), '--json'], w.env, []);
    expect(quiet.code).toBe(0);
    expect(quiet.screen).not.toContain('Exporting users');
  });
});
