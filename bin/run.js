#!/usr/bin/env node
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
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
