// Faults during `profile record` through the real CLI: SIGINT, SIGTERM and SIGKILL at random
// moments (start-up, BPF load and attach, sampling, map read, symbolization, writing) leave the
// old output or a complete new one, never a truncated one, and no BPF program, link or map; a
// second SIGINT exits at once; a profiled command that exits at once, fails, is killed or does not
// exist ends the recording cleanly with its status; the command inherits no BPF or perf fd; and
// with tiny stack and counts maps every probe firing is accounted for. About 60 s.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { COUNTERS } from '../../src/record/abi.js';
import { RECORD_DEFAULTS, record } from '../../src/record/index.js';
import { readFolded } from '../../src/profile/folded.js';
import { bpfMark, leakedSince, waitForOurProgram } from '../helpers/bpf.js';
import { ROOT, cliEnv, cliSpawnArgs, runCli } from '../helpers/cli.js';
import { buildProgram } from '../record/fixtures.js';
import { buildShortLived, startForkLoops } from '../endurance/workload.mjs';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-faults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calltree = buildProgram('calltree');
  const mark = bpfMark();
  const FOLDED = /^[^\n]+ \d+$/;

  /** A complete folded file: ends with a newline, every line a stack, and it reads back. */
  async function completeFolded(path: string): Promise<string | undefined> {
    const text = readFileSync(path, 'utf8');
    if (!text.endsWith('\n')) return 'does not end with a newline';
    const bad = text.trimEnd().split('\n').find((l) => !FOLDED.test(l));
    if (bad !== undefined) return `line ${JSON.stringify(bad.slice(0, 80))} is not a folded stack`;
    await readFolded(Readable.from([text]), path);
    return undefined;
  }

  function spawnRecord(test: Test, args: string[]): { child: ReturnType<typeof spawn>; stderr: () => string; closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
    const child = spawn(...cliSpawnArgs(['record', ...args]), { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout!.resume();
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
    // A subtest that fails before it stops its recorder must not leave it running: it would hold
    // BPF objects into every later leak check.
    test.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return { child, stderr: () => stderr, closed };
  }

  t.test('signals at random moments: old or complete output, never truncated, nothing BPF left', async (t) => {
    const busy = spawn(calltree, ['120'], { stdio: 'ignore' });
    t.teardown(() => busy.kill('SIGKILL'));
    // One undisturbed run sets the time line: start-up, load/attach, 1.5 s of sampling, read, write.
    const referenceOut = join(dir, 'reference.folded');
    const began = Date.now();
    const reference = spawnRecord(t, ['-F', '999', '--duration', '1.5', '-o', referenceOut]);
    const { code } = await reference.closed;
    const total = Date.now() - began;
    t.equal(code, 0, reference.stderr());
    t.equal(await completeFolded(referenceOut), undefined, 'reference output is complete');
    t.comment(`reference run: ${total} ms`);

    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    const faults = Number(process.env.PROFILE_RECORD_FAULTS ?? 15);
    const tally = { absent: 0, old: 0, complete: 0, leaks: 0 };
    for (let i = 0; i < faults; i++) {
      const out = join(dir, `out-${i}.folded`);
      const withOld = i % 2 === 0;
      if (withOld) writeFileSync(out, 'old;content 1\n');
      const signal = signals[i % signals.length]!;
      // Stratified over the whole run and a little past it, so every phase gets hit.
      const at = Math.round(((i + Math.random()) / faults) * total * 1.1);
      const run = spawnRecord(t, ['-F', '999', '--duration', '1.5', '-o', out]);
      const timer = setTimeout(() => run.child.kill(signal), at);
      const result = await run.closed;
      clearTimeout(timer);
      const where = `${signal} at ${at} ms`;
      if (!existsSync(out)) tally.absent++;
      else if (withOld && readFileSync(out, 'utf8') === 'old;content 1\n') tally.old++;
      else {
        const problem = await completeFolded(out).catch((e: Error) => e.message);
        if (problem === undefined) tally.complete++;
        else t.fail(`${where}: truncated or broken output: ${problem}`);
      }
      if (signal !== 'SIGKILL' && result.signal === null) {
        t.notMatch(run.stderr(), /\n\s+at |internal error/, `${where}: no stack trace`);
        t.ok(result.code === 0 || result.code === 130, `${where}: exit ${result.code}`);
      }
      const left = await leakedSince(mark);
      if (left.length > 0) {
        tally.leaks++;
        t.fail(`${where}: left ${JSON.stringify(left)}`);
      }
    }
    t.equal(tally.absent + tally.old + tally.complete, faults, `${faults} faults: ${tally.absent} no output, ${tally.old} old output kept, ${tally.complete} complete, ${tally.leaks} leaks`);
    t.comment(`faults: ${faults} signals during record; outputs absent ${tally.absent}, old ${tally.old}, complete ${tally.complete}; leaks ${tally.leaks}`);
    const temps = readdirSync(dir).filter((f) => f.includes('.profile-tmp-'));
    t.same(temps, [], 'no temporary file left by SIGKILL or a second signal (outputs are unnamed until complete)');
  });

  t.test('a second SIGINT exits at once', async (t) => {
    const out = join(dir, 'twice.folded');
    const before = bpfMark();
    const run = spawnRecord(t, ['-F', '999', '-o', out]);
    // Signal handlers are installed before the BPF program loads: wait for it, then sample a bit.
    t.ok(await waitForOurProgram(before), 'the recorder loaded its program');
    // Hundreds of short processes to name keep the recorder busy after the first SIGINT: on a
    // quiet machine a recording of one busy process ends, named and written, within 100 ms.
    const loops = startForkLoops(buildShortLived(), 2);
    await new Promise((r) => setTimeout(r, 1000));
    await loops.stop();
    run.child.kill('SIGINT');
    // Two kills in a row can reach the kernel before the recorder runs once; a pending signal
    // absorbs the second. A person's second Ctrl-C comes later: give the first one 100 ms.
    await new Promise((r) => setTimeout(r, 100));
    t.ok(run.child.exitCode === null && run.child.signalCode === null, 'still naming and writing when the second SIGINT comes');
    const second = Date.now();
    run.child.kill('SIGINT');
    const result = await run.closed;
    const ms = Date.now() - second;
    t.ok(ms < 300, `exited ${ms} ms after the second SIGINT`);
    // Killed by the default action of SIGINT (shells show 130), or exit code 130.
    t.ok(result.signal === 'SIGINT' || result.code === 130, `ended by SIGINT (code ${result.code}, signal ${result.signal})`);
    t.same(readdirSync(dir).filter((name) => name.includes('.profile-tmp-')), [], 'no temporary file left');
    if (existsSync(out)) t.equal(await completeFolded(out), undefined, 'any output is complete');
    t.same(await leakedSince(mark), [], 'nothing BPF left');
  });

  t.test('the profiled command: exits at once, fails, is killed, does not exist', async (t) => {
    const quick = await runCli(['record', '-F', '999', '--', 'true']);
    t.equal(quick.code, 0, quick.stderr);
    t.match(quick.stderr, /command exited with 0$/m);
    const fails = await runCli(['record', '-F', '999', '--', 'sh', '-c', 'exit 3']);
    t.equal(fails.code, 3);
    t.match(fails.stderr, /command exited with 3$/m);
    const killed = await runCli(['record', '-F', '999', '--', 'sh', '-c', 'kill -KILL $$']);
    t.equal(killed.code, 137);
    t.match(killed.stderr, /command exited with 137$/m);
    const missing = await runCli(['record', '-F', '999', '--', '/nonexistent/command']);
    t.equal(missing.code, 127, `exit ${missing.code}: ${missing.stderr}`);
    t.notMatch(missing.stderr, /\n\s+at |internal error/);
    // Killed from outside while being recorded.
    const pidFile = join(dir, 'sleeper.pid');
    const outside = spawnRecord(t, ['-F', '999', '--', 'sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`]);
    for (let i = 0; i < 50 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    const ended = await outside.closed;
    t.equal(ended.code, 143);
    t.match(outside.stderr(), /command exited with 143$/m);
    t.same(await leakedSince(mark), [], 'nothing BPF left');
  });

  t.test('the profiled command inherits no BPF or perf-event descriptor', async (t) => {
    const listing = join(dir, 'fds.txt');
    const result = await runCli(['record', '-F', '999', '--', 'sh', '-c', `ls -l /proc/$$/fd > ${listing}; sleep 0.3`]);
    t.equal(result.code, 0, result.stderr);
    const fds = readFileSync(listing, 'utf8');
    t.ok(fds.length > 0);
    t.notMatch(fds, /anon_inode:(\[perf_event\]|bpf)/, 'no perf_event or bpf fd in the command');
  });

  t.test('accounting with tiny stack and counts maps: collected + dropped + filtered = firings, exactly', async (t) => {
    const busy = [spawn(calltree, ['3'], { stdio: 'ignore' }), spawn(calltree, ['3'], { stdio: 'ignore' })];
    t.teardown(() => busy.forEach((b) => b.kill('SIGKILL')));
    for (const [label, sizes] of [
      // One stack (and one fallback) per set: calltree's three call paths cannot all fit between
      // two harvests, however often they come (every 100 ms with maps this small). Four was
      // sometimes enough to hold every stack of 100 ms.
      ['stack map 1, counts 4', { stackStorageSize: 1, countsSize: 4 }],
      ['stack map 64, counts 2', { stackStorageSize: 64, countsSize: 2 }],
    ] as const) {
      const result = await record({ ...RECORD_DEFAULTS, frequency: 999, durationSeconds: 1, includeIdle: false, ...sizes, pids: [busy[0]!.pid!] });
      const c = result.counters;
      const drops = COUNTERS.filter((n) => n.startsWith('DROP_')).reduce((sum, n) => sum + c[n], 0);
      t.equal(c.COLLECTED + drops + c.FILTERED, c.PROBE_FIRINGS, `${label}: ${c.COLLECTED} collected + ${drops} dropped + ${c.FILTERED} filtered = ${c.PROBE_FIRINGS} firings`);
      if (sizes.countsSize === 2) t.ok(c.DROP_COUNTS_FULL > 0, `${label}: a full counts map is counted (${c.DROP_COUNTS_FULL})`);
      else t.ok(drops > 0, `${label}: stack map drops are counted (${drops})`);
      t.ok(c.FILTERED > 0, `${label}: other processes are counted as filtered (${c.FILTERED})`);
      t.equal(result.raw.samples.reduce((sum, s) => sum + s.count, 0), c.COLLECTED, `${label}: the counts map holds every collected sample`);
      const reported = Object.values(result.raw.metadata.dropped ?? {}).reduce((a, b) => a + b, 0);
      t.equal(reported, drops, `${label}: the report names every drop by reason: ${JSON.stringify(result.raw.metadata.dropped)}`);
      t.comment(`accounting ${label}: firings ${c.PROBE_FIRINGS}, unaccounted ${c.PROBE_FIRINGS - c.COLLECTED - drops - c.FILTERED}`);
    }
  });

  t.test('through the CLI: the folded output holds exactly the samples the summary reports', async (t) => {
    const busy = spawn(calltree, ['3'], { stdio: 'ignore' });
    t.teardown(() => busy.kill('SIGKILL'));
    const out = join(dir, 'tiny.folded');
    const result = await runCli(['record', '-F', '999', '--duration', '1', '--stack-storage-size', '8', '-o', out]);
    t.equal(result.code, 0, result.stderr);
    const summary = /^profile: (\d+) samples, \d+ processes, (\d+) dropped(?: \((.*)\))?/m.exec(result.stderr);
    t.ok(summary, `summary line: ${result.stderr}`);
    const text = readFileSync(out, 'utf8');
    const total = text.trimEnd().split('\n').reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    t.equal(total, Number(summary![1]), `folded total ${total} = reported samples`);
    t.ok(Number(summary![2]) > 0 && /stack/.test(summary![3] ?? ''), `drops reported by reason: ${summary![3]}`);
  });

  t.test('nothing BPF is left behind after the whole suite', async (t) => {
    t.same(await leakedSince(mark), [], 'no program, link or map of ours survives');
  });
}
