// bin/fast-path.js runs `profile collapse` without loading oclif. Every command line here runs
// twice, through the fast path and through oclif (PROFILE_NO_FAST_PATH=1): exit code, standard
// output, standard error and written files must be the same, for command lines the fast path
// takes and for those it must leave to oclif (help, bad flags, `--`, repeated flags …).
// ~100 s at load average 11 on 2 cores (two CLI runs per case, oclif's ~2 s each under that load).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'collapse');
const perf = join(FIXTURES, 'perf', 'process.txt');
const twoEvents = join(FIXTURES, 'perf', 'two-events.txt');
const work = mkdtempSync(join(tmpdir(), 'fast-path-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly written?: string;
}

function run(args: readonly string[], oclif: boolean, input?: string, writes?: string): Run {
  rmSync(writes ?? join(work, 'none'), { force: true });
  const result = spawnSync(...cliSpawnArgs(args), {
    encoding: 'utf8',
    input: input ?? '',
    env: cliEnv(oclif ? { PROFILE_NO_FAST_PATH: '1' } : {}),
  });
  let written: string | undefined;
  try {
    written = writes === undefined ? undefined : readFileSync(writes, 'utf8');
  } catch {
    written = undefined;
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ...(written === undefined ? {} : { written }) };
}

const bpftraceFile = join(FIXTURES, 'bpftrace', 'comm-kstack-two-maps.txt');

const out = join(work, 'out.folded');
const cases: { args: string[]; input?: string; writes?: string; fast: boolean }[] = [
  // Taken by the fast path.
  { args: ['collapse', perf], fast: true },
  { args: ['collapse', '--pid', perf], fast: true },
  { args: ['collapse', perf, '--tid', '--kernel'], fast: true },
  { args: ['collapse', '--all', '--inline', '--addrs', perf], fast: true },
  { args: ['collapse', '--weight', 'samples', perf], fast: true },
  { args: ['collapse', '--weight=samples', perf], fast: true },
  { args: ['collapse', '--event-filter', 'task-clock:', twoEvents], fast: true },
  { args: ['collapse', twoEvents], fast: true },
  { args: ['collapse', '--input-format', 'bcc', perf], fast: true },
  { args: ['collapse', '-o', out, perf], writes: out, fast: true },
  { args: ['collapse', `--output=${out}`, '--format', 'folded', perf], writes: out, fast: true },
  { args: ['collapse', '-o', join(work, 'x.unknown'), perf], fast: true },
  { args: ['collapse', join(work, 'missing.txt')], fast: true },
  { args: ['collapse', work], fast: true },
  { args: ['collapse'], input: readFileSync(perf, 'utf8'), fast: true },
  { args: ['collapse'], input: '', fast: true },
  { args: ['collapse', bpftraceFile], fast: true },
  // Left to oclif.
  { args: ['collapse', '--help'], fast: false },
  { args: ['collapse', '-h'], fast: false },
  { args: ['collapse', '--bogus', perf], fast: false },
  { args: ['collapse', '--weight', 'heavy', perf], fast: false },
  { args: ['collapse', '--weight'], fast: false },
  { args: ['collapse', '--pid', '--pid', perf], fast: false },
  { args: ['collapse', '--pid=yes', perf], fast: false },
  { args: ['collapse', perf, perf], fast: false },
  { args: ['collapse', '--', perf], fast: false },
  { args: ['collapse', '-'], input: readFileSync(perf, 'utf8'), fast: false },
  { args: ['collapse', '--map', '@x', bpftraceFile], fast: false },
  { args: ['collapse', '--event-filter', '-x', perf], fast: false },
];

t.test('the fast path and oclif give the same exit code, output, messages and files', async (t) => {
  for (const { args, input, writes } of cases) {
    const name = args.slice(1).map((a) => a.replace(ROOT + '/', '').replace(work, 'TMP')).join(' ') || '(stdin)';
    const fast = run(args, false, input, writes);
    const oclif = run(args, true, input, writes);
    t.same(fast, oclif, `collapse ${name}: exit ${fast.status}`);
  }
});

t.test('the fast path is taken only where it should be', async (t) => {
  const { parseFlags, commandSpec } = (await import('../../bin/fast-path.js')) as unknown as {
    parseFlags: (tokens: string[], spec: unknown) => { args: string[]; flags: Record<string, unknown> } | undefined;
    commandSpec: (id: string) => unknown;
  };
  const spec = commandSpec('collapse');
  t.ok(spec, 'oclif.manifest.json describes collapse');
  for (const { args, fast } of cases) {
    t.equal(parseFlags(args.slice(1), spec) !== undefined, fast, `${fast ? 'fast' : 'oclif'}: ${args.slice(1).join(' ').replace(ROOT + '/', '')}`);
  }
  t.same(parseFlags(['-o', 'a.folded', '--pid', 'in.txt'], spec), {
    args: ['in.txt'],
    flags: { output: 'a.folded', pid: true, tid: false, kernel: false, jit: false, inline: false, all: false, addrs: false, weight: 'period', map: [] },
  }, "flags read with oclif's defaults");
});
