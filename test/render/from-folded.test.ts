// `profile render` draws folded input straight into the SVG/HTML (src/render/from-folded.ts): the
// result must be byte for byte what the general path (a Profile) gives, from a file or standard
// input, and anything that is not folded must still reach the general reader. ~4 s.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../../src/input/index.js';
import { writeProfile } from '../../src/output/index.js';
import { oneLineError, ROOT, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'profile-from-folded-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Hostile names, kinds by annotation, recursion, a comment, a zero count and unsorted lines.
const FOLDED = [
  '# written by hand',
  'bash;main;execute_command;fork 12',
  'bash;main;readline 5',
  'node;uv_run;epoll_wait_[k] 30',
  'node;uv_run;js_fn_[j];inl_[i] 8',
  '<img src=x onerror=alert(1)>;</script><script>;"quoted" 3',
  'rec;rec;rec 4',
  'bash;main;readline 0',
  'bash;main 2',
].join('\n') + '\n';
const input = join(dir, 'in.folded');
writeFileSync(input, FOLDED);

async function expected(format: 'svg' | 'html', render: Record<string, unknown>): Promise<string> {
  const path = join(dir, `expected-${format}-${Object.keys(render).join('-')}.${format}`);
  await writeProfile(await loadProfile(input), { path }, { render });
  return readFileSync(path, 'utf8');
}

for (const format of ['svg', 'html'] as const) {
  for (const [flags, render] of [
    [[], {}],
    [['--reverse', '--title', 'T'], { reverse: true, title: 'T' }],
  ] as [string[], Record<string, unknown>][]) {
    t.test(`${format} ${flags.join(' ') || '(defaults)'}: from a file and from standard input, as via a Profile`, async (t) => {
      const want = await expected(format, render);
      const out = join(dir, `out.${format}`);
      const fromFile = await runCli(['render', input, '-o', out, ...flags]);
      t.equal(fromFile.code, 0, fromFile.stderr);
      t.equal(readFileSync(out, 'utf8'), want);
      const fromStdin = await runCli(['render', '-o', out, ...flags], { input: FOLDED });
      t.equal(fromStdin.code, 0, fromStdin.stderr);
      t.equal(readFileSync(out, 'utf8'), want);
    });
  }
}

t.test('input that is not folded still goes through the general reader', async (t) => {
  const perf = join(ROOT, 'fixtures/collapse/perf/fields.txt');
  const want = join(dir, 'perf-want.html');
  await writeProfile(await loadProfile(perf), { path: want }, { render: {} });
  const out = join(dir, 'perf.html');
  const fromStdin = await runCli(['render', '-o', out], { input: readFileSync(perf) });
  t.equal(fromStdin.code, 0, fromStdin.stderr);
  t.equal(readFileSync(out, 'utf8'), readFileSync(want, 'utf8'), 'standard input is replayed from its first byte');
});

t.test('a bad folded line is one error naming the file and line', async (t) => {
  const bad = join(dir, 'bad.folded');
  writeFileSync(bad, 'a;b 1\nno count\n');
  for (const format of ['svg', 'html']) {
    const result = await runCli(['render', bad, '-o', join(dir, `bad.${format}`)]);
    t.equal(oneLineError(result), undefined);
    t.match(result.stderr, `${bad}:2: expected folded stack`);
  }
});
