// bin/run.js runs the CLI bundled into one file (scripts/bundle.js), with oclif's explicit command
// list and a V8 code cache. Every command line here runs twice: through bin/run.js, and through
// oclif as it runs without the bundle (its package index, the tsc output in dist/commands found by
// oclif's folder scan). Exit code, standard output, standard error and written files must be the
// same: for plain command lines, help, --version, bad flags, `--`, repeated flags, unknown
// commands. Then what `collapse` loads: none of the packages that only other commands need.
// ~60 s on 2 busy cores (two CLI runs per case).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';

const FIXTURES = join(ROOT, 'fixtures', 'collapse');
const perf = join(FIXTURES, 'perf', 'process.txt');
const twoEvents = join(FIXTURES, 'perf', 'two-events.txt');
const bpftraceFile = join(FIXTURES, 'bpftrace', 'comm-kstack-two-maps.txt');
const work = mkdtempSync(join(tmpdir(), 'bundled-cli-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// oclif without the bundle: its index, package.json as it is but for the commands, which it finds
// by scanning dist/commands (the tsc output of the same sources). A script file, as bin/run.js is:
// oclif reads process.argv too.
const unbundled = join(work, 'unbundled.mjs');
writeFileSync(unbundled, `
import { readFileSync } from 'node:fs';
const { Config, execute } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'node_modules', '@oclif', 'core', 'lib', 'index.js')).href)});
const root = ${JSON.stringify(ROOT)};
const pjson = JSON.parse(readFileSync(root + '/package.json', 'utf8'));
pjson.oclif.commands = './dist/commands';
const config = await Config.load({ root, pjson });
await execute({ loadOptions: config });
`);

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly written?: string;
}

function run(args: readonly string[], bundled: boolean, input?: string, writes?: string): Run {
  rmSync(writes ?? join(work, 'none'), { force: true });
  const [command, argv] = bundled ? cliSpawnArgs(args) : ['env', ['-u', 'NODE_OPTIONS', process.execPath, unbundled, ...args]];
  const result = spawnSync(command, argv, { cwd: ROOT, encoding: 'utf8', input: input ?? '', env: cliEnv({ COLUMNS: '100' }) });
  const written = writes !== undefined && existsSync(writes) ? readFileSync(writes, 'utf8') : undefined;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ...(written === undefined ? {} : { written }) };
}

const out = join(work, 'out.folded');
const cases: { args: string[]; input?: string; writes?: string }[] = [
  { args: ['--version'] },
  { args: ['--help'] },
  { args: [] },
  { args: ['colapse'] },
  { args: ['collapse', perf] },
  { args: ['collapse', '--pid', perf] },
  { args: ['collapse', perf, '--tid', '--kernel'] },
  { args: ['collapse', '--all', '--inline', '--addrs', perf] },
  { args: ['collapse', '--weight=samples', perf] },
  { args: ['collapse', '--event-filter', 'task-clock:', twoEvents] },
  { args: ['collapse', twoEvents] },
  { args: ['collapse', '-o', out, perf], writes: out },
  { args: ['collapse', `--output=${out}`, '--format', 'folded', perf], writes: out },
  { args: ['collapse', '-o', join(work, 'x.unknown'), perf] },
  { args: ['collapse', join(work, 'missing.txt')] },
  { args: ['collapse', work] },
  { args: ['collapse'], input: readFileSync(perf, 'utf8') },
  { args: ['collapse', '-'], input: readFileSync(perf, 'utf8') },
  { args: ['collapse'], input: '' },
  { args: ['collapse', '--map', '@x', bpftraceFile] },
  { args: ['collapse', '--help'] },
  { args: ['collapse', '-h'] },
  { args: ['collapse', '--bogus', perf] },
  { args: ['collapse', '--weight', 'heavy', perf] },
  { args: ['collapse', '--weight'] },
  { args: ['collapse', '--pid', '--pid', perf] },
  { args: ['collapse', '--pid=yes', perf] },
  { args: ['collapse', perf, perf] },
  { args: ['collapse', '--', perf] },
  { args: ['collapse', '--event-filter', '-x', perf] },
  { args: ['render', '--help'] },
  { args: ['render', perf, '--width', 'wide'] },
  { args: ['render', perf, '--open'] },
  { args: ['diff'] },
  { args: ['diff', perf, join(work, 'missing.folded')] },
  { args: ['doctor', '--help'] },
  { args: ['push', perf] },
  { args: ['record', '--help'] },
  { args: ['record', '--frequency', 'often'] },
];

t.test('the bundled CLI gives what oclif gives without the bundle', async (t) => {
  for (const { args, input, writes } of cases) {
    const name = args.map((a) => a.replace(ROOT + '/', '').replace(work, 'TMP')).join(' ') || '(no arguments)';
    const bundled = run(args, true, input, writes);
    const unbundled = run(args, false, input, writes);
    t.same(bundled, unbundled, `profile ${name}: exit ${bundled.status}`);
  }
});

t.test('collapse loads no package that only other commands need', async (t) => {
  // A preload that lists every module id the process asks Node's loader for.
  const hook = join(work, 'hook.cjs');
  writeFileSync(hook, `
    const Module = require('node:module');
    const asked = new Set();
    const load = Module._load;
    Module._load = function (request, ...rest) { asked.add(request); return load.call(this, request, ...rest); };
    process.on('exit', () => process.stderr.write('ASKED ' + JSON.stringify([...asked]) + '\\n'));
  `);
  const result = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '--require', hook, join(ROOT, 'bin', 'run.js'), 'collapse', perf], { encoding: 'utf8', env: cliEnv() });
  t.equal(result.status, 0, 'collapse exits 0');
  const line = result.stderr.split('\n').find((l) => l.startsWith('ASKED '));
  const asked: string[] = JSON.parse(line?.slice(6) ?? '[]');
  t.ok(asked.some((id) => id.endsWith('cli.cjs')), 'the bundle was loaded through the hooked loader');
  for (const heavy of ['koffi', 'puppeteer-core', 'source-map', 'pprof-format', 'gecko-profiler-demangle', 'typescript']) {
    t.notOk(asked.includes(heavy), `${heavy} not loaded`);
  }
  t.notOk(asked.some((id) => id.includes('/dist/') && !id.endsWith('cli.cjs')), 'nothing loaded from dist/ beside the bundle');
});
