import type { FoldedWriteOptions } from '../profile/folded.js';
import type { Profile } from '../profile/model.js';
import type { Sink } from '../io/sink.js';

// What every writer shares, apart from the registry (./index.ts) that picks one: writers import
// this, the registry imports the writers.

export const OUTPUT_FORMATS = ['folded', 'svg', 'html', 'png', 'speedscope', 'pprof'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Options for every writer; each writer reads its own section. */
export interface WriteOptions {
  readonly folded?: Partial<FoldedWriteOptions>;
  /** Options for the SVG/HTML/PNG renderers (defined by src/render). */
  readonly render?: Readonly<Record<string, unknown>>;
}

/** A writer turns a profile into bytes on a sink. */
export type ProfileWriter = (profile: Profile, sink: Sink, options: WriteOptions) => Promise<void>;
