#!/usr/bin/env node
// `npm run fuzz [-- NAME…]`: the property tests of test/fuzz/ with many more cases (FUZZ_RUNS,
// default 100,000 per property), one tap process per file, each with a 1 GB heap so that
// unbounded memory fails instead of swapping. Prints a Markdown table of the cases run per
// property. Reproduce a failure with FUZZ_SEED=<seed from the report> (and FUZZ_RUNS).
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = process.env.FUZZ_RUNS ?? '100000';
const wanted = process.argv.slice(2);
const files = readdirSync(join(root, 'test/fuzz'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()
  .map((f) => `test/fuzz/${f}`);

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tap', '--reporter=tap', '--timeout=7200', file], {
      cwd: root,
      env: { ...process.env, FUZZ_RUNS: runs, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=1024`.trim() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ file, code, out }));
  });
}

const rows = [];
let failed = 0;
const started = Date.now();
for (const file of files) {
  const { code, out } = await runFile(file);
  for (const m of out.matchAll(/# fuzz: (.+): (\d+) cases in ([\d.]+) s/g)) rows.push({ file, name: m[1], cases: Number(m[2]), seconds: Number(m[3]) });
  const failures = [...out.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).filter((m) => !/^test\//.test(m));
  if (code !== 0) {
    failed++;
    console.error(`\n${file}: FAILED (exit ${code})`);
    for (const f of failures.slice(0, 10)) console.error(`  not ok - ${f.slice(0, 2000)}`);
  }
}

console.log(`\n## Fuzzing (${runs} cases per property requested)\n`);
console.log('| file | property | cases | seconds |');
console.log('| --- | --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.file.replace('test/fuzz/', '')} | ${r.name} | ${r.cases} | ${r.seconds.toFixed(1)} |`);
const total = rows.reduce((s, r) => s + r.cases, 0);
console.log(`\n${rows.length} properties, ${total} cases, ${failed} failing file(s), ${((Date.now() - started) / 1000).toFixed(0)} s.`);
process.exit(failed === 0 ? 0 : 1);
