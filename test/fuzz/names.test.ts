// Untrusted names (comm, symbols, module paths) with control bytes, ANSI escapes, invalid UTF-16,
// HTML/SVG/XML metacharacters and huge lengths, through every writer registered in
// src/output/index.ts and through the CLI to a terminal. Local ~5 s; CI ~20 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ProfileError } from '../../src/errors.js';
import { writeProfile, type OutputFormat } from '../../src/output/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { FrameKind, Profile } from '../../src/profile/model.js';
import { runCli } from '../helpers/cli.js';
import { checkProperty, fc, hostileName, terminalSafe } from '../helpers/fuzz.js';

const KINDS: FrameKind[] = ['kernel', 'user', 'jit', 'inline'];

// Each generated name is wrapped in markers that must never appear raw in markup output.
const MARKUP_PROBES = ['<x-evil', '<script>alert(1)', '</script><x-evil', '"><x-evil', "'><x-evil", ']]><x-evil', '<!--<x-evil'];

const hostileProfile = fc
  .array(
    fc.record({
      frames: fc.array(fc.record({ name: hostileName(), kind: fc.constantFrom(...KINDS), module: fc.option(hostileName(), { nil: undefined }), file: fc.option(hostileName(), { nil: undefined }) }), { minLength: 1, maxLength: 6 }),
      comm: fc.option(hostileName(), { nil: undefined }),
      probe: fc.constantFrom(...MARKUP_PROBES),
      weight: fc.integer({ min: 1, max: 10_000 }),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((stacks) => {
    const builder = new ProfileBuilder();
    for (const s of stacks) {
      const frames = s.frames.map((f, i) => ({ ...f, name: i === 0 ? `${s.probe}${f.name}` : f.name }));
      builder.addFrames(frames, s.weight, s.comm === undefined ? undefined : { comm: `${s.probe}${s.comm}`, pid: 42, tid: 43 });
    }
    return builder.build({ title: `${stacks[0]!.probe}\u001b[2J title`, commandLine: '<x-evil>\u001b]0;x\u0007', host: '\u009b31m<x-evil>' });
  });

async function render(profile: Profile, format: OutputFormat): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  await writeProfile(profile, { format }, {}, out);
  out.end();
  return Buffer.concat(chunks);
}

// C0 controls other than tab/LF/CR (ESC included): not allowed in XML, and what a terminal acts on
// if the file is ever printed. DEL and C1 are legal XML 1.0 characters and inert in a browser.
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

t.test('folded output: no control byte, one line per stack, whatever the names', async (t) => {
  await checkProperty(t, 'names → folded', 150, [hostileProfile], async (profile) => {
    const text = (await render(profile, 'folded')).toString('utf8');
    if (!terminalSafe(text.replaceAll('\n', ''))) throw new Error(`control byte in folded output: ${JSON.stringify(text.slice(0, 300))}`);
    const lines = text.split('\n').filter((l) => l.length > 0);
    const distinct = new Set(lines.map((l) => l.slice(0, l.lastIndexOf(' '))));
    if (distinct.size !== lines.length || lines.length > profile.stacks.length) throw new Error('a name split or merged lines');
  });
});

for (const format of ['svg', 'html'] as const) {
  t.test(`${format} output: markup from names never appears raw`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `profile-names-${format}-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    let written = 0;
    await checkProperty(t, `names → ${format}`, 60, [hostileProfile], async (profile) => {
      const bytes = await render(profile, format);
      const text = bytes.toString('utf8');
      for (const p of MARKUP_PROBES) if (text.includes(p)) throw new Error(`raw ${JSON.stringify(p)} in ${format} output`);
      if (RAW_CONTROL.test(text)) throw new Error(`raw control byte ${JSON.stringify(RAW_CONTROL.exec(text)![0])} in ${format} output`);
      if (format === 'svg' && written < 40) writeFileSync(join(dir, `${written++}.svg`), bytes);
    });
    if (format === 'svg' && written > 0) {
      // Well-formed XML, checked by an independent parser (Python's expat) in one batch.
      const check = "import sys,glob,xml.etree.ElementTree as E\nfor f in glob.glob(sys.argv[1]+'/*.svg'):\n  E.parse(f)\nprint('ok')";
      t.equal(execFileSync('python3', ['-c', check, dir], { encoding: 'utf8' }).trim(), 'ok', `${written} hostile SVGs parse as XML`);
    }
  });
}

t.test('the CLI never sends raw escape sequences to the terminal (collapse of hostile folded input)', async (t) => {
  const input = [
    '\u001b]0;pwned\u0007evil;\u001b[31mred 3',
    '\u009b2Jc1;x 1',
    '#comment-looking comm;f 2',
    `${'A'.repeat(100_000)};long 1`,
    'ok;\u0000nul\u007fdel 4',
  ].join('\n') + '\n';
  const file = join(mkdtempSync(join(tmpdir(), 'profile-names-')), 'evil.folded');
  writeFileSync(file, input);
  t.teardown(() => rmSync(file, { force: true }));
  const result = await runCli(['collapse', file]);
  t.equal(result.code, 0, result.stderr);
  t.ok(terminalSafe(result.stdout.replaceAll('\n', '')), 'stdout holds no control byte');
  t.equal(result.stdout.trimEnd().split('\n').length, 4, 'one line per distinct stack (the comment line is skipped)');
  const bad = await runCli(['collapse'], { input: '\u001b[2J\u009b31m\u001b]0;x\u0007 not a profile\n' });
  t.equal(bad.code, 2);
  t.ok(terminalSafe(bad.stderr.replace(/\n$/, '')), `error line holds no control byte: ${JSON.stringify(bad.stderr)}`);
  t.equal(readFileSync(file, 'utf8'), input);
  const path = await runCli(['collapse', '/tmp/no\u001b[2J\nsuch\u009b1m\u202efile']);
  t.equal(path.code, 2);
  t.equal(path.stderr, 'profile: /tmp/no\\x1b[2J\\x0asuch\\x9b1m\\u202efile: cannot read: no such file or directory\n', 'a hostile path in an error is escaped');
});

t.test('every ProfileError line is printable, whatever its file and message hold', async (t) => {
  await checkProperty(t, 'ProfileError.toLine printable', 300, [hostileName(), hostileName(), fc.option(fc.nat(), { nil: undefined })], async (file, message, line) => {
    const text = new ProfileError(message, { file, line }).toLine();
    if (!terminalSafe(text) || /[\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(text)) throw new Error(`not printable: ${JSON.stringify(text.slice(0, 200))}`);
  });
});
