#!/usr/bin/env -S node --optimize-for-size
import { execute } from '@oclif/core';
import { fileURLToPath } from 'node:url';

// --optimize-for-size, set where the process starts (V8 flags changed at run time are unsupported): a
// server lives for months on a small box, and with V8's memory-saving heuristics (8 MB semi-spaces
// instead of 16; the old generation collected before it doubles) its RSS stayed at 120–125 MB through
// the whole benchmark, where the defaults ended anywhere between 137 and 187 MB. The price, measured in
// interleaved runs: 2–8% of read throughput, 6–10% of refresh. `npm start` passes it too; cluster
// workers inherit it; `node bin/run.js serve` runs with V8's defaults.
//
// oclif reads "user" and "link" plugins from <its data dir>/package.json, and its data dir follows
// SIDEKICK_DATA_DIR: a package.json dropped in the data folder would run its code in every command.
// Sidekick has no plugins, so none are ever loaded.
await execute({
  loadOptions: { root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false, devPlugins: false },
});
