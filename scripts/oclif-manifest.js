#!/usr/bin/env node
// Writes oclif.manifest.json (run by `npm run build`, `prepare` and `pretest`, after tsc). Without
// it oclif imports every command module, and what each one imports, to find the one it runs:
// `profile collapse` on a small file took 0.60 s of CPU without it and 0.47 s with it. bin/run.js
// drops a manifest older than a compiled command, so a plain `tsc` can never hide a new command.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const path = join(root, 'oclif.manifest.json');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true });
try {
  await plugin.load();
} catch (error) {
  // A command that does not load fails when it is run; the others must still work, without a manifest.
  rmSync(path, { force: true });
  console.error(`oclif.manifest.json not written (commands are found at run time instead): ${error.message}`);
  process.exit(0);
}
writeFileSync(`${path}.tmp`, JSON.stringify({ ...plugin.manifest, version: plugin.version }, null, 2) + '\n');
renameSync(`${path}.tmp`, path);
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`);
