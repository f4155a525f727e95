import type { Readable } from 'node:stream';
import { kindFromAnnotation, processFrameName, type ProcessFrameStyle } from '../../profile/folded.js';
import type { FrameKind, Profile } from '../../profile/model.js';
import { scanFolded, weightedStacks } from '../../profile/folded-scan.js';

/**
 * Stacks as runs of name ids in one typed array: a 244 MB folded file with 200k stacks is ~7M
 * frames, which as a tree of objects (or as sorted strings) costs gigabytes and seconds of GC;
 * as ids it is 28 MB, and sorting compares a few integers per pair instead of long prefixes.
 */
export interface Stacks {
  /** Distinct frame names; frames with the same name are one frame here, as in flamegraph.pl. */
  readonly names: readonly string[];
  readonly kinds: readonly FrameKind[];
  readonly pool: Int32Array;
  /** Stack i is pool[offsets[i] .. offsets[i + 1]), root first. */
  readonly offsets: readonly number[];
  readonly weights: readonly number[];
  /** Stacks in drawing order: sorted by name, or as given for a flame chart. */
  readonly order: readonly number[];
  readonly total: number;
}

export interface StackOptions {
  readonly reverse: boolean;
  readonly flamechart: boolean;
  readonly processFrame: ProcessFrameStyle;
}

class StackCollector {
  readonly names: string[] = [];
  readonly kinds: FrameKind[] = [];
  private readonly ids = new Map<string, number>();
  pool = new Int32Array(1 << 16);
  used = 0;
  readonly offsets: number[] = [];
  readonly weights: number[] = [];
  total = 0;

  constructor(private readonly reverse: boolean) {}

  nameId(name: string, kind?: FrameKind): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.kinds.push(kind ?? kindFromAnnotation(name));
      this.ids.set(name, id);
    }
    return id;
  }

  begin(): void {
    this.offsets.push(this.used);
  }

  push(id: number): void {
    if (this.used === this.pool.length) {
      const grown = new Int32Array(this.pool.length * 2);
      grown.set(this.pool);
      this.pool = grown;
    }
    this.pool[this.used++] = id;
  }

  end(weight: number): void {
    if (this.reverse) this.pool.subarray(this.offsets[this.offsets.length - 1], this.used).reverse();
    this.weights.push(weight);
    this.total += weight;
  }

  finish(flamechart: boolean): Stacks {
    const offsets = [...this.offsets, this.used];
    const order = Array.from(this.weights, (_, i) => i);
    if (!flamechart) {
      // Frame by frame in flamegraph.pl's order: it sorts whole lines, so siblings compare as
      // `name;` (`main2` before `main`), and a stack that ends first (a frame's own weight) comes
      // before its children. Comparing per frame keeps every frame in one piece, where
      // flamegraph.pl splits `f` when a sibling such as `f.cold` sorts between its lines.
      const keys = this.names.map((name) => name + ';');
      const byName = Array.from(keys, (_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
      const rank = new Int32Array(this.names.length);
      byName.forEach((id, r) => (rank[id] = r));
      const pool = this.pool;
      order.sort((a, b) => {
        const endA = offsets[a + 1]!;
        const endB = offsets[b + 1]!;
        for (let i = offsets[a]!, j = offsets[b]!; i < endA && j < endB; i++, j++) {
          const d = rank[pool[i]!]! - rank[pool[j]!]!;
          if (d !== 0) return d;
        }
        return endA - offsets[a]! - (endB - offsets[b]!);
      });
    }
    return { names: this.names, kinds: this.kinds, pool: this.pool, offsets, weights: this.weights, order, total: this.total };
  }
}

export function profileStacks(profile: Profile, opts: StackOptions): Stacks {
  const collector = new StackCollector(opts.reverse);
  const frameIds = profile.frames.map((frame) => collector.nameId(frame.name, frame.kind));
  for (const stack of profile.stacks) {
    if (stack.weight === 0) continue;
    collector.begin();
    const process = stack.thread ? processFrameName(stack.thread, opts.processFrame) : undefined;
    if (process !== undefined) collector.push(collector.nameId(process, 'process'));
    for (const id of stack.frames) collector.push(frameIds[id]!);
    collector.end(stack.weight);
  }
  return collector.finish(opts.flamechart);
}

/** Folded text (flamegraph.pl's input) line by line, in file order, without building a Profile. */
export async function foldedStacks(input: Readable, file: string, opts: StackOptions): Promise<Stacks> {
  const collector = new StackCollector(opts.reverse);
  // Name ids of the scanner's current names, by position; zero-weight lines make no ids.
  const ids: number[] = [];
  await scanFolded(
    input as AsyncIterable<Buffer | string>,
    file,
    weightedStacks((frames, length, fresh, count) => {
      for (let i = fresh; i < length; i++) ids[i] = collector.nameId(frames[i]!);
      collector.begin();
      for (let i = 0; i < length; i++) collector.push(ids[i]!);
      collector.end(count);
    }),
  );
  return collector.finish(opts.flamechart);
}
