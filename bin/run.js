#!/usr/bin/env node
import { readdirSync, statSync, unlinkSync } from 'node:fs';
// A closed pipe (`profile collapse | head`) is a normal way to stop reading, not an error. Any
// other failure to write standard output (`> /dev/full`, a full disk behind `> file`) is one line
// and exit 2 like every other error, never a stack trace.
let describe = (error) => error.message;
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`profile: <stdout>: cannot write: ${describe(error)}\n`);
  process.exit(2);
});
({ describeFsError: describe } = await import('../dist/io/lines.js'));
dropStaleManifest();
const { runFast } = await import('./fast-path.js');
if (!(await runFast(process.argv.slice(2)))) {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}

// oclif.manifest.json (scripts/oclif-manifest.js) spares oclif importing every command, but one
// older than a compiled command (a `tsc` run without `npm run build`) could hide a new command or
// list a deleted one: such a manifest is removed, and oclif reads the commands themselves.
function dropStaleManifest() {
  const manifest = new URL('../oclif.manifest.json', import.meta.url);
  const commands = new URL('../dist/commands/', import.meta.url);
  try {
    const written = statSync(manifest).mtimeMs;
    const stale =
      statSync(commands).mtimeMs > written ||
      readdirSync(commands).some((name) => name.endsWith('.js') && statSync(new URL(name, commands)).mtimeMs > written);
    if (stale) unlinkSync(manifest);
  } catch {
    // No manifest (or a read-only install, whose manifest was built with it): nothing to do.
  }
}
