// Property tests for the folded reader, the collapse() dispatcher and the line reader under them.
// Local: ~3 s; CI (1,000 cases each): ~10 s.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { collapse } from '../../src/collapse/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { foldedLines, readFolded } from '../../src/profile/folded.js';
import type { Profile } from '../../src/profile/model.js';
import { errorLine } from '../helpers/errors.js';
import { checkProperty, chunkCuts, chunkedStream, fc, hostileName, mutatedFrom, resultOrProfileError, terminalSafe, utf8, type Outcome } from '../helpers/fuzz.js';

const SEEDS = [
  'bash;main;execute_command;fork 12\nbash;main;readline 3\nnode;start;uv_run;epoll_wait_[k] 40\n',
  'java;start_thread;Interpreter 1.5\njava;[unknown] 2\n\n# a comment\nswapper;cpu_idle_[k];default_idle_[k] 900\n',
  'a b c;with spaces;and  two 7\nä;日本語;🔥 1\n',
  'x 1\n',
].map(utf8);

// Any error from a line-based reader names a line, except "the input has no stacks at all".
const lineUnlessEmpty = { line: (e: { message: string }) => !/empty/.test(e.message) };

async function foldedOf(work: () => Promise<Profile>, file: string): Promise<Outcome<string[]>> {
  const outcome = await resultOrProfileError(work, { file, ...lineUnlessEmpty });
  return outcome.ok ? { ok: true, value: foldedLines(outcome.value) } : outcome;
}

t.test('readFolded on mutated folded input: a profile or a ProfileError with file and line', async (t) => {
  await checkProperty(t, 'folded reader (mutated)', 300, [mutatedFrom(SEEDS), chunkCuts], async (bytes, cuts) => {
    await foldedOf(() => readFolded(chunkedStream(bytes, cuts), 'in.folded'), 'in.folded');
  });
});

t.test('collapse() dispatch on mutated and random input: a profile or a ProfileError with file and line', async (t) => {
  const input = fc.oneof(mutatedFrom(SEEDS), fc.uint8Array({ maxLength: 512 }), fc.string({ unit: 'binary', maxLength: 200 }).map(utf8));
  await checkProperty(t, 'collapse dispatch (mutated/random)', 300, [input, chunkCuts], async (bytes, cuts) => {
    await foldedOf(() => collapse(chunkedStream(bytes, cuts), '<stdin>'), '<stdin>');
  });
});

t.test('where chunks end does not change the result (line reader, UTF-8 split across chunks)', async (t) => {
  await checkProperty(t, 'line reader chunk invariance', 200, [mutatedFrom(SEEDS), chunkCuts], async (bytes, cuts) => {
    const whole = await foldedOf(() => collapse(chunkedStream(bytes), 'f'), 'f');
    const cut = await foldedOf(() => collapse(chunkedStream(bytes, cuts), 'f'), 'f');
    if (whole.ok !== cut.ok) throw new Error(`chunking changed success: ${JSON.stringify([whole, cut])}`);
    if (whole.ok && cut.ok && !isDeepStrictEqual(cut.value, whole.value)) throw new Error(`chunking changed the lines: ${JSON.stringify([whole.value, cut.value])}`);
    if (!whole.ok && !cut.ok && whole.error.toLine() !== cut.error.toLine()) throw new Error(`chunking changed the error: ${whole.error.toLine()} vs ${cut.error.toLine()}`);
  });
});

t.test('whatever the reader accepts, its folded output reads back to the same lines', async (t) => {
  await checkProperty(t, 'collapse → folded → collapse (mutated)', 300, [mutatedFrom(SEEDS)], async (bytes) => {
    const first = await foldedOf(() => collapse(chunkedStream(bytes), 'a'), 'a');
    if (!first.ok) return;
    const second = await foldedOf(() => readFolded(chunkedStream(utf8(first.value.join('\n') + '\n')), 'b'), 'b');
    // A recognised input with no complete sample collapses to nothing, as stackcollapse-perf.pl
    // prints nothing; an empty folded file is an error of its own.
    if (first.value.length === 0) {
      if (second.ok || !/input is empty/.test(second.error.toLine())) throw new Error(`an empty folded output reads back as ${JSON.stringify(second)}`);
      return;
    }
    if (!second.ok) throw new Error(`our own folded output does not read back: ${second.error.toLine()}`);
    if (!isDeepStrictEqual(second.value, first.value)) throw new Error(`folded output changed on re-read: ${JSON.stringify([first.value, second.value]).slice(0, 2000)}`);
  });
});

// Frame names a folded file can carry exactly: no ';', no line break or control byte, and no
// leading/trailing white space (the count separator swallows it).
const plainName = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .map((s) => s.replace(/[;\u0000-\u001f\u007f-\u009f]/g, '').trim())
  .filter((s) => s.length > 0);
const stacks = fc.array(fc.tuple(fc.array(plainName, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 1_000_000 })), { minLength: 1, maxLength: 20 });

