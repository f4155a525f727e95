// Reference: https://github.com/google/pprof/blob/main/proto/profile.proto
import { Profile as PprofProfile } from 'pprof-format';
import { InputError } from '../errors.js';
import { fromModuleLabel } from '../export/modules.js';
import { kindFromAnnotation } from '../profile/folded.js';
import { ProfileBuilder } from '../profile/builder.js';
import type { Frame, FrameId, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';

const num = (value: number | bigint): number => Number(value);

/**
 * Which sample value to read: `samples` when there is one (our own files carry samples and
 * cpu, and counts round-trip exactly), else the profile's default type, else the last one
 * (pprof's own rule).
 */
function valueIndex(profile: PprofProfile, strings: readonly string[]): number {
  const types = profile.sampleType.map((t) => strings[num(t.type)] ?? '');
  const samples = types.indexOf('samples');
  if (samples >= 0) return samples;
  const preferred = strings[num(profile.defaultSampleType)];
  if (preferred && types.includes(preferred)) return types.indexOf(preferred);
  return types.length - 1;
}

/** Reads an (already decompressed) pprof protobuf. */
export function readPprof(bytes: Uint8Array, file: string): Profile {
  let profile: PprofProfile;
  try {
    profile = PprofProfile.decode(bytes);
  } catch (error) {
    throw new InputError(`not a valid pprof profile (${error instanceof Error ? error.message : String(error)})`, file);
  }
  const strings = profile.stringTable.strings;
  const str = (index: number | bigint, what: string): string => {
    const text = strings[num(index)];
    if (text === undefined) throw new InputError(`not a valid pprof profile: ${what} names string ${index}, but the string table has ${strings.length}`, file);
    return text;
  };
  if (strings.length === 0 || strings[0] !== '') throw new InputError('not a valid pprof profile: the string table must start with an empty string', file);
  if (profile.sampleType.length === 0) throw new InputError('not a valid pprof profile: no sample types', file);
  const index = valueIndex(profile, strings);
  const valueType = profile.sampleType[index]!;

  const mappings = new Map(profile.mapping.map((m) => [num(m.id), m]));
  const functions = new Map(profile.function.map((f) => [num(f.id), f]));
  const builder = new ProfileBuilder();

  // Per location, its frames root first (a location's lines list the innermost first).
  const locationFrames = new Map<number, FrameId[]>();
  for (const location of profile.location) {
    const mapping = mappings.get(num(location.mappingId));
    const label = mapping ? str(mapping.filename, 'a mapping') : undefined;
    const { kind, module } = fromModuleLabel(label);
    const frames: Frame[] = [];
    if (location.line.length === 0) {
      const address = BigInt(location.address);
      const offset = mapping ? address - BigInt(mapping.memoryStart) + BigInt(mapping.fileOffset) : address;
      const name = label ? `[${label.split('/').pop()}+0x${offset.toString(16)}]` : `0x${address.toString(16)}`;
      frames.push({ name, kind: kind ?? 'user', ...(module !== undefined ? { module } : {}) });
    }
    for (let i = location.line.length - 1; i >= 0; i--) {
      const line = location.line[i]!;
      const fn = functions.get(num(line.functionId));
      if (!fn) throw new InputError(`not a valid pprof profile: location ${location.id} names function ${line.functionId}, which does not exist`, file);
      const name = str(fn.name, 'a function') || str(fn.systemName, 'a function') || `[function ${fn.id}]`;
      const annotated = kindFromAnnotation(name);
      const frameKind = annotated !== 'user' ? annotated : i < location.line.length - 1 ? 'inline' : kind ?? 'user';
      const fileName = str(fn.filename, 'a function');
      const lineNumber = num(line.line);
      frames.push({
        name,
        kind: frameKind,
        ...(module !== undefined ? { module } : {}),
        ...(fileName ? { file: fileName } : {}),
        ...(lineNumber > 0 ? { line: lineNumber } : {}),
      });
    }
    locationFrames.set(num(location.id), frames.map((f) => builder.internFrame(f)));
  }

  for (const sample of profile.sample) {
    if (sample.value.length !== profile.sampleType.length) {
      throw new InputError(`not a valid pprof profile: a sample has ${sample.value.length} values for ${profile.sampleType.length} sample types`, file);
    }
    const frames: FrameId[] = [];
    for (let i = sample.locationId.length - 1; i >= 0; i--) {
      const ids = locationFrames.get(num(sample.locationId[i]!));
      if (!ids) throw new InputError(`not a valid pprof profile: a sample names location ${sample.locationId[i]}, which does not exist`, file);
      frames.push(...ids);
    }
    let comm: string | undefined;
    let pid: number | undefined;
    let tid: number | undefined;
    for (const label of sample.label) {
      const key = str(label.key, 'a label');
      const text = str(label.str, 'a label');
      const value = num(label.num) || (/^\d+$/.test(text) ? Number(text) : undefined);
      if (key === 'comm') comm = text;
      else if (key === 'pid') pid = value;
      else if (key === 'tid') tid = value;
    }
    const thread: ThreadInfo | undefined = comm === undefined ? undefined : { comm, ...(pid !== undefined ? { pid } : {}), ...(tid !== undefined ? { tid } : {}) };
    builder.addStack(frames, num(sample.value[index]!), thread);
  }

  const periodUnit = profile.periodType ? strings[num(profile.periodType.unit)] : undefined;
  const period = num(profile.period);
  const unit = str(valueType.unit, 'a sample type');
  const metadata: RunMetadata = {
    unit: unit === 'count' || unit === '' ? 'samples' : unit,
    ...(periodUnit === 'nanoseconds' && period > 0 ? { frequencyHz: Math.round((1e9 / period) * 1000) / 1000 } : {}),
    ...(num(profile.durationNanos) > 0 ? { durationSeconds: num(profile.durationNanos) / 1e9 } : {}),
    // A start past the year 275760 (a damaged field) is no date at all: left out.
    ...(num(profile.timeNanos) > 0 && Number.isFinite(new Date(num(profile.timeNanos) / 1e6).getTime()) ? { startTime: new Date(num(profile.timeNanos) / 1e6).toISOString() } : {}),
    extra: { inputFormat: 'pprof' },
  };
  return builder.build(metadata);
}
