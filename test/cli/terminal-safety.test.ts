import { sql } from '../../src/db/port.ts';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

/** Text that reaches an operator's terminal (issue: fake lines and escapes in users:show / users:list). */
describe('what the CLI prints of user text', () => {
  let w: CliWorkspace;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await w?.close();
  });

  it('escapes control characters stored before they were refused, in users:show', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    const user = await sidekick.services.accounts.createUser({ email: 'mallory@example.com', password: PASSWORD });
    // As an older version or an import could have stored them: straight into the table.
    (await sidekick.db.run(sql('UPDATE users SET name = ?, bio = ? WHERE id = ?'), ['Mal\u001b[2J\u001b[31mory', 'line one\nis_superuser: yes\r\u202eevil', user.id]));

    const shown = await w.run(['users:show', 'mallory@example.com']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect(shown.stdout).toContain('Mal\\x1b[2J\\x1b[31mory');
    expect(shown.stdout).toContain('line one\\nis_superuser: yes\\r\\u202eevil');
    expect(shown.stdout.split('\n').filter((line) => line.startsWith('is_superuser:'))).toEqual(['is_superuser:    false']);

    // JSON output escapes them already: the document parses and keeps the text exactly.
    const json = await w.run(['users:show', 'mallory@example.com', '--json']);
    expect(json.json().name).toBe('Mal\u001b[2J\u001b[31mory');
  });

  it('refuses control characters in --name, and stores the name trimmed', async () => {
    w = await createCliWorkspace();
    await (await w.open()).services.accounts.createUser({ email: 'eve@example.com', password: PASSWORD });
    const refused = failure(await w.run(['users:update', 'eve@example.com', '--name', 'Eve\u001b[2J']));
    expect(refused.code).toBe(2);
    expect(refused.line).toMatch(/Control characters are not allowed\./);
    const padded = await w.run(['users:update', 'eve@example.com', '--name', `  ${'n'.repeat(30)}  `, '--json']);
    expect(padded.code).toBe(0);
    expect(padded.json().name).toBe('n'.repeat(30));
  });
});
