// Reference: https://github.com/google/pprof/blob/main/proto/profile.proto
import { gzipSync } from 'node:zlib';
import { Profile as PprofProfile, StringTable, type FunctionInput, type LabelInput, type LocationInput, type MappingInput, type SampleInput } from 'pprof-format';
import { ProfileError } from '../errors.js';
import type { FrameId, Profile } from '../profile/model.js';
import type { Sink } from '../io/sink.js';
import { moduleLabel } from './modules.js';

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
 * The pprof message of `profile`. Frames become functions (name, file, line); a frame and the
 * inlined frames right after it (its callees, kind `inline`) share one location whose lines
 * list the innermost first, as pprof expects. Threads become `comm`/`pid`/`tid` labels.
 */
export function toPprof(profile: Profile): PprofProfile {
  const strings = new StringTable();
  const str = (text: string | undefined): number => (text === undefined || text === '' ? 0 : strings.dedup(text));
  const ids = buildIds(profile);

  const mappings: MappingInput[] = [];
  const mappingIds = new Map<string, number>();
  const mappingFor = (label: string | undefined): number => {
    if (label === undefined) return 0;
    let id = mappingIds.get(label);
    if (id === undefined) {
      id = mappings.length + 1;
      const buildId = ids[label];
      mappings.push({
        id,
        filename: str(label),
        buildId: typeof buildId === 'string' ? str(buildId) : 0,
        hasFunctions: true,
        hasFilenames: true,
        hasLineNumbers: true,
        hasInlineFrames: true,
      });
      mappingIds.set(label, id);
    }
    return id;
  };

  // Ids start at 1: pprof reserves 0 for "none" (pprof-format throws on functionId 0).
  const functions: FunctionInput[] = [];
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
      functions.push({ id, name: str(frame.name), systemName: str(frame.name), filename: str(frame.file) });
      functionIds.set(key, id);
    }
    functionByFrame[frameId] = id;
    return id;
  };

  const locations: LocationInput[] = [];
  const locationIds = new Map<string, number>();
  const locationFor = (group: readonly FrameId[]): number => {
    if (group.length === 1) {
      const known = locationByFrame[group[0]!];
      if (known !== undefined) return known;
    }
    const key = group.join(',');
    let id = locationIds.get(key);
    if (id === undefined) {
      id = locations.length + 1;
      const physical = profile.frames[group[0]!]!;
      const line = [...group].reverse().map((frameId) => ({ functionId: functionFor(frameId), line: profile.frames[frameId]!.line ?? 0 }));
      locations.push({ id, mappingId: mappingFor(moduleLabel(physical)), address: 0, line });
      locationIds.set(key, id);
    }
    if (group.length === 1) locationByFrame[group[0]!] = id;
    return id;
  };

  const unit = profile.metadata.unit ?? 'samples';
  const hz = profile.metadata.frequencyHz;
  const periodNs = unit === 'samples' && hz !== undefined && hz > 0 ? Math.round(1e9 / hz) : undefined;
  const sampleType =
    unit === 'samples'
      ? [{ type: str('samples'), unit: str('count') }, ...(periodNs !== undefined ? [{ type: str('cpu'), unit: str('nanoseconds') }] : [])]
      : [{ type: str('cpu'), unit: str(unit) }];

  const samples: SampleInput[] = [];
  for (const stack of profile.stacks) {
    if (!Number.isSafeInteger(stack.weight) || stack.weight < 0) {
      throw new ProfileError(`pprof values are whole numbers; a stack has weight ${stack.weight}`);
    }
    // Root-first frames → leaf-first locations, each non-inline frame opening a new location.
    const groups: FrameId[][] = [];
    for (const frameId of stack.frames) {
      const last = groups[groups.length - 1];
      if (last && profile.frames[frameId]!.kind === 'inline') last.push(frameId);
      else groups.push([frameId]);
    }
    const locationId = groups.reverse().map(locationFor);
    const value = periodNs !== undefined ? [stack.weight, BigInt(stack.weight) * BigInt(periodNs)] : [stack.weight];
    const label: LabelInput[] = [];
    if (stack.thread) {
      label.push({ key: str('comm'), str: str(stack.thread.comm) });
      if (stack.thread.pid !== undefined) label.push({ key: str('pid'), num: stack.thread.pid });
      if (stack.thread.tid !== undefined) label.push({ key: str('tid'), num: stack.thread.tid });
    }
    samples.push({ locationId, value, label });
  }

  const meta = profile.metadata;
  const comment = [
    meta.title && `title: ${meta.title}`,
    meta.host && `host: ${meta.host}`,
    meta.kernel && `kernel: ${meta.kernel}`,
    meta.commandLine && `command: ${meta.commandLine}`,
    ...Object.entries(meta.dropped ?? {}).map(([why, n]) => `dropped ${why}: ${n}`),
  ].filter((c): c is string => typeof c === 'string' && c.length > 0);
  const start = meta.startTime === undefined ? NaN : Date.parse(meta.startTime);

  // pprof shows the first mapping as the profile's main binary ("File:"). Programs go before
  // shared libraries, which go before pseudo-modules like `[kernel.kallsyms]` or `[vdso]`; within
  // a rank, the mapping most samples pass through. (First-seen order made libc the "main binary"
  // whenever the first sample of a run landed in the dynamic loader or libc start-up.)
  const weightByMapping = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) {
    const seen = new Set<number>();
    for (const locationId of samples[i]!.locationId as number[]) {
      const mappingId = Number(locations[locationId - 1]!.mappingId ?? 0);
      if (mappingId !== 0) seen.add(mappingId);
    }
    for (const mappingId of seen) weightByMapping.set(mappingId, (weightByMapping.get(mappingId) ?? 0) + profile.stacks[i]!.weight);
  }
  const rank = (m: MappingInput): number => {
    const name = strings.strings[Number(m.filename)]!;
    return name.startsWith('[') ? 2 : /\.so(\.[\d.]+)?$/.test(name) ? 1 : 0;
  };
  const order = mappings.slice().sort((x, y) => rank(x) - rank(y) || (weightByMapping.get(Number(y.id)) ?? 0) - (weightByMapping.get(Number(x.id)) ?? 0));
  const renumber = new Map(order.map((m, i) => [Number(m.id), i + 1]));
  for (const m of order) m.id = renumber.get(Number(m.id))!;
  for (const l of locations) if (l.mappingId) l.mappingId = renumber.get(Number(l.mappingId))!;

  return new PprofProfile({
    sampleType,
    sample: samples,
    mapping: order,
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: Number.isFinite(start) ? BigInt(start) * 1_000_000n : 0,
    durationNanos: meta.durationSeconds !== undefined ? BigInt(Math.round(meta.durationSeconds * 1e9)) : 0,
    periodType: periodNs !== undefined ? { type: str('cpu'), unit: str('nanoseconds') } : sampleType[0],
    period: periodNs ?? 1,
    comment: comment.map(str),
  });
}

/** The gzipped pprof bytes of `profile`. */
export function encodePprof(profile: Profile, options: Partial<PprofOptions> = {}): Buffer {
  const opts = { ...PPROF_DEFAULTS, ...options };
  return gzipSync(toPprof(profile).encode(), { level: opts.gzipLevel });
}

/** The `pprof` entry of src/output's writers. */
export async function writePprof(profile: Profile, sink: Sink): Promise<void> {
  await sink.write(encodePprof(profile));
}
