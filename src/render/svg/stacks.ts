import type { Readable } from 'node:stream';
import { excerpt, InputError } from '../../errors.js';
import { forEachLine } from '../../io/lines.js';
import { kindFromAnnotation, processFrameName, type ProcessFrameStyle } from '../../profile/folded.js';
import type { FrameKind, Profile } from '../../profile/model.js';

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

const COUNT = /^\d+(?:\.\d*)?$/;
const SPACE = /\s/;

/** Folded text (flamegraph.pl's input) line by line, in file order, without building a Profile. */
export async function foldedStacks(input: Readable, file: string, opts: StackOptions): Promise<Stacks> {
  const collector = new StackCollector(opts.reverse);
  let lines = 0;
  await forEachLine(
    input,
    (text, lineNumber) => {
      if (text.length === 0 || text.charCodeAt(0) === 0x23 /* # */) return;
      // The count is the last field (flamegraph.pl: /^(.*)\s+?(\d+(?:\.\d*)?)$/), found by
      // scanning back from the end: linear, and no regex over a 1 KB line 200k times.
      let start = text.length;
      for (let c = text.charCodeAt(start - 1); start > 0 && ((c >= 0x30 && c <= 0x39) || c === 0x2e); c = text.charCodeAt(--start - 1));
      const count = text.slice(start);
      if (start === 0 || !SPACE.test(text[start - 1]!) || !COUNT.test(count)) {
        throw new InputError(`expected folded stack 'frame;frame;… count', found ${excerpt(text)}`, file, lineNumber);
      }
      const weight = Number(count);
      if (weight > Number.MAX_SAFE_INTEGER) throw new InputError(`count is larger than ${Number.MAX_SAFE_INTEGER}: ${excerpt(count, 30)}`, file, lineNumber);
      lines++;
      if (weight === 0) return;
      let end = start - 1;
      while (end > 0 && SPACE.test(text[end - 1]!)) end--;
      collector.begin();
      if (end > 0) {
        for (let from = 0; ; ) {
          let to = text.indexOf(';', from);
          if (to < 0 || to > end) to = end;
          collector.push(collector.nameId(text.slice(from, to)));
          if (to === end) break;
          from = to + 1;
        }
      }
      collector.end(weight);
    },
    { file },
  );
  if (lines === 0) throw new InputError('input is empty (no folded stacks)', file);
  return collector.finish(opts.flamechart);
}
