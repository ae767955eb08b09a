import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Config } from '@oclif/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers/build.ts';
import { runCli } from './helpers/cli.ts';

const COMMANDS = [
  'db:backup', 'db:migrate', 'db:restore', 'mail:test', 'otp:resend', 'serve', 'token:issue', 'token:revoke', 'users:create', 'users:delete',
  'users:export', 'users:import', 'users:list', 'users:set-password', 'users:show', 'users:update',
];

describe('help', () => {
  beforeAll(ensureBuilt, 120_000);

  it('sidekick --help lists every topic with its description', async () => {
    const [root, users] = await Promise.all([runCli(['--help'], {}), runCli(['users', '--help'], {})]);
    expect(root.code).toBe(0);
    for (const topic of ['users', 'otp', 'token', 'db', 'serve']) expect(root.stdout).toMatch(new RegExp(`^  ${topic}\\s+\\S`, 'm'));
    for (const command of COMMANDS.filter((id) => id.startsWith('users:'))) {
      expect(users.stdout).toMatch(new RegExp(`^  ${command}\\s+\\S`, 'm'));
    }
  });

  it('oclif finds exactly the contract\'s commands, each with a summary, examples and --json', async () => {
    const config = await Config.load(ROOT);
    const ids = config.commands.map((command) => command.id);
    expect(ids).toEqual(expect.arrayContaining(COMMANDS));
    for (const command of config.commands.filter((found) => COMMANDS.includes(found.id))) {
      expect(command.summary, command.id).toBeTruthy();
      expect(command.examples?.length, command.id).toBeGreaterThan(0);
      expect(Object.keys(command.flags), command.id).toContain('json');
    }
  });

  it('sidekick --version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const answer = await runCli(['--version'], {});
    expect(answer.code).toBe(0);
    expect(answer.stdout).toMatch(new RegExp(`^sidekick/${version.replace(/\./g, '\\.')} `));
  });

  it('a command\'s --help renders its examples', async () => {
    const help = await runCli(['token:revoke', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^EXAMPLES\n\s+\$ sidekick token:revoke --user /m);
    expect(help.stdout).toContain('--json');
  });
});
