import { passwordWorks } from '../helpers/passwords.ts';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('users:import as a subprocess', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('imports a JSON file of users with profiles and staff flags, all of whom can log in', async () => {
    w = await createCliWorkspace();
    const users = [
      { email: 'ann@example.com', password: PASSWORD, name: 'Ann', dob: '1990-01-02', preferences: 'Cooking', is_staff: true },
      { email: 'ben@example.com', password: 'Another-Good-One-7', gender: 'Male', superuser: true },
      { email: 'Cid@Example.com', password: 'Third-Pass-Phrase-3', bio: 'Hi', profile_picture: 'https://example.com/c.png' },
    ];
    const result = await w.run(['users:import', w.file('demo.json', JSON.stringify(users)), '--json']);
    expect(result.code).toBe(0);
    const body = result.json();
    expect(body.imported).toBe(3);
    expect(body.users).toEqual([
      { row: 1, id: 1, email: 'ann@example.com', superhero_name: expect.stringMatching(/^[a-z]+_[0-9a-f]{7}$/) },
      { row: 2, id: 2, email: 'ben@example.com', superhero_name: expect.any(String) },
      { row: 3, id: 3, email: 'cid@example.com', superhero_name: expect.any(String) },
    ]);
    expect(result.stdout).not.toContain(PASSWORD);

    const sidekick = await w.open();
    const ann = await sidekick.services.accounts.requireUser('ann@example.com');
    expect(ann).toMatchObject({ name: 'Ann', dob: '1990-01-02', preferences: 'Cooking', isStaff: true, isSuperuser: false });
    expect(await sidekick.services.accounts.requireUser('ben@example.com')).toMatchObject({ gender: 'Male', isSuperuser: true, isStaff: false });
    expect(await passwordWorks(sidekick, 'cid@example.com', 'Third-Pass-Phrase-3')).toBe(true);
  });

  it('imports a CSV file with quoted fields and prints a summary', async () => {
    w = await createCliWorkspace();
    const csv = [
      'email,password,name,bio,is_staff',
      `dee@example.com,${PASSWORD},Dee,"Likes commas, and ""quotes""",yes`,
      `eve@example.com,${PASSWORD},,,`,
      '',
    ].join('\r\n');
    const result = await w.run(['users:import', w.file('staff.csv', csv)]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Imported 2 users\.\n$/);
    const sidekick = await w.open();
    expect(await sidekick.services.accounts.requireUser('dee@example.com')).toMatchObject({ bio: 'Likes commas, and "quotes"', isStaff: true });
    expect(await sidekick.services.accounts.requireUser('eve@example.com')).toMatchObject({ name: '', isStaff: false });
  });

  it('imports nothing when any row is bad, and names every bad row on one line', async () => {
    w = await createCliWorkspace();
    await (await w.open()).services.accounts.createUser({ email: 'old@example.com', password: PASSWORD });
    const csv = [
      'email,password,dob,is_staff',
      `ok@example.com,${PASSWORD},1990-01-01,no`,
      'weak@example.com,password,,',
      `not-an-email,${PASSWORD},,`,
      `ok@example.com,${PASSWORD},,`,
      `old@example.com,${PASSWORD},,`,
      `late@example.com,${PASSWORD},2999-01-01,maybe`,
    ].join('\n');
    const result = failure(await w.run(['users:import', w.file('bad.csv', csv), '--json']));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.lines).toHaveLength(1);
    const line = result.line;
    expect(line).toMatch(/^Error: 5 of 6 rows are invalid, nothing was imported: /);
    expect(line).toContain('row 2 (weak@example.com): password: This password is too common.');
    expect(line).toContain('row 3 (not-an-email): email: Enter a valid email address.');
    expect(line).toContain('row 4 (ok@example.com): email: Same email as row 1.');
    expect(line).toContain('row 5 (old@example.com): email: User with email already exists.');
    expect(line).toMatch(/row 6 \(late@example\.com\): .*is_staff: Must be a valid boolean\..*dob: Date of birth must be in the past\./);
    expect(line).not.toContain('row 1 ');
    expect((await (await w.open()).services.accounts.list()).total).toBe(1);
  });

  it('refuses unknown columns, unreadable files and empty files', async () => {
    w = await createCliWorkspace();
    const [typo, missing, empty, notJson] = (
      await Promise.all([
        w.run(['users:import', w.file('typo.csv', `email,pasword\na@example.com,${PASSWORD}\n`)]),
        w.run(['users:import', path.join(w.dataDir, 'nope.json')]),
        w.run(['users:import', w.file('empty.json', '[]')]),
        w.run(['users:import', w.file('broken.json', '[{"email": ')]),
      ])
    ).map(failure);
    expect(typo).toMatchObject({ code: 2, lines: [expect.stringMatching(/^Error: unknown CSV column "pasword"/)] });
    expect(missing).toMatchObject({ code: 66, lines: [`Error: cannot read ${path.join(w.dataDir, 'nope.json')}: ENOENT`] });
    expect(empty).toMatchObject({ code: 2, lines: ['Error: the file holds no users'] });
    expect(notJson.code).toBe(2);
    expect(notJson.line).toMatch(/^Error: the file is not valid JSON/);
  });

  it('reads the file from standard input with -', async () => {
    w = await createCliWorkspace();
    const result = await w.run(['users:import', '-', '--format', 'json', '--json'], {
      input: JSON.stringify({ users: [{ email: 'pipe@example.com', password: PASSWORD }] }),
    });
    expect(result.code).toBe(0);
    expect(result.json().imported).toBe(1);
  });
});
