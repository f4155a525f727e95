// SIGKILL, SIGINT and SIGTERM at random moments of `profile collapse -o FILE` (reading, folding,
// writing, renaming): FILE is afterwards either the old file or the complete new one, never
// truncated or mixed. ~15 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnv, cliSpawnArgs } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'profile-atomic-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// ~6 MB of distinct stacks: long enough that kills land in every phase, output of ~5 MB.
const input = join(work, 'in.folded');
const lines: string[] = [];
for (let i = 0; i < 100_000; i++) lines.push(`app;module_${i % 300};function_${i};callee_${i % 1000};leaf ${1 + (i % 5)}`);
writeFileSync(input, lines.join('\n') + '\n');

function run(out: string, signal?: NodeJS.Signals, afterMs = 0): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(...cliSpawnArgs(['collapse', input, '-o', out]), { env: cliEnv(), stdio: 'ignore' });
    const timer = signal ? setTimeout(() => child.kill(signal), afterMs) : undefined;
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, ms: Date.now() - started });
    });
  });
}

t.test('a signal at any moment leaves the old file or the complete new one', async (t) => {
  const reference = join(work, 'reference.folded');
  const first = await run(reference);
  t.equal(first.code, 0);
  t.comment(`reference run: ${first.ms} ms`);
  const complete = readFileSync(reference, 'utf8');
  t.ok(complete.length > 4_000_000, `reference output is ${(complete.length / 1e6).toFixed(1)} MB`);
  const old = 'old;content 1\n';
  const signals: NodeJS.Signals[] = ['SIGKILL', 'SIGINT', 'SIGTERM'];
  const outcomes = { old: 0, complete: 0 };
  const faults = Number(process.env.PROFILE_FAULTS ?? 12);
  for (let i = 0; i < faults; i++) {
    const out = join(work, `out-${i}.folded`);
    writeFileSync(out, old);
    const signal = signals[i % signals.length]!;
    // Spread over the second half of the run (folding, writing, renaming) and a little past its end.
    const at = Math.round((0.5 + (0.65 * (i + Math.random())) / faults) * first.ms);
    await run(out, signal, at);
    const now = readFileSync(out, 'utf8');
    if (now === old) outcomes.old++;
    else if (now === complete) outcomes.complete++;
    else t.fail(`${signal} at ${at} ms left a ${now.length}-byte file that is neither old nor complete`);
  }
  t.equal(outcomes.old + outcomes.complete, faults, `${faults} signals injected: ${outcomes.old} left the old file, ${outcomes.complete} the complete new one`);
  t.comment(`faults: ${faults} signals during collapse -o, 0 truncated outputs`);
  t.ok(existsSync(reference));
  // The output is written unnamed (O_TMPFILE) and named only when complete: a killed process
  // leaves no temporary file either (a kill in the microseconds between link and rename could).
  const temps = readdirSync(work).filter((f) => f.includes('.profile-tmp-'));
  t.same(temps, [], 'no temporary file left by any signal');
});
