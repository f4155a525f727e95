import { stat } from 'node:fs/promises';
import { openInputChunks } from '../io/lines.js';
import { writeProfile, type OutputFormat } from '../output/index.js';
import { FOLDED_DEFAULTS } from '../profile/folded.js';
import { printable } from '../errors.js';
import { collapse } from '../collapse/index.js';
import { parallelPlan, type ParallelPlan } from '../collapse/parallel-plan.js';
import { PERF_DEFAULTS } from '../collapse/perf.js';
import { BPFTRACE_DEFAULTS } from '../collapse/bpftrace.js';

/** The flags of `profile collapse`, as oclif parses them (src/commands/collapse.ts). */
export interface CollapseFlags {
  readonly output?: string;
  readonly format?: OutputFormat;
  readonly 'input-format'?: string;
  readonly pid: boolean;
  readonly tid: boolean;
  readonly kernel: boolean;
  readonly jit: boolean;
  readonly inline: boolean;
  readonly all: boolean;
  readonly addrs: boolean;
  readonly 'event-filter'?: string;
  readonly weight: 'period' | 'samples';
  readonly map?: readonly string[];
  /** Split a file into parts of this many bytes for worker threads, whatever its size (tests). */
  readonly 'parallel-part-bytes'?: number;
}

/**
 * What `profile collapse [FILE]` does once its flags are parsed: read FILE (standard input when
 * undefined), collapse it, say on stderr which events were left out, write the profile. Loaded
 * only when `collapse` runs.
 */
export async function collapseCommand(file: string | undefined, flags: CollapseFlags): Promise<void> {
  const input = await openInputChunks(file);
  const parallel = file === undefined || file === '-' ? undefined : await parallelPlanFor(file, flags['parallel-part-bytes']);
  const profile = await collapse(input.chunks, input.name, {
    ...(parallel ? { parallel } : {}),
    format: flags['input-format'],
    weight: flags.weight,
    eventFilter: flags['event-filter'] ?? PERF_DEFAULTS.eventFilter,
    addrs: flags.addrs,
    maps: flags.map ?? BPFTRACE_DEFAULTS.maps,
  });
  // Like stackcollapse-perf.pl, say so when events were left out, but on stderr only.
  for (const note of profile.metadata.notes ?? []) {
    if (note.startsWith('skipped ')) process.stderr.write(`profile: ${printable(note)}\n`);
  }
  await writeProfile(
    profile,
    { path: flags.output, format: flags.format },
    {
      folded: {
        processFrame: flags.tid ? 'comm-pid/tid' : flags.pid ? 'comm-pid' : FOLDED_DEFAULTS.processFrame,
        annotateKernel: flags.kernel || flags.all,
        annotateJit: flags.jit || flags.all,
        annotateInline: flags.inline,
      },
    },
  );
}

/**
 * Worker threads for a big enough regular file. Standard input stays with one parser: parts of a
 * pipe cannot be read out of order, and handing its bytes to workers through this thread would
 * cost about what parsing them does.
 */
async function parallelPlanFor(file: string, partBytes: number | undefined): Promise<ParallelPlan | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? parallelPlan(file, info.size, partBytes) : undefined;
  } catch {
    return undefined;
  }
}
