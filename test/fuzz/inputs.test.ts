// Property tests for the binary and JSON readers (src/input: pprof, speedscope, gzip, format
// sniffing through loadProfile) from real seeds (a Go CPU profile, a speedscope file with sampled
// and evented profiles), and round trips through the exporters with hostile names:
// profile → pprof → profile and profile → speedscope → profile keep every stack and weight.
// Local ~10 s; CI ~30 s.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import { encodePprof } from '../../src/export/pprof.js';
import { toSpeedscope } from '../../src/export/speedscope.js';
import { loadProfile } from '../../src/input/index.js';
import { readPprof } from '../../src/input/pprof.js';
import { readSpeedscope } from '../../src/input/speedscope.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { foldedLines } from '../../src/profile/folded.js';
import type { FrameKind } from '../../src/profile/model.js';
import { checkProperty, chunkedStream, fc, hostileName, mutatedFrom, resultOrProfileError } from '../helpers/fuzz.js';
import { gunzipSync } from 'node:zlib';

const FIXTURES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'fixtures', 'fuzz');
const pprofSeed = new Uint8Array(readFileSync(join(FIXTURES, 'pprof-go.pb')));
const speedscopeSeed = new Uint8Array(readFileSync(join(FIXTURES, 'speedscope-both.speedscope.json')));

const load = (bytes: Uint8Array, file = '<stdin>') => resultOrProfileError(() => loadProfile(undefined, {}, chunkedStream(bytes)), { file });

t.test('pprof: mutated protobuf, raw and gzipped, through loadProfile and readPprof', async (t) => {
  const seed = await load(gzipSync(pprofSeed));
  t.ok(seed.ok && seed.value.stacks.length > 0, 'the real Go profile loads');
  await checkProperty(t, 'pprof (mutated protobuf)', 100, [mutatedFrom([pprofSeed]), fc.boolean()], async (bytes, gzip) => {
    await load(gzip ? gzipSync(bytes) : bytes);
    await resultOrProfileError(() => readPprof(bytes, 'p.pb'), { file: 'p.pb' });
  });
  await checkProperty(t, 'gzip container (mutated)', 200, [mutatedFrom([new Uint8Array(gzipSync(pprofSeed))], 3)], async (bytes) => {
    await load(bytes);
  });
});

t.test('speedscope: mutated JSON through loadProfile', async (t) => {
  const seed = await load(speedscopeSeed);
  t.ok(seed.ok && seed.value.stacks.length > 0, 'the seed loads');
  await checkProperty(t, 'speedscope (mutated JSON)', 300, [mutatedFrom([speedscopeSeed])], async (bytes) => {
    await load(bytes);
  });
});

t.test('speedscope: generated documents with wrong shapes, indexes and numbers', async (t) => {
  const num = fc.oneof(fc.integer({ min: -3, max: 10 }), fc.constantFrom(NaN, Infinity, -0, 1e300, 2 ** 53 + 1, 0.5), fc.constant(null), fc.string({ maxLength: 3 }));
  const frame = fc.record({ name: fc.oneof(hostileName(), fc.constant(undefined), fc.integer()), file: fc.option(fc.string(), { nil: undefined }), line: fc.option(num, { nil: undefined }) }, { requiredKeys: [] });
  const sampled = fc.record({ type: fc.constant('sampled'), name: fc.string(), unit: fc.constantFrom('none', 'milliseconds', 'bytes', 'weird'), startValue: num, endValue: num, samples: fc.array(fc.array(num, { maxLength: 6 }), { maxLength: 8 }), weights: fc.array(num, { maxLength: 9 }) }, { requiredKeys: ['type'] });
  const evented = fc.record({ type: fc.constant('evented'), name: fc.string(), unit: fc.constant('none'), startValue: num, endValue: num, events: fc.array(fc.record({ type: fc.constantFrom('O', 'C', 'X'), frame: num, at: num }), { maxLength: 10 }) }, { requiredKeys: ['type'] });
  const doc = fc.record({
    $schema: fc.constant('https://www.speedscope.app/file-format-schema.json'),
    shared: fc.oneof(fc.record({ frames: fc.array(frame, { maxLength: 6 }) }), fc.constant(null), fc.constant({})),
    profiles: fc.oneof(fc.array(fc.oneof(sampled, evented), { maxLength: 3 }), fc.constant(null), fc.constant('x')),
  }, { requiredKeys: ['$schema'] });
  await checkProperty(t, 'speedscope (generated documents)', 300, [doc], async (d) => {
    await load(new Uint8Array(Buffer.from(JSON.stringify(d))));
    await resultOrProfileError(() => readSpeedscope(d, 's.json'), { file: 's.json' });
  });
});

const KINDS: FrameKind[] = ['kernel', 'user', 'jit', 'inline'];
// Left out, and reported: empty names (readers call them `[function N]`; no stage makes one) and
// a leading U+FEFF (pprof-format decodes strings with a BOM-stripping TextDecoder).
const named = hostileName().filter((n) => n.length > 0 && !n.startsWith('\ufeff'));
const profiles = fc
  .array(fc.record({ frames: fc.array(fc.record({ name: named, kind: fc.constantFrom(...KINDS) }), { minLength: 1, maxLength: 5 }), weight: fc.integer({ min: 1, max: 1e6 }), comm: fc.option(named, { nil: undefined }), pid: fc.option(fc.integer({ min: 1, max: 4_000_000 }), { nil: undefined }) }), { minLength: 1, maxLength: 10 })
  // Every stack with a thread, or none: the speedscope export puts thread-less stacks in a profile
  // named `all`, which reads back as a process frame when other processes sit beside it (reported).
  .chain((stacks) => fc.boolean().map((threaded) => {
    const b = new ProfileBuilder();
    for (const s of stacks) b.addFrames(s.frames, s.weight, threaded ? { comm: s.comm ?? 'comm', pid: s.pid } : undefined);
    return b.build();
  }));

// Binary formats carry UTF-8: a lone surrogate comes back as U+FFFD, as it must.
const wellFormed = (lines: string[]): string[] => lines.map((l) => Buffer.from(l, 'utf8').toString('utf8')).sort();
const weightOf = (lines: string[]): number => lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

t.test('round trips through the exporters keep every stack and weight (hostile names)', async (t) => {
  await checkProperty(t, 'profile → pprof → profile', 200, [profiles], async (profile) => {
    const want = wellFormed(foldedLines(profile));
    const back = readPprof(gunzipSync(encodePprof(profile)), 'x.pb.gz');
    const got = wellFormed(foldedLines(back));
    if (weightOf(got) !== weightOf(want)) throw new Error(`pprof round trip changed the total: ${weightOf(want)} → ${weightOf(got)}`);
    if (!isDeepStrictEqual(got, want)) throw new Error(`pprof round trip changed the stacks: ${JSON.stringify({ want, got }).slice(0, 1500)}`);
  });
  await checkProperty(t, 'profile → speedscope → profile', 200, [profiles], async (profile) => {
    const want = foldedLines(profile);
    const back = readSpeedscope(JSON.parse(JSON.stringify(toSpeedscope(profile))), 'x.speedscope.json');
    const got = foldedLines(back);
    if (weightOf(got) !== weightOf(want)) throw new Error(`speedscope round trip changed the total: ${weightOf(want)} → ${weightOf(got)}`);
    if (!isDeepStrictEqual(got, want)) throw new Error(`speedscope round trip changed the stacks: ${JSON.stringify({ want, got }).slice(0, 1500)}`);
  });
});
