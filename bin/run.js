#!/usr/bin/env node
// A closed pipe (`profile collapse | head`) is a normal way to stop reading, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
