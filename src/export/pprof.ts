// Reference: https://github.com/google/pprof/blob/main/proto/profile.proto
import { gzipSync } from 'node:zlib';
import { ProfileError } from '../errors.js';
import type { FrameId, Profile } from '../profile/model.js';
import type { Sink } from '../io/sink.js';
import { moduleLabel } from './modules.js';
import { ProtoWriter } from './protobuf.js';

export interface PprofOptions {
  /** gzip level (pprof files are conventionally gzipped; `go tool pprof` reads both). Default 6. */
  readonly gzipLevel: number;
}

export const PPROF_DEFAULTS: PprofOptions = Object.freeze({ gzipLevel: 6 });

/**
 * The build-ids a recording found, by module path, from `metadata.extra.buildIds`
 * (`{ "/usr/lib/x86_64-linux-gnu/libc.so.6": "abcd…" }`), when the symbolizer recorded them.
 */
function buildIds(profile: Profile): Readonly<Record<string, unknown>> {
  const ids = profile.metadata.extra?.buildIds;
  return ids !== null && typeof ids === 'object' ? (ids as Record<string, unknown>) : {};
}

/**
 * The pprof message of `profile`, encoded. Frames become functions (name, file, line); a frame
 * and the inlined frames right after it (its callees, kind `inline`) share one location whose
 * lines list the innermost first, as pprof expects. Threads become `comm`/`pid`/`tid` labels.
 */
