#!/usr/bin/env node
import { execute } from '@oclif/core';
import { fileURLToPath } from 'node:url';

// oclif reads "user" and "link" plugins from <its data dir>/package.json, and its data dir follows
// SIDEKICK_DATA_DIR: a package.json dropped in the data folder would run its code in every command.
// Sidekick has no plugins, so none are ever loaded.
await execute({
  loadOptions: { root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false, devPlugins: false },
});
