import { passwordWorks } from '../helpers/passwords.ts';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, runInTerminal, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('prompts on a terminal (pseudo terminal via script)', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('users:create asks for the email and a hidden password typed twice', async () => {
    w = await createCliWorkspace();
    const session = await runInTerminal(['users:create', '--json'], w.env, [
      { expect: /Email:/, send: 'tty@example.com\r' },
      { expect: /New password:/, send: `${PASSWORD}\r` },
      { expect: /Repeat the password:/, send: `${PASSWORD}\r` },
    ]);
    expect(session.code).toBe(0);
    expect(session.screen).toContain('"email": "tty@example.com"');
    // The terminal echoed the email but never the password.
    expect(session.screen).toContain('tty@example.com');
    expect(session.screen).not.toContain(PASSWORD);
    const sidekick = await w.open();
    expect(await passwordWorks(sidekick, 'tty@example.com', PASSWORD)).toBe(true);
  });

  it('users:set-password asks again when the two passwords differ', async () => {
    w = await createCliWorkspace();
    await (await w.open()).services.accounts.createUser({ email: 'pat@example.com', password: PASSWORD });
    const session = await runInTerminal(['users:set-password', 'pat@example.com'], w.env, [
      { expect: /New password:/, send: 'First-Try-Secret-1\r' },
      { expect: /Repeat the password:/, send: 'Typo-Try-Secret-1\r' },
      { expect: /do not match[\s\S]*New password:/, send: 'Second-Try-Secret-2\r' },
      { expect: /Repeat the password:/, send: 'Second-Try-Secret-2\r' },
    ]);
    expect(session.code).toBe(0);
    expect(session.screen).toMatch(/Password changed for pat@example.com/);
    expect(await passwordWorks(await w.open(), 'pat@example.com', 'Second-Try-Secret-2')).toBe(true);
  });

  it('users:delete asks for confirmation: no keeps the user, yes deletes it', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'del@example.com', password: PASSWORD });
    const kept = await runInTerminal(['users:delete', 'del@example.com'], w.env, [{ expect: /Delete del@example.com/, send: 'n\r' }]);
    expect(kept.code).toBe(2);
    expect(kept.screen).toContain('Error: not deleted');
    expect((await sidekick.services.accounts.list()).total).toBe(1);

    const deleted = await runInTerminal(['users:delete', 'del@example.com'], w.env, [{ expect: /Delete del@example.com/, send: 'y\r' }]);
    expect(deleted.code).toBe(0);
    expect(deleted.screen).toContain('Deleted del@example.com.');
    expect((await sidekick.services.accounts.list()).total).toBe(0);
  });

  it('users:import shows a progress bar on a terminal', async () => {
    w = await createCliWorkspace();
    const users = Array.from({ length: 6 }, (_, i) => ({ email: `bulk${i}@example.com`, password: PASSWORD }));
    const file = path.join(w.dataDir, 'bulk.json');
    writeFileSync(file, JSON.stringify(users));
    const session = await runInTerminal(['users:import', file], w.env, []);
    expect(session.code).toBe(0);
    expect(session.screen).toContain(`Hashing passwords [${'#'.repeat(30)}] 6/6`);
    expect(session.screen).toContain('Imported 6 users.');
  });

  it('Ctrl-C at a prompt cancels with exit 130 and creates nothing', async () => {
    w = await createCliWorkspace();
    const session = await runInTerminal(['users:create', '--email', 'cc@example.com'], w.env, [{ expect: /New password:/, send: '\x03' }]);
    expect(session.code).toBe(130);
    expect(session.screen).toContain('Error: cancelled');
    expect((await (await w.open()).services.accounts.list()).total).toBe(0);
  });
});
