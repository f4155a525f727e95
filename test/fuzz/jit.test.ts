// Property tests for what JIT processes write and the symbolizer reads: perf maps
// (src/symbolize/perfmap.ts) and source maps (src/symbolize/sourcemap.ts), from real seeds
// (node --perf-basic-prof's map, a tsc source map) mutated, and from generated hostile documents.
//
// Perf maps: the parser never throws; every line it skips is counted in one warning that names the
// file and the first bad line; and every look-up answers exactly what a plain reading of the file
// says (the last line covering an address wins, as in perf). Source maps: `frameFor` always
// settles, in bounded time, with a frame or undefined, and a map it cannot use costs one one-line
// warning naming the script, never an exception. Local ~4 s; CI (1,000 cases each) ~12 s.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePerfMap } from '../../src/symbolize/perfmap.js';
import { SourceMaps } from '../../src/symbolize/sourcemap.js';
import { CASE_TIMEOUT_MS, checkProperty, fc, hostileString, mutatedFrom, terminalSafe } from '../helpers/fuzz.js';

const FIXTURES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'fixtures', 'fuzz');
const perfMapSeed = new Uint8Array(readFileSync(join(FIXTURES, 'perfmap-node.map')));
const sourceMapSeed = new Uint8Array(readFileSync(join(FIXTURES, 'sourcemap-tsc.js.map')));

// ---- perf maps: an independent, plain reading of the format -----------------------------------

function hexField(field: string): number {
  const digits = field.length > 2 && /^0x/i.test(field) ? field.slice(2) : field;
  return /^[0-9a-f]{1,16}$/i.test(digits) ? Number(BigInt(`0x${digits}`)) : NaN;
}

interface Expected {
  readonly entries: { start: number; end: number; name: string }[];
  readonly bad: number;
  readonly firstBad: number;
}

/** `START SIZE NAME` per line; a bad last line without its newline is still being written (not bad). */
function plainReading(text: string): Expected {
  const lines = text.split('\n');
  const entries: { start: number; end: number; name: string }[] = [];
  let bad = 0;
  let firstBad = 0;
  lines.forEach((raw, i) => {
    const last = i === lines.length - 1;
    if (last && raw === '') return;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return;
    const [a, b] = [line.indexOf(' '), line.indexOf(' ', line.indexOf(' ') + 1)];
    const start = a < 0 ? NaN : hexField(line.slice(0, a));
    const size = b < 0 ? NaN : hexField(line.slice(a + 1, b));
    const name = Number.isNaN(size) ? '' : line.slice(b + 1).trimEnd();
    if (name === '' || !Number.isSafeInteger(start + size)) {
      if (!last && bad++ === 0) firstBad = i + 1;
      return;
    }
    if (size > 0) entries.push({ start, end: start + size, name });
  });
  return { entries, bad, firstBad };
}

function expectedAt(entries: Expected['entries'], address: number): string | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.start <= address && address < entries[i]!.end) return entries[i]!.name;
  return undefined;
}

function checkPerfMap(text: string, probes: readonly number[]): void {
  const started = performance.now();
  const { map, warning } = parsePerfMap(text, '/tmp/perf-42.map');
  const want = plainReading(text);
  if (want.bad === 0 && warning !== undefined) throw new Error(`warning without a bad line: ${warning}`);
  if (want.bad > 0) {
    if (warning === undefined) throw new Error(`${want.bad} bad lines and no warning`);
    if (!warning.startsWith(`/tmp/perf-42.map:${want.firstBad}: skipped ${want.bad === 1 ? 'a line' : `${want.bad} lines`}`)) throw new Error(`warning ${JSON.stringify(warning)}, expected line ${want.firstBad} and ${want.bad} lines`);
    if (!terminalSafe(warning) || warning.length > 300) throw new Error(`warning not one short safe line: ${JSON.stringify(warning)}`);
  }
  const addresses = new Set<number>(probes);
  for (const e of want.entries.slice(0, 200)) for (const a of [e.start - 1, e.start, e.end - 1, e.end]) addresses.add(a);
  for (const a of addresses) {
    const got = map.lookup(a)?.name;
    const expected = expectedAt(want.entries, a);
    if (got !== expected) throw new Error(`lookup(0x${a.toString(16)}) = ${JSON.stringify(got)}, the file says ${JSON.stringify(expected)}`);
  }
  const ms = performance.now() - started;
  if (ms > CASE_TIMEOUT_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
}

const seedProbes = plainReading(Buffer.from(perfMapSeed).toString('utf8')).entries.map((e) => e.start + 1);
const hexText = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => n.toString(16)),
  fc.integer({ min: 0, max: 0x2000 }).map((n) => n.toString(16)),
  fc.constantFrom('0x10', '0X10', '0x', '', 'g', '-1', '1 ', '00000000000000000001', 'ffffffffffffffff', '1fffffffffffff', '20000000000000'),
);
const generatedLine = fc.oneof(
  { arbitrary: fc.tuple(hexText, hexText, hostileString(24)).map(([s, z, n]) => `${s} ${z} ${n}`), weight: 6 },
  { arbitrary: fc.tuple(fc.integer({ min: 0, max: 0x3000 }), fc.integer({ min: 0, max: 0x400 }), fc.constantFrom('a', 'b', 'JS:~f /x.js:1:1', 'c d')).map(([s, z, n]) => `${s.toString(16)} ${z.toString(16)} ${n}`), weight: 6 },
  { arbitrary: hostileString(40), weight: 1 },
);