export function pprofMessage(profile: Profile): Uint8Array {
  const strings: string[] = [''];
  const stringIds = new Map<string, number>([['', 0]]);
  const str = (text: string | undefined): number => {
    if (text === undefined || text === '') return 0;
    let id = stringIds.get(text);
    if (id === undefined) {
      id = strings.length;
      strings.push(text);
      stringIds.set(text, id);
    }
    return id;
  };
  const ids = buildIds(profile);

  // Ids start at 1: pprof reserves 0 for "none".
  const mappings: { readonly label: string; readonly filename: number; readonly buildId: number }[] = [];
  const mappingIds = new Map<string, number>();
  const mappingFor = (label: string | undefined): number => {
    if (label === undefined) return 0;
    let id = mappingIds.get(label);
    if (id === undefined) {
      id = mappings.length + 1;
      const buildId = ids[label];
      mappings.push({ label, filename: str(label), buildId: typeof buildId === 'string' ? str(buildId) : 0 });
      mappingIds.set(label, id);
    }
    return id;
  };

  const functions: { readonly name: number; readonly filename: number }[] = [];
  const functionIds = new Map<string, number>();
  // Per frame id, the function and the single-frame location (most locations): building a
  // string key per frame of every stack made a 100k-stack export spend most of its time in GC.
  const functionByFrame: (number | undefined)[] = [];
  const locationByFrame: (number | undefined)[] = [];
  const functionFor = (frameId: FrameId): number => {
    const known = functionByFrame[frameId];
    if (known !== undefined) return known;
    const frame = profile.frames[frameId]!;
    const key = `${frame.name}\0${frame.file ?? ''}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      functions.push({ name: str(frame.name), filename: str(frame.file) });
      functionIds.set(key, id);
    }
    functionByFrame[frameId] = id;
    return id;
  };

  /** Per location: its mapping and its lines as (function, line) pairs, innermost first. */
  const locations: { readonly mapping: number; readonly lines: number[] }[] = [];
  const locationIds = new Map<string, number>();
  const locationFor = (frames: readonly FrameId[], first: number, end: number): number => {
    if (end - first === 1) {
      const known = locationByFrame[frames[first]!];
      if (known !== undefined) return known;
    }
    const key = end - first === 1 ? '' : frames.slice(first, end).join(',');
    let id = end - first === 1 ? undefined : locationIds.get(key);
    if (id === undefined) {
      id = locations.length + 1;
      const lines: number[] = [];
      for (let k = end - 1; k >= first; k--) lines.push(functionFor(frames[k]!), profile.frames[frames[k]!]!.line ?? 0);
      locations.push({ mapping: mappingFor(moduleLabel(profile.frames[frames[first]!]!)), lines });
      if (end - first === 1) locationByFrame[frames[first]!] = id;
      else locationIds.set(key, id);
    }
    return id;
  };

  const unit = profile.metadata.unit ?? 'samples';
  const hz = profile.metadata.frequencyHz;
  const periodNs = unit === 'samples' && hz !== undefined && hz > 0 ? Math.round(1e9 / hz) : undefined;
  const sampleTypes: (readonly [number, number])[] =
    unit === 'samples' ? [[str('samples'), str('count')], ...(periodNs !== undefined ? [[str('cpu'), str('nanoseconds')] as const] : [])] : [[str('cpu'), str(unit)]];

  const samples = new ProtoWriter();
  // How many samples pass through each mapping (at most once per sample): the main binary's rank.
  const weightByMapping: number[] = [];
  const seenIn: number[] = [];
  const locationIdsOfStack: number[] = [];
  profile.stacks.forEach((stack, index) => {
    if (!Number.isSafeInteger(stack.weight) || stack.weight < 0) {
      throw new ProfileError(`pprof values are whole numbers; a stack has weight ${stack.weight}`);
    }
    // Root-first frames → leaf-first locations, each non-inline frame opening a new location.
    locationIdsOfStack.length = 0;
    const frames = stack.frames;
    let end = frames.length;
    for (let first = frames.length - 1; first >= 0; first--) {
      if (first > 0 && profile.frames[frames[first]!]!.kind === 'inline') continue;
      const id = locationFor(frames, first, end);
      locationIdsOfStack.push(id);
      end = first;
      const mapping = locations[id - 1]!.mapping;
      if (mapping !== 0 && seenIn[mapping] !== index + 1) {
        seenIn[mapping] = index + 1;
        weightByMapping[mapping] = (weightByMapping[mapping] ?? 0) + stack.weight;
      }
    }
    samples.message(2, () => {
      samples.packed(1, locationIdsOfStack);
      samples.message(2, () => {
        samples.varint(stack.weight);
        if (periodNs === undefined) return;
        const cpuNs = stack.weight * periodNs;
        if (Number.isSafeInteger(cpuNs)) samples.varint(cpuNs);
        else samples.bigVarint(BigInt(stack.weight) * BigInt(periodNs));
      });
      const thread = stack.thread;
      if (!thread) return;
      samples.message(3, () => {
        samples.uint(1, str('comm'));
        samples.uint(2, str(thread.comm));
      });
      if (thread.pid !== undefined) samples.message(3, () => (samples.uint(1, str('pid')), samples.uint(3, thread.pid!)));
      if (thread.tid !== undefined) samples.message(3, () => (samples.uint(1, str('tid')), samples.uint(3, thread.tid!)));
    });
  });

  const meta = profile.metadata;
  const comments = [
    meta.title && `title: ${meta.title}`,
    meta.host && `host: ${meta.host}`,
    meta.kernel && `kernel: ${meta.kernel}`,
    meta.commandLine && `command: ${meta.commandLine}`,
    ...Object.entries(meta.dropped ?? {}).map(([why, n]) => `dropped ${why}: ${n}`),
  ]
    .filter((c): c is string => typeof c === 'string' && c.length > 0)
    .map(str);
  const start = meta.startTime === undefined ? NaN : Date.parse(meta.startTime);

  // pprof shows the first mapping as the profile's main binary ("File:"). Programs go before
  // shared libraries, which go before pseudo-modules like `[kernel.kallsyms]` or `[vdso]`; within
  // a rank, the mapping most samples pass through. (First-seen order made libc the "main binary"
  // whenever the first sample of a run landed in the dynamic loader or libc start-up.)
  const rank = (label: string): number => (label.startsWith('[') ? 2 : /\.so(\.[\d.]+)?$/.test(label) ? 1 : 0);
  const order = mappings.map((_, i) => i + 1).sort((x, y) => rank(mappings[x - 1]!.label) - rank(mappings[y - 1]!.label) || (weightByMapping[y] ?? 0) - (weightByMapping[x] ?? 0));
  const renumbered: number[] = [0];
  order.forEach((old, i) => (renumbered[old] = i + 1));

  const out = new ProtoWriter();
  for (const [type, typeUnit] of sampleTypes) out.message(1, () => (out.uint(1, type), out.uint(2, typeUnit)));
  const sampleBytes = samples.finish();
  out.rawBytes(sampleBytes);
  order.forEach((old, i) => {
    const m = mappings[old - 1]!;
    out.message(3, () => {
      out.uint(1, i + 1);
      out.uint(5, m.filename);
      out.uint(6, m.buildId);
      for (const flag of [7, 8, 9, 10]) out.uint(flag, 1);
    });
  });
  locations.forEach((location, i) => {
    out.message(4, () => {
      out.uint(1, i + 1);
      out.uint(2, renumbered[location.mapping]!);
      const lines = location.lines;
      for (let k = 0; k < lines.length; k += 2) out.message(4, () => (out.uint(1, lines[k]!), out.uint(2, lines[k + 1]!)));
    });
  });
  functions.forEach((f, i) => {
    out.message(5, () => {
      out.uint(1, i + 1);
      out.uint(2, f.name);
      out.uint(3, f.name);
      out.uint(4, f.filename);
    });
  });
  const periodType = periodNs !== undefined ? ([str('cpu'), str('nanoseconds')] as const) : sampleTypes[0]!;
  for (const text of strings) out.string(6, text);
  if (Number.isFinite(start)) out.bigUint(9, BigInt(start) * 1_000_000n);
  if (meta.durationSeconds !== undefined) out.bigUint(10, BigInt(Math.round(meta.durationSeconds * 1e9)));
  out.message(11, () => (out.uint(1, periodType[0]), out.uint(2, periodType[1])));
  out.uint(12, periodNs ?? 1);
  out.packed(13, comments);
  return out.finish();
}

/** The gzipped pprof bytes of `profile`. */
export function encodePprof(profile: Profile, options: Partial<PprofOptions> = {}): Buffer {
  const opts = { ...PPROF_DEFAULTS, ...options };
  return gzipSync(pprofMessage(profile), { level: opts.gzipLevel });
}

/** The `pprof` entry of src/output's writers. */
export async function writePprof(profile: Profile, sink: Sink): Promise<void> {
  await sink.write(encodePprof(profile));
}
