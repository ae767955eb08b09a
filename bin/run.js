#!/usr/bin/env -S node --max-semi-space-size=2
import { execute } from '@oclif/core';
import { fileURLToPath } from 'node:url';

// --max-semi-space-size=2, set where the process starts (V8 flags changed at run time are unsupported): a
// server lives for months on a small box, and V8's default young generation (semi-spaces growing to 16 MB)
// left its RSS anywhere between 137 and 195 MB after the benchmark; capped at 2 MB it ended at 120 MB.
// --optimize-for-size, used before, kept RSS as low but cost 15-30% more CPU per request (measured in
// interleaved runs): it pins the young generation near 1 MB, so under load the server collected it
// 175 times a second (4.4 µs of GC per request, against 1 µs). `npm start` passes the flag too; cluster workers inherit it; `node bin/run.js serve`
// runs with V8's defaults.
//
// oclif reads "user" and "link" plugins from <its data dir>/package.json, and its data dir follows
// SIDEKICK_DATA_DIR: a package.json dropped in the data folder would run its code in every command.
// Sidekick has no plugins, so none are ever loaded.
await execute({
  loadOptions: { root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false, devPlugins: false },
});
