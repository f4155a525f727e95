import type { RunMetadata } from '../profile/model.js';

/** What a parse of part of a perf script input found besides its stacks. */
export interface PerfPart {
  readonly samples: number;
  /** Lines read, the last one counted even without its newline. */
  readonly lines: number;
  /** The header line (counted from the part's start) of a last sample that no blank line ended, or 0. */
  readonly cutOffLine: number;
  /** Samples left out by event, in the order the events were first seen. */
  readonly skippedEvents: readonly (readonly [string, number])[];
  /** The event kept ('' when no header named one). */
  readonly eventFilter: string;
  readonly sawPeriod: boolean;
  /** Stack lines without a dso were read (`perf script -F ip,sym`). */
  readonly sawBare: boolean;
}

/**
 * The metadata of a perf script profile read in `parts`, in input order (one part for a plain
 * parse): samples, unit, and notes on what was left out. `options.eventFilter` is the user's
 * choice, '' when the first event seen was taken.
 */
export function perfMetadata(parts: readonly PerfPart[], options: { readonly weight: 'period' | 'samples'; readonly eventFilter: string }, metadata: RunMetadata = {}): RunMetadata {
  const eventFilter = parts.find((p) => p.eventFilter !== '')?.eventFilter ?? options.eventFilter;
  const skipped = new Map<string, number>();
  for (const part of parts) for (const [event, count] of part.skippedEvents) skipped.set(event, (skipped.get(event) ?? 0) + count);
  const notes = [...(metadata.notes ?? [])];
  for (const [event, count] of skipped) {
    notes.push(`skipped ${count} samples of event ${event}: only ${eventFilter} is shown${options.eventFilter === '' ? ' (the first event seen; choose with --event-filter)' : ''}`);
  }
  let linesBefore = 0;
  for (const [i, part] of parts.entries()) {
    // Only the last part can end inside a sample: the others end where a blank line ended one.
    if (i === parts.length - 1 && part.cutOffLine > 0) {
      notes.push(`skipped the last sample (header at line ${linesBefore + part.cutOffLine}): no blank line ends it, so it may be cut off`);
    }
    linesBefore += part.lines;
  }
  if (parts.some((p) => p.sawBare)) notes.push('perf script printed no dso: kernel and JIT frames cannot be told apart');
  const sawPeriod = parts.some((p) => p.sawPeriod);
  const clock = /^(cpu|task)-clock\b/.test(eventFilter);
  const unit = options.weight === 'period' && sawPeriod ? (clock ? 'nanoseconds' : `${eventFilter.replace(/:.*/, '')} events`) : 'samples';
  return {
    ...metadata,
    samples: parts.reduce((sum, p) => sum + p.samples, 0),
    unit,
    ...(notes.length > 0 ? { notes } : {}),
    extra: { ...metadata.extra, ...(eventFilter ? { event: eventFilter } : {}) },
  };
}
