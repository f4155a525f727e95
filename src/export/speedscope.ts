// Reference: https://www.speedscope.app/file-format-schema.json
// (also shipped as dist/release/file-format-schema.json in the `speedscope` npm package).
import type { Profile } from '../profile/model.js';
import type { Sink } from '../io/sink.js';
import { moduleLabel } from './modules.js';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
}

interface SampledProfile {
  type: 'sampled';
  name: string;
  unit: string;
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: string;
  name: string;
  exporter: string;
  activeProfileIndex: number;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SampledProfile[];
}

/**
 * The profile name of a process; `speedscope` input reads `comm (pid N)` back as the thread, and
 * `comm (pid ?)` when the source knew the command but not the process (perf script without pids).
 */
export function processProfileName(comm: string, pid: number | undefined): string {
  return `${comm} (pid ${pid ?? '?'})`;
}

// speedscope's units; anything else is shown as plain numbers.
const UNITS = new Set(['none', 'nanoseconds', 'microseconds', 'milliseconds', 'seconds', 'bytes']);

/**
 * The speedscope document of `profile`: all frames shared (kernel and JIT frames carry their
 * module as the file, e.g. `[kernel.kallsyms]`), one sampled profile per process, in the order
 * processes first appear; stacks without a thread go to one profile named after the title.
 */
export function toSpeedscope(profile: Profile, exporter = 'profile'): SpeedscopeFile {
  const frames = profile.frames.map((frame): SpeedscopeFrame => {
    const out: SpeedscopeFrame = { name: frame.name };
    const file = frame.file ?? (frame.kind === 'kernel' || frame.kind === 'jit' ? moduleLabel(frame) : undefined);
    if (file !== undefined) out.file = file;
    if (frame.line !== undefined) out.line = frame.line;
    return out;
  });
  const unit = UNITS.has(profile.metadata.unit ?? '') ? profile.metadata.unit! : 'none';
  const byProcess = new Map<string, SampledProfile>();
  for (const stack of profile.stacks) {
    const name = stack.thread ? processProfileName(stack.thread.comm, stack.thread.pid) : profile.metadata.title ?? 'all';
    const key = stack.thread ? `t\0${name}` : 'all';
    let out = byProcess.get(key);
    if (!out) byProcess.set(key, (out = { type: 'sampled', name, unit, startValue: 0, endValue: 0, samples: [], weights: [] }));
    out.samples.push(stack.frames.slice());
    out.weights.push(stack.weight);
    out.endValue += stack.weight;
  }
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    name: profile.metadata.title ?? 'profile',
    exporter,
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [...byProcess.values()],
  };
}

/** The `speedscope` entry of src/output's writers. */
export async function writeSpeedscope(profile: Profile, sink: Sink): Promise<void> {
  const doc = toSpeedscope(profile);
  // One stack per line keeps multi-hundred-MB documents out of a single string and diffable.
  const { profiles, ...head } = doc;
  await sink.write(JSON.stringify(head).slice(0, -1) + ',"profiles":[\n');
  for (let p = 0; p < profiles.length; p++) {
    const { samples, weights, ...rest } = profiles[p]!;
    await sink.write(JSON.stringify(rest).slice(0, -1) + ',"weights":' + JSON.stringify(weights) + ',"samples":[\n');
    const batch: string[] = [];
    for (let i = 0; i < samples.length; i++) {
      batch.push(JSON.stringify(samples[i]) + (i + 1 < samples.length ? ',' : ''));
      if (batch.length === 4096) {
        await sink.write(batch.join('\n') + '\n');
        batch.length = 0;
      }
    }
    if (batch.length > 0) await sink.write(batch.join('\n') + '\n');
    await sink.write(']}' + (p + 1 < profiles.length ? ',' : '') + '\n');
  }
  await sink.write(']}\n');
}
