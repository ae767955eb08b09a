import { readFileSync } from 'node:fs';
import { CliError } from './errors.ts';

// Loaded only when a prompt is shown: most runs (scripts, --json) never ask, and start faster without it.
const inquirer = () => import('@inquirer/prompts');

// Prompts draw on stderr so that stdout carries only the command's result (and with --json, only JSON).
const context = { output: process.stderr };

/** Prompts need a terminal to answer them; without one a missing value is an error, never a hang. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY);
}

function requireTerminal(what: string): void {
  if (!canPrompt()) throw new CliError(`missing ${what} (no terminal to ask on)`);
}

export async function askText(what: string, message: string): Promise<string> {
  requireTerminal(what);
  const { input } = await inquirer();
  return input({ message, required: true }, context);
}

/** Hidden, typed twice; three mismatches give up. */
export async function askNewPassword(what = '--password'): Promise<string> {
  requireTerminal(what);
  const { password } = await inquirer();
  for (let attempt = 0; attempt < 3; attempt++) {
    const first = await password({ message: 'New password:', validate: (value) => value !== '' || 'The password may not be blank.' }, context);
    const second = await password({ message: 'Repeat the password:' }, context);
    if (first === second) return first;
    process.stderr.write('The passwords do not match; try again.\n');
  }
  throw new CliError('the passwords did not match');
}

export async function askConfirm(what: string, message: string): Promise<boolean> {
  requireTerminal(what);
  const { confirm } = await inquirer();
  return confirm({ message, default: false }, context);
}

/** For scripts: the whole of standard input, less one trailing line break. */
export function readPasswordFromStdin(): string {
  let text: string;
  try {
    text = readFileSync(0, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the password from standard input: ${(error as Error).message}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new CliError('no password on standard input');
  return value;
}
