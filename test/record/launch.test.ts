// The launched command's exit status as a shell reports it: its code, or 128 + N when signal N
// killed it, whatever the signal. Needs no BPF. About 2 s.
import t from 'tap';
import { constants } from 'node:os';
import { launchCommand } from '../../src/record/launch.js';

// Signals whose default action ends the process without a core file.
const SIGNALS = ['SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGVTALRM', 'SIGPROF'] as const;

t.test('a command killed by a signal exits 128 + its number', async (t) => {
  for (const signal of SIGNALS) {
    const launched = launchCommand(['sleep', '30'], 'stderr');
    launched.release();
    await new Promise((r) => setTimeout(r, 200)); // sh has exec'd sleep, which now holds the pid
    process.kill(launched.pid, signal);
    t.equal(await launched.exited, 128 + constants.signals[signal], `${signal} (${constants.signals[signal]})`);
  }
});

t.test('an exit code is kept as it is', async (t) => {
  const launched = launchCommand(['sh', '-c', 'exit 7'], 'stderr');
  launched.release();
  t.equal(await launched.exited, 7);
});
