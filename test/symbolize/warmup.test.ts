// Warming while recording (src/symbolize/warmup.ts): slices run only while the machine has idle
// CPU and within the process's CPU budget, a busy machine is looked at again later, and stop()
// drops what is queued. Fake CPU times, a counting symbolizer. About 1 s.
import t from 'tap';
import type { Symbolizer } from '../../src/symbolize/index.js';
import type { ProcessSnapshot } from '../../src/profile/raw.js';
import { RECORDER_CPU_SHARE, Warmup } from '../../src/symbolize/warmup.js';

const snapshot: ProcessSnapshot = { pid: 1, comm: 'x', mappings: [] };
const counting = (): { symbolizer: Symbolizer; calls: () => number } => {
  let calls = 0;
  return { symbolizer: { warm: () => void calls++ } as unknown as Symbolizer, calls: () => calls };
};
/** A process that uses no CPU but warming's: the budget does not hold these tests back. */
const noOtherCpu = (): number => 0;
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('an idle machine: every queued stack is warmed', async (t) => {
  const { symbolizer, calls } = counting();
  let jiffies = 0;
  // 2 CPUs, both idle: every jiffy idle.
  const warmup = new Warmup(symbolizer, () => ((jiffies += 100), { idle: jiffies, total: jiffies }), 2, RECORDER_CPU_SHARE, noOtherCpu);
  for (let i = 0; i < 50; i++) warmup.add(snapshot, [1n]);
  await wait(400);
  t.equal(calls(), 50);
  t.equal(warmup.warmed, 50);
});

t.test('a busy machine: nothing is warmed until CPU is idle again', async (t) => {
  const { symbolizer, calls } = counting();
  let idle = 0;
  let total = 0;
  let busy = true;
  const warmup = new Warmup(symbolizer, () => ((total += 100), (idle += busy ? 1 : 100), { idle, total }), 2, RECORDER_CPU_SHARE, noOtherCpu);
  await wait(300); // the first look compares with the reading taken at construction
  warmup.add(snapshot, [1n]);
  await wait(600);
  t.equal(calls(), 0, 'both CPUs busy (1 % idle): left alone');
  busy = false;
  await wait(700);
  t.equal(calls(), 1, 'warmed once CPU was idle');
  warmup.stop();
});

t.test('stop() drops the queue; empty stacks are not queued', async (t) => {
  const { symbolizer, calls } = counting();
  const warmup = new Warmup(symbolizer, undefined, 2, RECORDER_CPU_SHARE, noOtherCpu);
  warmup.add(snapshot, []);
  for (let i = 0; i < 10; i++) warmup.add(snapshot, [1n]);
  warmup.stop();
  warmup.add(snapshot, [1n]);
  await wait(50);
  t.equal(calls(), 0);
});

t.test('a symbolizer that throws ends warming, not the recording', async (t) => {
  let calls = 0;
  const throwing = { warm: () => { calls++; throw new Error('damaged DWARF'); } } as unknown as Symbolizer;
  const warmup = new Warmup(throwing, undefined, 2, RECORDER_CPU_SHARE, noOtherCpu);
  for (let i = 0; i < 5; i++) warmup.add(snapshot, [1n]);
  await wait(50);
  t.equal(calls, 1, 'stopped at the first failure');
  warmup.add(snapshot, [1n]);
  await wait(20);
  t.equal(calls, 1, 'and stays stopped');
});

t.test('idle time from before a workload started does not count', async (t) => {
  const { symbolizer, calls } = counting();
  let call = 0;
  let idle = 0;
  let total = 0;
  // The first look spans a second in which the machine was idle; every look after it sees both CPUs busy.
  const warmup = new Warmup(symbolizer, () => {
    const before = call++ <= 1;
    total += before ? 200 : 20;
    idle += before ? 200 : 0;
    return { idle, total };
  }, 2, RECORDER_CPU_SHARE, noOtherCpu);
  await wait(700);
  warmup.add(snapshot, [1n]);
  await wait(800);
  t.equal(calls(), 0, 'the stale idle window was not taken for an idle machine');
  warmup.stop();
});

t.test('warming keeps to its share of one CPU, however much is queued', async (t) => {
  let calls = 0;
  // The process's CPU is what warming spends: the test runner's own work does not count.
  let spent = 0;
  const busyFor = (ms: number): void => {
    const began = performance.now();
    while (performance.now() < began + ms);
    spent += performance.now() - began;
  };
  // Each stack costs 10 ms (a binary's DWARF); 2 % of a CPU allows 20 ms a second.
  const slow = { warm: () => { calls++; busyFor(10); } } as unknown as Symbolizer;
  const warmup = new Warmup(slow, undefined, 2, 0.02, () => spent);
  for (let i = 0; i < 100; i++) warmup.add(snapshot, [1n]);
  const began = performance.now();
  await wait(1500);
  const elapsed = performance.now() - began;
  warmup.stop();
  // The first slice spends its 5 ms of credit (one 10 ms call), then 20 ms a second at most.
  const allowed = Math.ceil((5 + elapsed * 0.02) / 10) + 1;
  t.ok(calls >= 1, `warming ran (${calls} calls)`);
  t.ok(calls <= allowed, `${calls * 10} ms warmed in ${elapsed.toFixed(0)} ms: at most ${allowed} calls`);
});

t.test('the budget is the whole process\'s: CPU used elsewhere leaves warming less', async (t) => {
  const began = performance.now();
  // A process that spends, outside warming, 2 % of a CPU (harvests, the compiler's threads):
  // more than the recorder's share, so nothing is left for warming.
  const busy = counting();
  const overBudget = new Warmup(busy.symbolizer, undefined, 2, 0.007, () => (performance.now() - began) * 0.02);
  // One that spends 0.2 %: warming gets the rest.
  const quiet = counting();
  const underBudget = new Warmup(quiet.symbolizer, undefined, 2, 0.007, () => (performance.now() - began) * 0.002);
  for (let i = 0; i < 20; i++) {
    overBudget.add(snapshot, [1n]);
    underBudget.add(snapshot, [1n]);
  }
  await wait(300);
  overBudget.stop();
  underBudget.stop();
  t.equal(busy.calls(), 0, 'a process over its share warms nothing');
  t.equal(quiet.calls(), 20, 'a process under its share warms');
});
