import { passwordWorks } from '../helpers/passwords.ts';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('users:* commands as subprocesses', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('creates a user with --json and shows the same account in users:show and users:list', async () => {
    w = await createCliWorkspace();
    const created = await w.run(['users:create', '--email', 'Ada@Example.com', '--password', PASSWORD, '--name', 'Ada', '--staff', '--json']);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe('');
    const user = created.json();
    expect(user).toMatchObject({
      id: 1,
      email: 'ada@example.com',
      name: 'Ada',
      phone_number: '',
      is_staff: true,
      is_superuser: false,
      is_active: true,
    });
    expect(user.superhero_name).toMatch(/^[a-z]+_[0-9a-f]{7}$/);
    expect(JSON.stringify(user)).not.toMatch(/password|\$2[aby]\$/);

    const [shown, listed] = await Promise.all([w.run(['users:show', 'ada@example.com', '--json']), w.run(['users:list', '--json'])]);
    expect(shown.code).toBe(0);
    expect(shown.json()).toEqual(user);
    expect(listed.json()).toEqual({ users: [user], total: 1 });

    const sidekick = await w.open();
    expect(await passwordWorks(sidekick, 'ada@example.com', PASSWORD)).toBe(true);
  });

  it('prints human output without --json', async () => {
    w = await createCliWorkspace();
    const created = await w.run(['users:create', '--email', 'bob@example.com', '--password', PASSWORD]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^id:\s+1$/m);
    expect(created.stdout).toMatch(/^superhero_name:\s+[a-z]+_[0-9a-f]{7}$/m);
    const listed = await w.run(['users:list']);
    expect(listed.stdout).toMatch(/^ID\s+EMAIL\s+SUPERHERO/);
    expect(listed.stdout).toContain('bob@example.com');
  });

  it('reads the password from standard input with --password-stdin', async () => {
    w = await createCliWorkspace();
    const created = await w.run(['users:create', '--email', 'ci@example.com', '--password-stdin', '--json'], { input: `${PASSWORD}\n` });
    expect(created.code).toBe(0);
    const sidekick = await w.open();
    expect(await passwordWorks(sidekick, 'ci@example.com', PASSWORD)).toBe(true);
  });

  it('refuses a weak password with one line naming the rule, and creates nothing', async () => {
    w = await createCliWorkspace();
    const result = failure(await w.run(['users:create', '--email', 'weak@example.com', '--password', '12345678', '--json']));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.lines).toEqual([expect.stringMatching(/^Error: password: .*entirely numeric/)]);
    expect((await (await w.open()).services.accounts.list()).total).toBe(0);
  });

  it('refuses an email that is already registered', async () => {
    w = await createCliWorkspace();
    await (await w.open()).services.accounts.createUser({ email: 'taken@example.com', password: PASSWORD });
    const result = failure(await w.run(['users:create', '--email', 'TAKEN@example.com', '--password', PASSWORD]));
    expect(result.code).toBe(2);
    expect(result.lines).toEqual(['Error: email: User with email already exists.']);
  });

  it('fails with exit 3 and one line for a user that does not exist, in every command that takes one', async () => {
    w = await createCliWorkspace();
    const results = await Promise.all([
      w.run(['users:show', 'ghost@example.com', '--json']),
      w.run(['users:update', 'ghost@example.com', '--staff']),
      w.run(['users:set-password', 'ghost@example.com', '--password', PASSWORD]),
      w.run(['users:delete', 'ghost@example.com', '--yes']),
      w.run(['token:issue', 'ghost@example.com']),
      w.run(['token:revoke', '--user', 'ghost@example.com']),
    ]);
    for (const result of results.map(failure)) {
      expect(result.code).toBe(3);
      expect(result.stdout).toBe('');
      expect(result.lines).toEqual(['Error: no user with email ghost@example.com']);
    }
  });

  it('fails with exit 2 and one line, without a stack trace, for a bad flag', async () => {
    w = await createCliWorkspace();
    const [unknown, badNumber] = (await Promise.all([w.run(['users:list', '--colour']), w.run(['users:list', '--limit', 'lots'])])).map(failure);
    expect(unknown.code).toBe(2);
    expect(unknown.lines).toEqual(['Error: Nonexistent flag: --colour']);
    expect(badNumber.code).toBe(2);
    expect(badNumber.lines).toHaveLength(1);
    expect(badNumber.line).toMatch(/^Error: .*--limit.*integer/);
  });

  it('prints the stack trace only when DEBUG asks for it', async () => {
    w = await createCliWorkspace();
    const debug = await w.run(['users:show', 'ghost@example.com'], { env: { DEBUG: '1' } });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('fails with exit 66 on a missing database and does not create one', async () => {
    w = await createCliWorkspace({ migrate: false });
    const elsewhere = path.join(w.dataDir, 'nothing-here');
    const result = failure(await w.run(['users:list', '--json'], { env: { SIDEKICK_DATA_DIR: elsewhere } }));
    expect(result.code).toBe(66);
    expect(result.lines).toEqual([expect.stringMatching(/^Error: no database at .*nothing-here.*sidekick\.db/)]);
    expect(existsSync(elsewhere)).toBe(false);
  });

  it('treats a missing value without a terminal as an error, never waiting for input', async () => {
    w = await createCliWorkspace();
    const [noPassword, noEmail, noConfirmation] = (
      await Promise.all([
        w.run(['users:create', '--email', 'x@example.com']),
        w.run(['users:show']),
        w.run(['users:delete', 'x@example.com']),
      ])
    ).map(failure);
    expect(noPassword).toMatchObject({ code: 2, lines: ['Error: missing --password or --password-stdin (no terminal to ask on)'] });
    expect(noEmail).toMatchObject({ code: 2, lines: ['Error: missing EMAIL argument (no terminal to ask on)'] });
    expect(noConfirmation.code).not.toBe(0);
  });

  it('users:update changes flags and name, and deactivation ends every session', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    const user = await sidekick.services.accounts.createUser({ email: 'eve@example.com', password: PASSWORD });
    const token = await sidekick.services.credentials.issueOpaqueToken(user);

    const promoted = await w.run(['users:update', 'eve@example.com', '--staff', '--superuser', '--name', 'Eve', '--json']);
    expect(promoted.code).toBe(0);
    expect(promoted.json()).toMatchObject({ email: 'eve@example.com', is_staff: true, is_superuser: true, name: 'Eve', is_active: true });
    expect((await sidekick.services.credentials.authenticate(`Token ${token}`)).user.isStaff).toBe(true);

    const deactivated = await w.run(['users:update', 'eve@example.com', '--no-active', '--no-staff', '--json']);
    expect(deactivated.json()).toMatchObject({ is_active: false, is_staff: false, is_superuser: true });
    await expect(sidekick.services.credentials.authenticate(`Token ${token}`)).rejects.toMatchObject({ code: 'authentication_failed' });

    const nothing = failure(await w.run(['users:update', 'eve@example.com']));
    expect(nothing.code).toBe(2);
    expect(nothing.line).toMatch(/^Error: nothing to change/);
  });

  it('users:set-password applies the policy, ends sessions and mails the notice before exiting', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    const user = await sidekick.services.accounts.createUser({ email: 'sam@example.com', password: PASSWORD });
    const token = await sidekick.services.credentials.issueOpaqueToken(user);

    const weak = failure(await w.run(['users:set-password', 'sam@example.com', '--password', 'sam']));
    expect(weak.code).toBe(2);
    expect(weak.line).toMatch(/^Error: password: This password is too short/);

    const changed = await w.run(['users:set-password', 'sam@example.com', '--password-stdin', '--json'], { input: 'Brand-New-Secret-42\n' });
    expect(changed.code).toBe(0);
    expect(changed.json()).toMatchObject({ email: 'sam@example.com', password_changed: true, notice_mail: 'delivered' });
    expect(changed.stdout).not.toContain('Brand-New-Secret-42');
    await expect(sidekick.services.credentials.authenticate(`Token ${token}`)).rejects.toBeDefined();
    expect(await passwordWorks(sidekick, 'sam@example.com', PASSWORD)).toBe(false);
    expect(await passwordWorks(sidekick, 'sam@example.com', 'Brand-New-Secret-42')).toBe(true);

    const mails = readdirSync(path.join(w.dataDir, 'outbox')).filter((name) => name.endsWith('.eml'));
    expect(mails).toHaveLength(1);
    const mail = readFileSync(path.join(w.dataDir, 'outbox', mails[0]), 'utf8');
    expect(mail).toMatch(/^To: sam@example.com$/m);
    expect(mail).not.toContain('Brand-New-Secret-42');
  });

  it('users:delete --yes deletes the user and frees the email', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'gone@example.com', password: PASSWORD });
    const refused = await w.run(['users:delete', 'gone@example.com', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect((await sidekick.services.accounts.list()).total).toBe(1);

    const deleted = await w.run(['users:delete', 'gone@example.com', '--yes', '--json']);
    expect(deleted.code).toBe(0);
    expect(deleted.json()).toEqual({ deleted: true, id: 1, email: 'gone@example.com' });
    expect((await sidekick.services.accounts.list()).total).toBe(0);
  });

  it('fails with exit 75 and one line when another process holds the database lock', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    sidekick.db.exec('BEGIN EXCLUSIVE');
    try {
      const result = failure(await w.run(['users:create', '--email', 'late@example.com', '--password', PASSWORD]));
      expect(result.code).toBe(75);
      expect(result.lines).toEqual(['Error: the database is locked by another process; try again']);
    } finally {
      sidekick.db.exec('ROLLBACK');
    }
  }, 20_000);
});
