/**
 * The symbolizer: RawProfile (addresses + process snapshots) → Profile (named frames).
 *
 * For each sample, root first: the user stack (outermost caller first), then the kernel stack.
 * Each address goes through the steps below, in order; the first that knows it names it:
 *   kernel address  → kallsyms (module names kept)
 *   user address    → the process's mapping → its binary (symbols, separate debug file, DWARF
 *                      lines and inlined frames) — see binaries.ts, debuginfo.ts, dwarf/
 *                   → an address in anonymous executable memory: the JIT step (perf maps)
 *                   → otherwise a frame that keeps what is known: `[libfoo.so+0x1a2b]`
 * then names pass through the name step (demangling), and a root-frame step may put a frame
 * above the whole stack (the container). What could not be named is counted per module and
 * reported (report.ts). The naming itself is the Symbolizer's (symbolizer.ts).
 */
import { ProfileBuilder } from '../profile/builder.js';
import type { Profile, ThreadInfo } from '../profile/model.js';
import type { RawProfile, RawSample } from '../profile/raw.js';
import type { SymbolizeOptions } from './options.js';
import { reportLines, type SymbolizeReport } from './report.js';
import { StackQualityCounter } from './stack-quality.js';
import { Symbolizer } from './symbolizer.js';

export type { ModuleGap, SymbolizeReport } from './report.js';
export { reportLines } from './report.js';
export { SYMBOLIZE_DEFAULTS, type SymbolizeOptions } from './options.js';
export { Symbolizer } from './symbolizer.js';

/** The profile with a `symbolization` report in `metadata.extra` and one note per module with gaps. */
export interface SymbolizeResult {
  readonly profile: Profile;
  readonly report: SymbolizeReport;
}

/**
 * A symbolizer to `warm` while recording, then to hand to `symbolizeWithReport` with the same
 * options: `profile record` spends the recording's idle time on what naming would do after it.
 */
export function symbolizerForRecording(options: Partial<SymbolizeOptions> = {}): Symbolizer {
  return new Symbolizer(new ProfileBuilder(), new Map(), options, new Date().toISOString());
}

/**
 * `groupOf`, when given, puts each sample's thread in a group (ThreadInfo.group) so the profile can
 * be split by it afterwards (the agent's series per service).
 */
export async function symbolizeWithReport(
  raw: RawProfile,
  options: Partial<SymbolizeOptions> = {},
  warmed?: Symbolizer,
  groupOf?: (sample: RawSample) => string,
): Promise<SymbolizeResult> {
  const symbolizer = warmed ?? new Symbolizer(new ProfileBuilder(), raw.processes, options, raw.metadata.startTime);
  if (warmed) warmed.adopt(raw.processes);
  const builder = symbolizer.builder;
  const quality = new StackQualityCounter(raw.processes);
  try {
    await symbolizer.prepare(raw.samples);
    // One ThreadInfo object per thread: the builder recognises it without building a key per sample.
    const threads = new Map<number, ThreadInfo[]>();
    for (const sample of raw.samples) {
      const frames = symbolizer.stack(sample.pid, sample.userStack, sample.kernelStack, sample.count);
      quality.add(sample.pid, sample.userStack, sample.count);
      const roots = symbolizer.rootFrames(sample.pid);
      const group = groupOf?.(sample);
      let known = threads.get(sample.tid);
      let thread = known?.find((t) => t.pid === sample.pid && t.comm === sample.comm && t.group === group);
      if (!thread) {
        // A negative pid stands for folded exited processes (src/record/accumulator.ts): no pid or tid.
        thread = sample.pid < 0 ? { comm: sample.comm } : { comm: sample.comm, pid: sample.pid, tid: sample.tid };
        if (group !== undefined) thread = { ...thread, group };
        if (known) known.push(thread);
        else threads.set(sample.tid, (known = [thread]));
      }
      builder.addStack(roots.length > 0 ? [...roots, ...frames] : frames, sample.count, thread, true);
    }
  } finally {
    symbolizer.runDone();
  }
  const report = await symbolizer.report();
  const notes = reportLines(report);
  const metadata = {
    ...raw.metadata,
    notes: [...(raw.metadata.notes ?? []), ...notes],
    extra: { ...(raw.metadata.extra ?? {}), symbolization: report, stackQuality: quality.finish() },
  };
  return { profile: builder.build(metadata), report };
}

/** RawProfile → Profile. What could not be named is in `metadata.notes` and `metadata.extra.symbolization`. */
export async function symbolize(raw: RawProfile, options: Partial<SymbolizeOptions> = {}): Promise<Profile> {
  return (await symbolizeWithReport(raw, options)).profile;
}
