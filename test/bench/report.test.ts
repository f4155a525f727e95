// The writer of docs/benchmarks.md (bench/report.js): a run replaces its own section and nothing
// else, the README's table follows the stored results, and every file is replaced by a rename, so
// a reader never sees half a file.
import t, { type Test } from 'tap';
import { linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { README_END, README_START, record, renderSection, replaceSection, writeAtomic, type BenchResult, type BenchRun } from '../../bench/report.js';

const run = (name: string, date: string): BenchRun => ({ name, date, commit: 'abc1234+dirty', loadBefore: '0.50 0.40 0.30', loadAfter: '0.60 0.45 0.31', command: `npm run bench -- ${name}` });
const result = (title: string, ours: string): BenchResult => ({
  title,
  rows: [
    { what: `${title}, main figure`, ours, peer: 'peer: 2 s', ratio: '2×', target: '≥ 20×', met: false, readme: `${title} in the README` },
    { what: 'a | pipe in a name', ours: '1 ms', met: true },
  ],
  notes: ['medians of 5'],
});

function folder(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a section holds the run and its rows, framed by its markers', async (t) => {
  const section = renderSection(run('collapse', '2026-12-03'), result('collapse', '0.3 s'));
  const lines = section.split('\n');
  t.equal(lines[0], '<!-- bench:collapse:start -->');
  t.equal(lines.at(-1), '<!-- bench:collapse:end -->');
  t.match(section, /Run on 2026-12-03 at commit abc1234\+dirty; load average \(1, 5, 15 min\) 0\.50 0\.40 0\.30 before, 0\.60 0\.45 0\.31 after\./);
  t.match(section, /Command: `npm run bench -- collapse`/);
  t.ok(lines.includes('| collapse, main figure | 0.3 s | peer: 2 s | 2× | ≥ 20× | no |'));
  t.ok(lines.includes('| a \\| pipe in a name | 1 ms | — | — | — | yes |'), 'a pipe in a cell is escaped, absent cells are dashes');
  t.ok(lines.includes('- medians of 5'));
});

t.test('replacing a section leaves the rest of the file byte for byte', async (t) => {
  const head = '# Benchmarks\n\nHand-written lead.\n\n';
  const first = renderSection(run('alpha', '2026-12-01'), result('alpha', '1 s'));
  const second = renderSection(run('beta', '2026-12-01'), result('beta', '2 s'));
  const tail = '\n\nTrailing words, kept.\n';
  const text = `${head}${first}\n\n${second}${tail}`;
  const newer = renderSection(run('alpha', '2026-12-03'), result('alpha', '0.5 s'));
  const replaced = replaceSection(text, 'alpha', newer);
  t.equal(replaced, `${head}${newer}\n\n${second}${tail}`);
  t.equal(replaceSection(replaced, 'alpha', first), text, 'replacing it back gives the original file');

  const gamma = renderSection(run('gamma', '2026-12-03'), result('gamma', '3 s'));
  const appended = replaceSection(text, 'gamma', gamma);
  t.ok(appended.startsWith(text), 'a new benchmark leaves what is there');
  t.equal(appended.slice(text.length), `\n${gamma}\n`);
  t.throws(() => replaceSection('<!-- bench:alpha:start -->\nno end', 'alpha', first), /has no <!-- bench:alpha:end -->/);
});

t.test('record writes the store, the section and the README table, each by a rename', async (t) => {
  const dir = folder(t);
  const paths = { results: join(dir, 'results.json'), docs: join(dir, 'benchmarks.md'), readme: join(dir, 'README.md') };
  const lead = '# Benchmarks\n\nWritten by npm run bench.\n';
  writeFileSync(paths.docs, lead);
  const readmeHead = '# profile\n\n## Benchmarks\n\n';
  const readmeTail = '\n\n## More\n\nLicence: MIT.\n';
  writeFileSync(paths.readme, `${readmeHead}${README_START}\n${README_END}${readmeTail}`);

  record(paths, run('beta', '2026-12-01'), result('beta', '2 s'));
  const betaSection = renderSection(run('beta', '2026-12-01'), result('beta', '2 s'));
  t.equal(readFileSync(paths.docs, 'utf8'), `${lead}\n${betaSection}\n`);

  // Hard links to the files as they are now: a file rewritten in place would change under them.
  mkdirSync(join(dir, 'old'));
  for (const name of ['benchmarks.md', 'README.md', 'results.json']) linkSync(join(dir, name), join(dir, 'old', name));
  const before = Object.fromEntries(['benchmarks.md', 'README.md', 'results.json'].map((n) => [n, readFileSync(join(dir, n), 'utf8')]));

  record(paths, run('alpha', '2026-12-03'), result('alpha', '1 s'));
  for (const name of ['benchmarks.md', 'README.md', 'results.json']) {
    t.equal(readFileSync(join(dir, 'old', name), 'utf8'), before[name], `${name} was replaced by a rename, not rewritten in place`);
  }
  const alphaSection = renderSection(run('alpha', '2026-12-03'), result('alpha', '1 s'));
  t.equal(readFileSync(paths.docs, 'utf8'), `${lead}\n${betaSection}\n\n${alphaSection}\n`);

  const readme = readFileSync(paths.readme, 'utf8');
  t.ok(readme.startsWith(`${readmeHead}${README_START}\n`) && readme.endsWith(`${README_END}${readmeTail}`), 'the README outside its markers is untouched');
  const table = readme.slice(readmeHead.length, readme.length - readmeTail.length).split('\n');
  t.same(table.slice(3, -1), ['| alpha in the README | 1 s | peer: 2 s | 2026-12-03 |', '| beta in the README | 2 s | peer: 2 s | 2026-12-01 |'], 'one row per readme row, by benchmark name');

  const stored = JSON.parse(readFileSync(paths.results, 'utf8'));
  t.same(Object.keys(stored), ['alpha', 'beta']);
  t.same(stored.alpha, { run: run('alpha', '2026-12-03'), result: result('alpha', '1 s') });
  t.same(readdirSync(dir).sort(), ['README.md', 'benchmarks.md', 'old', 'results.json'], 'no temporary file left');
});

t.test('a failed write leaves neither the target changed nor a temporary file', async (t) => {
  const dir = folder(t);
  const target = join(dir, 'a-directory');
  mkdirSync(target);
  t.throws(() => writeAtomic(target, 'text'));
  t.same(readdirSync(dir), ['a-directory']);
  t.same(readdirSync(target), []);
});