t.test('perf maps: no exception, one warning naming the first bad line, look-ups as the file says', async (t) => {
  checkPerfMap(Buffer.from(perfMapSeed).toString('utf8'), seedProbes);
  t.ok(parsePerfMap(Buffer.from(perfMapSeed).toString('utf8'), 'seed').map.size >= 90, 'the node seed parses');
  await checkProperty(t, 'perf map (mutated node map)', 300, [mutatedFrom([perfMapSeed])], async (bytes) => {
    checkPerfMap(Buffer.from(bytes).toString('utf8'), seedProbes);
  });
  await checkProperty(t, 'perf map (generated lines, overlaps, CRLF, hostile names)', 300, [fc.array(generatedLine, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.array(fc.integer({ min: 0, max: 0x3400 }), { maxLength: 20 })], async (lines, eol, finalNewline, probes) => {
    checkPerfMap(lines.join(eol) + (finalNewline ? eol : ''), probes);
  });
});

// ---- source maps -----------------------------------------------------------------------------------

const SCRIPT = '/srv/app/out/folded.js';
const MAP = `${SCRIPT}.map`;

interface SourceMapCase {
  readonly map: string;
  readonly comment: 'external' | 'inline' | 'beside';
  readonly names: readonly string[];
}

/** One SourceMaps per case, files served from memory: the script with its comment, and the map. */
async function resolveAll(c: SourceMapCase): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  const files = new Map<string, string>();
  const comment = c.comment === 'external' ? '\n//# sourceMappingURL=folded.js.map\n' : c.comment === 'inline' ? `\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(c.map).toString('base64')}\n` : '\n';
  files.set(SCRIPT, `"use strict";\nexport function f() {}${comment}`);
  if (c.comment !== 'inline') files.set(MAP, c.map);
  const maps = new SourceMaps({ warn: (w) => warnings.push(w), readFile: (path) => files.get(path) });
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const all = Promise.all(c.names.map((name) => maps.frameFor(name)));
    const frames = await Promise.race([all, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CASE_TIMEOUT_MS} ms (hang)`)), CASE_TIMEOUT_MS)))]);
    for (const frame of frames) {
      if (frame === undefined) continue;
      if (typeof frame.name !== 'string' || frame.name === '' || !Number.isInteger(frame.line) || frame.line < 0) throw new Error(`malformed frame ${JSON.stringify(frame)}`);
    }
  } finally {
    clearTimeout(timer);
    maps.destroy();
  }
  if (performance.now() - started > CASE_TIMEOUT_MS) throw new Error('too slow');
  if (warnings.length > 1) throw new Error(`more than one warning for one script: ${JSON.stringify(warnings)}`);
  for (const w of warnings) {
    if (!w.startsWith(`${SCRIPT}: source map not used: `)) throw new Error(`warning does not name the script: ${JSON.stringify(w)}`);
    if (w.includes('\n') || w.includes('\r') || w.length > 400) throw new Error(`warning not one short line: ${JSON.stringify(w.slice(0, 500))}`);
  }
  return { warnings };
}

const jsName = fc.oneof(
  fc.tuple(fc.constantFrom('~', '^', '*', ''), fc.constantFrom('', 'f', 'get total', 'a b'), fc.integer({ min: 0, max: 200 }), fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(2 ** 31, 2 ** 53))).map(([tier, fn, line, column]) => `JS:${tier}${fn} ${SCRIPT}:${line}:${column}`),
  fc.constantFrom(`JS:~f file://${SCRIPT}:3:10`, `LazyCompile:*g ${SCRIPT}:99999999999:1`, `JS:~ ${SCRIPT}:1`, `JS:~h node:internal/x:1:1`),
  hostileString(30).map((s) => `JS:~${s} ${SCRIPT}:${s.length}:1`),
);
const comment = fc.constantFrom('external' as const, 'inline' as const, 'beside' as const);

t.test('source maps: mutated and generated maps never throw or hang; one warning at most, naming the script', async (t) => {
  const seed = await resolveAll({ map: Buffer.from(sourceMapSeed).toString('utf8'), comment: 'external', names: [`JS:~f ${SCRIPT}:10:1`] });
  t.same(seed.warnings, [], 'the tsc seed is used without warnings');
  const mapped = await new SourceMaps({ readFile: (p) => (p === SCRIPT ? 'x\n//# sourceMappingURL=folded.js.map\n' : p === MAP ? Buffer.from(sourceMapSeed).toString('utf8') : undefined) }).frameFor(`JS:~f ${SCRIPT}:10:1`);
  t.ok(mapped?.mapped && mapped.file.endsWith('src/profile/folded.ts'), `the seed maps to its TypeScript source: ${JSON.stringify(mapped)}`);

  // Found at 100,000 cases: source-map checks a section's mappings, and a mapping's source index,
  // only when a look-up reaches them, so they threw from frameFor after the map had loaded.
  for (const [label, map, name] of [
    ['indexed map, bad VLQ in a section', { version: 3, sections: [{ offset: { line: 0, column: 1 }, map: { version: 3, sources: [], mappings: 'y' } }] }, `JS:~ ${SCRIPT}:1:2`],
    ['source index out of range on line 2', { version: 3, sources: ['a.ts'], names: [], mappings: 'AAAA;ACAA' }, `JS:~f ${SCRIPT}:2:1`],
  ] as const) {
    const { warnings } = await resolveAll({ map: JSON.stringify(map), comment: 'external', names: [name, name] });
    t.equal(warnings.length, 1, `${label}: one warning, no exception: ${warnings[0]}`);
  }

  await checkProperty(t, 'source map (mutated tsc map)', 300, [mutatedFrom([sourceMapSeed]), comment, fc.array(jsName, { minLength: 1, maxLength: 4 })], async (bytes, how, names) => {
    await resolveAll({ map: Buffer.from(bytes).toString('utf8'), comment: how, names });
  });

  const vlq = fc.array(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/,;!'.split('')), { maxLength: 80 }).map((c) => c.join(''));
  const anything = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null), fc.constant(true), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }));
  const basic = fc.record(
    {
      version: fc.oneof(fc.constant(3), anything),
      file: anything,
      sourceRoot: fc.oneof(fc.constantFrom('', '/', 'webpack://', 'file:///x', '../..'), anything),
      sources: fc.oneof(fc.array(fc.oneof(fc.constantFrom('a.ts', '../b.ts', 'file:///c.ts', 'webpack:///d', '', 'file://%zz'), hostileString(16), fc.constant(null)), { maxLength: 4 }), anything),
      names: fc.oneof(fc.array(hostileString(8), { maxLength: 4 }), anything),
      mappings: fc.oneof(vlq, anything),
      sourcesContent: anything,
    },
    { requiredKeys: [] },
  );
  const offset = fc.oneof(fc.record({ line: fc.integer({ min: -2, max: 50 }), column: fc.integer({ min: -2, max: 50 }) }), anything);
  const section = (map: fc.Arbitrary<unknown>) => fc.record({ offset, map, url: fc.constantFrom('x.map') }, { requiredKeys: ['offset', 'map'] });
  const indexedOf = (map: fc.Arbitrary<unknown>) => fc.record({ version: fc.oneof(fc.constant(3), anything), sections: fc.oneof(fc.array(section(map), { maxLength: 3 }), anything) });
  // A bad later section once left earlier sections' consumers unobserved: an unhandled rejection.
  const indexed = indexedOf(fc.oneof(basic, indexedOf(basic), anything));
  await checkProperty(t, 'source map (generated basic and indexed maps)', 300, [fc.oneof(basic, indexed), comment, fc.array(jsName, { minLength: 1, maxLength: 4 })], async (doc, how, names) => {
    await resolveAll({ map: JSON.stringify(doc), comment: how, names });
  });
});
