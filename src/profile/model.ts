/**
 * The profile model: the one type every stage reads and writes.
 *
 * Frames are interned (a stack is a list of frame ids, root first), stacks carry a weight and,
 * when the source knows it, the thread that ran them. A `Profile` is immutable once built;
 * build one with `ProfileBuilder`.
 */

export type FrameKind = 'kernel' | 'user' | 'jit' | 'inline' | 'process';

export interface Frame {
  readonly name: string;
  readonly kind: FrameKind;
  /** Binary or module the frame lives in (`libc.so.6`, `[kernel.kallsyms]`, `ext4`). */
  readonly module?: string;
  readonly file?: string;
  readonly line?: number;
}

export type FrameId = number;

/** Who ran a stack. `comm` is untrusted text from the profiled system. */
export interface ThreadInfo {
  readonly comm: string;
  readonly pid?: number;
  readonly tid?: number;
  /** A series the caller splits the profile into (the agent's service): threads of different groups never merge. */
  readonly group?: string;
}

export interface WeightedStack {
  /** Frame ids, root (outermost caller) first. */
  readonly frames: readonly FrameId[];
  readonly weight: number;
  readonly thread?: ThreadInfo;
}

/** Why samples were lost, with how many; keys are stable identifiers such as `kernel-stack-collision`. */
export type DroppedSamples = Readonly<Record<string, number>>;

export interface RunMetadata {
  readonly host?: string;
  readonly kernel?: string;
  readonly commandLine?: string;
  readonly frequencyHz?: number;
  readonly durationSeconds?: number;
  /** Samples collected (events, not weight). */
  readonly samples?: number;
  readonly dropped?: DroppedSamples;
  /** What a unit of weight is: `samples` (default) or e.g. `nanoseconds` when perf periods are summed. */
  readonly unit?: string;
  readonly title?: string;
  readonly startTime?: string;
  /** Free-form notes for the report (e.g. modules that could not be symbolized). */
  readonly notes?: readonly string[];
  /** Anything a stage wants carried along (kept in JSON exports). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export class Profile {
  readonly frames: readonly Frame[];
  readonly stacks: readonly WeightedStack[];
  readonly metadata: RunMetadata;
  readonly totalWeight: number;

  constructor(frames: readonly Frame[], stacks: readonly WeightedStack[], metadata: RunMetadata) {
    this.frames = Object.freeze(frames.slice());
    this.stacks = Object.freeze(stacks.slice());
    this.metadata = Object.freeze({ ...metadata });
    let total = 0;
    for (const stack of stacks) total += stack.weight;
    this.totalWeight = total;
  }

  frame(id: FrameId): Frame {
    const frame = this.frames[id];
    if (frame === undefined) throw new RangeError(`no frame ${id}`);
    return frame;
  }

  withMetadata(metadata: Partial<RunMetadata>): Profile {
    return new Profile(this.frames, this.stacks, { ...this.metadata, ...metadata });
  }
}
