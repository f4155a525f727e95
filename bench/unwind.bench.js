// `npm run bench -- unwind`: unwind table generation (src/unwind) for node's .eh_frame, cold
// (no cache: parse and compile) and warm (read from the on-disk cache filled by an earlier run),
// medians of 5 runs, each in a fresh process, timing unwindTableFor() only (the OS page cache is
// warm in every case). Then, for libc, python3 and node: rows, table bytes, FDEs and how many
// rows have each rule, which size the BPF maps and say how often the walker must give up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit } from './report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;
const BINARIES = [
  ['libc', '/lib/x86_64-linux-gnu/libc.so.6'],
  ['python3', '/usr/bin/python3'],
  ['node', process.execPath],
];
const RULES = ['NONE', 'RSP', 'RBP', 'PLT', 'END', 'SIGNAL', 'INVALID'];

async function worker(path, cacheDirectory) {
  const { unwindTableFor, decodeRow, CfaRule, RbpRule } = await import(join(root, 'dist/unwind/index.js'));
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const table = unwindTableFor(path, { cacheDirectory: cacheDirectory || undefined });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  const rules = {};
  let rbpInvalid = 0;
  for (let i = 0; i < table.rowCount; i++) {
    const row = decodeRow(table, i);
    const name = RULES[row.cfaRule];
    rules[name] = (rules[name] ?? 0) + 1;
    if (row.rbpRule === RbpRule.INVALID && row.cfaRule !== CfaRule.INVALID) rbpInvalid++;
  }
  console.log(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, rows: table.rowCount, bytes: table.rows.length, fdes: table.functionStarts.length, source: table.source, rules, rbpInvalid }));
}

function run(path, cacheDirectory) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', path, cacheDirectory ?? ''], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const ms = (x) => `${x.toFixed(1)} ms`;
const count = (x) => x.toLocaleString('en');

async function main() {
  const node = realpathSync(process.execPath);
  const rows = [];
  const notes = [`Each figure: unwindTableFor() in a fresh process; node: medians of ${RUNS} runs; the OS page cache is warm in every case.`];
  const cache = mkdtempSync(join(tmpdir(), 'profile-bench-unwind-'));
  try {
    const cold = Array.from({ length: RUNS }, () => run(node, undefined));
    run(node, cache); // fills the cache
    const warm = Array.from({ length: RUNS }, () => run(node, cache));
    if (warm.some((w) => w.rows !== cold[0].rows)) throw new Error('warm and cold tables differ in size');
    const size = `${count(cold[0].rows)} rows, ${count(cold[0].bytes)} bytes, ${count(cold[0].fdes)} FDEs`;
    for (const [name, runs, readme] of [['cold (compile)', cold, "unwind table of node's `.eh_frame`, compiled"], ['warm (on-disk cache)', warm, "unwind table of node's `.eh_frame`, from the cache"]]) {
      rows.push({
        what: `node (${node}) .eh_frame, ${name}: ${size}`,
        ours: `${ms(median(runs.map((r) => r.ms)))} wall, ${ms(median(runs.map((r) => r.cpuMs)))} CPU`,
        readme,
      });
      notes.push(`node, ${name}, each run's wall time: ${runs.map((r) => r.ms.toFixed(1)).join(', ')} ms.`);
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  for (const [name, path] of BINARIES) {
    let real;
    try {
      real = realpathSync(path);
    } catch {
      rows.push({ what: `${name} (${path})`, ours: 'absent' });
      continue;
    }
    const r = run(real, undefined);
    rows.push({ what: `${name} ${r.source} table, cold`, ours: `${count(r.fdes)} FDEs, ${count(r.rows)} rows, ${count(r.bytes)} bytes, ${ms(r.ms)}` });
    notes.push(`${name}, rows by CFA rule: ${RULES.map((k) => `${k} ${r.rules[k] ?? 0}`).join(', ')}; rows whose rbp rule is INVALID: ${r.rbpInvalid}.`);
  }
  emit({ title: 'Unwind tables', rows, notes });
}

if (process.argv[2] === '--worker') await worker(process.argv[3], process.argv[4]);
else await main();