t.test('round trip: folded text → profile → the same folded lines, merged and sorted', async (t) => {
  await checkProperty(t, 'folded round trip (plain names)', 300, [stacks], async (input) => {
    // A first frame starting with '#' would read as a comment line: the writer's business, tested below.
    fc.pre(input.every(([frames]) => !frames[0]!.startsWith('#')));
    const expected = new Map<string, number>();
    for (const [frames, count] of input) expected.set(frames.join(';'), (expected.get(frames.join(';')) ?? 0) + count);
    // Sorted by stack, as stackcollapse-perf.pl sorts its hash keys (not by whole line).
    const want = [...expected.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => `${k} ${expected.get(k)}`);
    const text = input.map(([frames, count]) => `${frames.join(';')} ${count}\n`).join('');
    const profile = await readFolded(chunkedStream(utf8(text)), 'rt.folded');
    const got = foldedLines(profile);
    if (!isDeepStrictEqual(got, want)) throw new Error(`round trip changed the lines: ${JSON.stringify({ want, got })}`);
    const again = await readFolded(chunkedStream(utf8(foldedLines(profile).join('\n') + '\n')), 'rt.folded');
    if (again.totalWeight !== profile.totalWeight) throw new Error('weight changed on the second pass');
  });
});

t.test('whatever names a profile holds, its folded output reads back to the same lines', async (t) => {
  const hostileStacks = fc.array(
    fc.tuple(fc.array(hostileName(), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 1000 }), fc.option(hostileName(), { nil: undefined })),
    { minLength: 1, maxLength: 8 },
  );
  await checkProperty(t, 'folded writer → reader is stable (hostile names)', 150, [hostileStacks], async (input) => {
    const builder = new ProfileBuilder();
    for (const [names, weight, comm] of input) builder.addFrames(names.map((name) => ({ name, kind: 'user' as const })), weight, comm === undefined ? undefined : { comm });
    const written = foldedLines(builder.build());
    const reread = await readFolded(chunkedStream(utf8(written.join('\n') + '\n')), 'w.folded');
    const rewritten = foldedLines(reread);
    const total = (lines: string[]): number => lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    if (total(rewritten) !== total(written)) throw new Error(`samples lost on re-read: ${total(written)} written, ${total(rewritten)} read back\n${JSON.stringify(written)}`);
  });
});

// Found by the properties above; kept as plain cases so they never come back.
t.test('regressions found by fuzzing the folded reader and writer', async (t) => {
  const read = (text: string): Promise<Profile> => readFolded(chunkedStream(utf8(text)), 'r.folded');
  const b = new ProfileBuilder();
  b.addFrames([{ name: 'f', kind: 'user' }], 3, { comm: '#hidden' });
  t.same(foldedLines(b.build()), ['\\x23hidden;f 3'], "a comm starting with '#' is not written as a comment line");
  t.same(foldedLines(await read('a\u2028b;c 2\n')), ['a\u2028b;c 2'], 'U+2028 inside a name does not reject the line');
  const started = performance.now();
  await t.rejects(read(' '.repeat(1_000_000) + 'x\n'), /expected folded stack/);
  t.ok(performance.now() - started < 1000, 'a 1 MB line of spaces is rejected in linear time');
  await t.rejects(read(`a ${'9'.repeat(400)}\n`), /count is larger than/, 'a count that would be Infinity is an input error');
  t.same(foldedLines(await read('a 0.0000001\n')), ['a 0.0000001'], 'tiny fractional counts are written without an exponent');
  const big = new ProfileBuilder();
  big.addFrames([{ name: 'a', kind: 'user' }], 4e21);
  t.same(foldedLines(big.build()), ['a 4000000000000000000000'], 'huge summed counts are written without an exponent');
  t.equal(terminalSafe(await errorLine(read('\u009b31mevil\n'))), true, 'C1 controls in an error excerpt are escaped');
});

// Format sniffing holds 64 KB of lines back, but blank lines say nothing about the format: it
// waits for a line with content, however the input is chunked (FUZZ_SEED=-1028275941).
t.test('sniffing waits past blank lines for a line with content', async (t) => {
  const MB = 1 << 20;
  const longLine = '\n\n' + '0x'.repeat(40_000);
  for (const cuts of [[], [0.5], Array.from({ length: 99 }, (_, i) => (i + 1) / 100)]) {
    const error = await errorLine(collapse(chunkedStream(utf8(longLine), cuts), 'f'));
    t.match(error, /^profile: f:3: not a known stack format .*found "0x0x/, `an 80 KB first line after two blank lines, ${cuts.length + 1} chunks`);
  }
  async function* blanksThenTooLong(): AsyncGenerator<Buffer> {
    yield Buffer.from('\n\n');
    const piece = Buffer.alloc(MB, 0x41);
    for (let i = 0; i <= 64; i++) yield piece;
  }
  t.match(await errorLine(collapse(blanksThenTooLong(), 'g')), /^profile: g:3: line is longer than 67108864 characters/, 'a first line over the limit after blank lines is too long');
  const started = performance.now();
  const bytes = utf8('\n \t\r\n'.repeat(2000) + 'x'.repeat(70_000) + '\n');
  async function* oneByte(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i++) yield Buffer.from(bytes.subarray(i, i + 1));
  }
  t.match(await errorLine(collapse(oneByte(), 'h')), /^profile: h:4001: not a known stack format .*found "xxx/, 'the same in 1-byte chunks');
  t.ok(performance.now() - started < 10_000, 'in linear time (a re-scan per chunk took minutes)');
  const folded = utf8('\n'.repeat(100_000) + 'a;b 1\n');
  t.same(foldedLines(await collapse(chunkedStream(folded, [0.2, 0.4, 0.6, 0.8]), 'i')), ['a;b 1'], 'folded stacks after 100,000 blank lines');
  async function* blankForever(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, 0x0a);
    yield Buffer.from('a;b 1\n');
  }
  t.match(await errorLine(collapse(blankForever(), 'j')), /^profile: j:\d+: not a known stack format .*found only blank lines in the first \d+ lines$/, 'more than 1 MiB of blank lines first: a bounded wait and one line');
});
