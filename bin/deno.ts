#!/usr/bin/env -S deno run --allow-all
/**
 * Deno entry point: the same oclif commands, loaded from their TypeScript source (Deno runs it as is)
 * instead of the compiled dist/ that bin/run.js uses on Node. Usage: `deno task sidekick <command>`.
 */
import { execute, settings } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// No tsx/ts-node: Deno transpiles the commands itself, so point oclif straight at the sources.
settings.enableAutoTranspile = false;
await execute({
  args: process.argv.slice(2),
  // No user, link or dev plugins: see bin/run.js.
  loadOptions: { root, userPlugins: false, devPlugins: false, pjson: { ...pjson, oclif: { ...pjson.oclif, commands: './commands' } } },
});
