// Property tests for every collapse input format registered in src/collapse/index.ts (perf script,
// bpftrace, BCC), from real seeds recorded on this machine (fixtures/fuzz/: `perf script`
// with and without -g and with -F fields, bpftrace kstack/ustack maps, BCC profile default and -f).
// Local ~5 s per format; CI ~15 s.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { collapse, INPUT_FORMATS } from '../../src/collapse/index.js';
import { foldedLines, readFolded } from '../../src/profile/folded.js';
import type { Profile } from '../../src/profile/model.js';
import { checkProperty, chunkCuts, chunkedStream, fc, mutatedFrom, resultOrProfileError, utf8, type Outcome } from '../helpers/fuzz.js';

const FIXTURES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'fixtures', 'fuzz');
const files = readdirSync(FIXTURES).sort();
const seedsOf = (prefix: string): Uint8Array[] => files.filter((f) => f.startsWith(prefix)).map((f) => new Uint8Array(readFileSync(join(FIXTURES, f))));
const SEEDS: Record<string, Uint8Array[]> = { perf: seedsOf('perf-'), bpftrace: seedsOf('bpftrace'), bcc: seedsOf('bcc') };
const ALL_SEEDS = Object.values(SEEDS).flat();

const lineUnlessEmpty = { line: (e: { message: string }) => !/empty/.test(e.message) };

async function foldedOf(work: () => Promise<Profile>, file: string): Promise<Outcome<string[]>> {
  const outcome = await resultOrProfileError(work, { file, ...lineUnlessEmpty });
  return outcome.ok ? { ok: true, value: foldedLines(outcome.value) } : outcome;
}

for (const name of Object.keys(SEEDS)) {
  t.test(`${name} input`, async (t) => {
    t.ok(INPUT_FORMATS.some((f) => f.name === name), `'${name}' is a registered format`);
    const seeds = SEEDS[name]!;
    let parsed = 0;
    for (const seed of seeds) {
      const outcome = await foldedOf(() => collapse(chunkedStream(seed), 'seed.txt'), 'seed.txt');
      if (outcome.ok && outcome.value.length > 0) parsed++;
      else t.comment(`a real ${name} seed does not collapse: ${outcome.ok ? 'no stacks' : outcome.error.toLine()}`);
    }
    t.ok(parsed > 0, `${parsed}/${seeds.length} real ${name} seeds collapse (sniffed), so the mutations start from valid input`);

    await checkProperty(t, `${name} (forced format, mutated)`, 300, [mutatedFrom(seeds), chunkCuts], async (bytes, cuts) => {
      await foldedOf(() => collapse(chunkedStream(bytes, cuts), 'in.txt', { format: name }), 'in.txt');
    });
    await checkProperty(t, `${name} (sniffed, mutated)`, 300, [mutatedFrom(seeds)], async (bytes) => {
      await foldedOf(() => collapse(chunkedStream(bytes), '<stdin>'), '<stdin>');
    });
    await checkProperty(t, `${name} chunk invariance`, 150, [mutatedFrom(seeds), chunkCuts], async (bytes, cuts) => {
      const whole = await foldedOf(() => collapse(chunkedStream(bytes), 'f', { format: name }), 'f');
      const cut = await foldedOf(() => collapse(chunkedStream(bytes, cuts), 'f', { format: name }), 'f');
      const same = whole.ok && cut.ok ? isDeepStrictEqual(whole.value, cut.value) : !whole.ok && !cut.ok && whole.error.toLine() === cut.error.toLine();
      if (!same) throw new Error(`where chunks end changed the result: ${JSON.stringify([whole.ok ? whole.value : whole.error.toLine(), cut.ok ? cut.value : cut.error.toLine()]).slice(0, 1500)}`);
    });
    await checkProperty(t, `${name} → folded reads back`, 150, [mutatedFrom(seeds)], async (bytes) => {
      const first = await foldedOf(() => collapse(chunkedStream(bytes), 'a', { format: name }), 'a');
      if (!first.ok || first.value.length === 0) return;
      const again = await foldedOf(() => readFolded(chunkedStream(utf8(first.value.join('\n') + '\n')), 'b'), 'b');
      if (!again.ok) throw new Error(`the folded output of a ${name} input does not read back: ${again.error.toLine()}`);
      if (!isDeepStrictEqual(again.value, first.value)) throw new Error('the folded output changed on re-read');
    });
  });
}

t.test('sniffing across all formats: mixed and spliced seeds', async (t) => {
  // Two different formats spliced together, or random lines of one inside another.
  const spliced = fc.tuple(mutatedFrom(ALL_SEEDS, 3), mutatedFrom(ALL_SEEDS, 3), fc.double({ min: 0, max: 1, noNaN: true })).map(([a, b, at]) => {
    const cut = Math.floor(at * a.length);
    return new Uint8Array(Buffer.concat([a.subarray(0, cut), b]));
  });
  await checkProperty(t, 'collapse sniffing (spliced formats)', 300, [spliced], async (bytes) => {
    await foldedOf(() => collapse(chunkedStream(bytes), 'mixed.txt'), 'mixed.txt');
  });
});
