import type { Readable } from 'node:stream';
import { kindFromAnnotation, processFrameName, type ProcessFrameStyle } from '../profile/folded.js';
import { scanFolded, weightedStacks } from '../profile/folded-scan.js';
import type { FrameKind, Profile } from '../profile/model.js';

export interface CallTreeOptions {
  /** Root frame per process for stacks that know their thread. Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
  /** Build the tree from the leaves (icicle of callees; FlameGraph's `--reverse`). Default false. */
  readonly reverse: boolean;
}

export const CALL_TREE_DEFAULTS: CallTreeOptions = Object.freeze({ processFrame: 'comm', reverse: false });

/**
 * The merged call tree as parallel typed arrays: node 0 is the root `all`, every other node is a
 * frame key (a distinct name+kind) under a parent, and a parent always has a smaller index than
 * its children (nodes are numbered in creation order). A 1M-sample / 200k-stack profile makes
 * ~900k nodes: as objects with child arrays and per-node Maps that took ~2 s to build and as long
 * again in GC; as columns with one open-addressing hash of (parent, key) it takes ~0.2 s.
 */
export interface CallTree {
  readonly size: number;
  /** Per key: name, kind, and the first profile frame id seen with it (-1 for process frames). */
  readonly names: readonly string[];
  readonly kinds: readonly FrameKind[];
  readonly frameIds: readonly number[];
  /** Per node (index `size` and beyond are unused capacity). */
  readonly key: Int32Array;
  readonly parent: Int32Array;
  readonly total: Float64Array;
  readonly self: Float64Array;
  /** Differential trees only (src/diff): the other side's total and self weight per node. */
  readonly other?: Float64Array;
  readonly otherSelf?: Float64Array;
  /**
   * Per key, over the stacks as given (not the tree, so a reversed tree counts the same):
   * the weight of stacks that end in it, and of stacks that contain it at least once.
   * Absent for trees merged from two others (differential trees; see `functionStats`).
   */
  readonly functionSelf?: Float64Array;
  readonly functionTotal?: Float64Array;
  /** Stacks with a non-zero weight that went in. */
  readonly stacks: number;
}

const EMPTY = -1;

export class CallTreeBuilder {
  readonly names: string[] = [];
  readonly kinds: FrameKind[] = [];
  readonly frameIds: number[] = [];
  private readonly keyIds = new Map<string, number>();
  size = 1;
  key: Int32Array;
  parent: Int32Array;
  total: Float64Array;
  self: Float64Array;
  /** Open addressing over (parent, key): the node, or EMPTY. */
  private slots: Int32Array;
  private isProcess = new Uint8Array(256);
  private functionSelf = new Float64Array(256);
  private functionTotal = new Float64Array(256);
  private seenIn = new Int32Array(256).fill(-1);
  private path = new Int32Array(64);
  private stacks = 0;
  private lastKeys = new Int32Array(64);
  private lastNodes = new Int32Array(64);
  private lastLength = 0;

  /** `capacity`: nodes to make room for up front (growing by doubling costs copies and rehashes). */
  constructor(capacity = 1 << 12) {
    let length = 1 << 12;
    while (length < capacity && length < 1 << 24) length *= 2;
    this.key = new Int32Array(length).fill(-1);
    this.parent = new Int32Array(length).fill(-1);
    this.total = new Float64Array(length);
    this.self = new Float64Array(length);
    this.slots = new Int32Array(2 * length).fill(EMPTY);
  }

  /** The key of a name+kind, made on first use. */
  keyOf(name: string, kind: FrameKind, frameId = -1): number {
    const text = `${kind}\0${name}`;
    let id = this.keyIds.get(text);
    if (id === undefined) {
      id = this.names.length;
      this.keyIds.set(text, id);
      this.names.push(name);
      this.kinds.push(kind);
      this.frameIds.push(frameId);
      if (id >= this.seenIn.length) {
        this.functionSelf = grow(this.functionSelf, id + 1);
        this.functionTotal = grow(this.functionTotal, id + 1);
        const seen = new Int32Array(this.seenIn.length * 2).fill(-1);
        seen.set(this.seenIn);
        this.seenIn = seen;
        const isProcess = new Uint8Array(this.seenIn.length);
        isProcess.set(this.isProcess);
        this.isProcess = isProcess;
      }
      this.isProcess[id] = kind === 'process' ? 1 : 0;
    }
    return id;
  }

  /** The child of `parent` with `key`, made on first use. */
  child(parent: number, key: number): number {
    const mask = this.slots.length - 1;
    let slot = hash(parent, key) & mask;
    for (;;) {
      const node = this.slots[slot]!;
      if (node === EMPTY) break;
      if (this.key[node] === key && this.parent[node] === parent) return node;
      slot = (slot + 1) & mask;
    }
    const node = this.size++;
    if (node === this.key.length) this.growNodes();
    this.key[node] = key;
    this.parent[node] = parent;
    // Rehashing after the grow may have moved every slot: insert afresh rather than at `slot`.
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.slots[slot] = node;
    return node;
  }

  /** Adds one stack of keys (`keys[0..length)`, root first) with `weight`; `reverse` walks it leaf first. */
  addPath(keys: ArrayLike<number>, length: number, weight: number, reverse = false): void {
    if (weight === 0) return;
    const stack = this.stacks++;
    if (this.lastKeys.length < length) {
      const lastKeys = new Int32Array(Math.max(length, this.lastKeys.length * 2));
      lastKeys.set(this.lastKeys.subarray(0, this.lastLength));
      const lastNodes = new Int32Array(lastKeys.length);
      lastNodes.set(this.lastNodes.subarray(0, this.lastLength));
      this.lastKeys = lastKeys;
      this.lastNodes = lastNodes;
    }
    // Sorted input (folded files, mostly) repeats the previous stack's first frames: the nodes
    // of that shared prefix are taken from the previous path instead of being looked up again.
    let shared = this.lastLength;
    let node = 0;
    this.total[0] += weight;
    for (let i = 0; i < length; i++) {
      const key = keys[reverse ? length - 1 - i : i]!;
      if (i < shared && this.lastKeys[i] === key) node = this.lastNodes[i]!;
      else {
        if (i < shared) shared = i;
        node = this.child(node, key);
        this.lastKeys[i] = key;
        this.lastNodes[i] = node;
      }
      this.total[node] += weight;
      if (this.isProcess[key] === 0 && this.seenIn[key] !== stack) {
        this.seenIn[key] = stack;
        this.functionTotal[key] += weight;
      }
    }
    this.lastLength = length;
    this.self[node] += weight;
    for (let i = length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (this.isProcess[key] === 1) continue;
      this.functionSelf[key] += weight;
      break;
    }
  }

  /** A scratch array for one stack's keys, at least `length` long; what it held is kept. */
  scratch(length: number): Int32Array {
    if (this.path.length < length) {
      const path = new Int32Array(Math.max(length, this.path.length * 2));
      path.set(this.path);
      this.path = path;
    }
    return this.path;
  }

  build(): CallTree {
    return {
      size: this.size,
      names: this.names,
      kinds: this.kinds,
      frameIds: this.frameIds,
      key: this.key,
      parent: this.parent,
      total: this.total,
      self: this.self,
      functionSelf: this.functionSelf,
      functionTotal: this.functionTotal,
      stacks: this.stacks,
    };
  }

  private growNodes(): void {
    const length = this.key.length * 2;
    const key = new Int32Array(length).fill(-1);
    key.set(this.key);
    const parent = new Int32Array(length).fill(-1);
    parent.set(this.parent);
    this.key = key;
    this.parent = parent;
    this.total = grow(this.total, length);
    this.self = grow(this.self, length);
  }

  private rehash(capacity: number): void {
    const slots = new Int32Array(capacity).fill(EMPTY);
    const mask = capacity - 1;
    for (let node = 1; node < this.size; node++) {
      let slot = hash(this.parent[node]!, this.key[node]!) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = node;
    }
    this.slots = slots;
  }
}

function hash(parent: number, key: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(key + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

function grow(array: Float64Array, minimum: number): Float64Array<ArrayBuffer> {
  let length = array.length;
  while (length < minimum) length *= 2;
  const grown = new Float64Array(length);
  grown.set(array);
  return grown;
}

/** The call tree of `profile`: frames merged by name and kind under the same parent. */
export function buildCallTree(profile: Profile, options: Partial<CallTreeOptions> = {}): CallTree {
  const opts = { ...CALL_TREE_DEFAULTS, ...options };
  const builder = new CallTreeBuilder();
  const frameKeys = profile.frames.map((frame, id) => builder.keyOf(frame.name, frame.kind, id));
  const processKeys = new Map<string, number>();
  for (const stack of profile.stacks) {
    if (stack.weight === 0) continue;
    const frames = stack.frames;
    const processName = stack.thread ? processFrameName(stack.thread, opts.processFrame) : undefined;
    const path = builder.scratch(frames.length + 1);
    let length = 0;
    if (processName !== undefined) {
      let key = processKeys.get(processName);
      if (key === undefined) processKeys.set(processName, (key = builder.keyOf(processName, 'process')));
      path[length++] = key;
    }
    for (let i = 0; i < frames.length; i++) path[length++] = frameKeys[frames[i]!]!;
    builder.addPath(path, length, stack.weight, opts.reverse);
  }
  return builder.build();
}

/**
 * The merged call tree of folded text, as `buildCallTree(readFolded(…))` would make it, without a
 * Profile in between: for a 200k-stack file the Profile (frames interned with their modules,
 * stacks hashed) cost more than drawing it.
 */
export async function callTreeFromFolded(input: Readable, file: string, options: { readonly reverse?: boolean } = {}): Promise<CallTree> {
  const builder = new CallTreeBuilder();
  const keys = new Map<string, number>();
  let path = builder.scratch(64);
  // `path` holds keys only for weighted lines: a zero-weight line's names make no keys, so they
  // are not in the tree's key table.
  await scanFolded(
    input as AsyncIterable<Buffer | string>,
    file,
    weightedStacks((frames, length, fresh, count) => {
      if (path.length < length) path = builder.scratch(length);
      for (let i = fresh; i < length; i++) {
        const name = frames[i]!;
        let key = keys.get(name);
        if (key === undefined) keys.set(name, (key = builder.keyOf(name, kindFromAnnotation(name))));
        path[i] = key;
      }
      builder.addPath(path, length, count, options.reverse);
    }),
  );
  return builder.build();
}

/** Children of every node, in creation order, as one index array: node i's are `list[start[i] .. start[i + 1])`. */
export function childLists(tree: CallTree): { readonly start: Int32Array; readonly list: Int32Array } {
  const start = new Int32Array(tree.size + 1);
  for (let i = 1; i < tree.size; i++) start[tree.parent[i]! + 1]++;
  for (let i = 0; i < tree.size; i++) start[i + 1] += start[i]!;
  const fill = start.slice(0, tree.size);
  const list = new Int32Array(Math.max(0, tree.size - 1));
  for (let i = 1; i < tree.size; i++) list[fill[tree.parent[i]!]!++] = i;
  return { start, list };
}

/**
 * Per key: [self, total, other total] from the tree itself, a function counted once per path
 * however deep it recurses (its outermost occurrence carries the weight). Process frames and the
 * root are left out. For trees without ingestion statistics (differential ones).
 */
export function functionStats(tree: CallTree): { self: Float64Array; total: Float64Array; other: Float64Array } {
  const keys = tree.names.length;
  const self = new Float64Array(keys);
  const total = new Float64Array(keys);
  const other = new Float64Array(keys);
  // depthOf[key]: how many times key is on the path from the root to the current node.
  const onPath = new Int32Array(keys);
  const { start, list } = childLists(tree);
  // Preorder with explicit exits: a negative entry -(i + 1) leaves node i.
  const pending: number[] = [];
  for (let j = start[1]! - 1; j >= start[0]!; j--) pending.push(list[j]!);
  while (pending.length > 0) {
    const entry = pending.pop()!;
    if (entry < 0) {
      onPath[tree.key[-entry - 1]!]!--;
      continue;
    }
    const key = tree.key[entry]!;
    if (tree.kinds[key] !== 'process') {
      self[key] += tree.self[entry]!;
      if (onPath[key] === 0) {
        total[key] += tree.total[entry]!;
        other[key] += tree.other?.[entry] ?? 0;
      }
    }
    onPath[key]!++;
    pending.push(-entry - 1);
    for (let j = start[entry + 1]! - 1; j >= start[entry]!; j--) pending.push(list[j]!);
  }
  return { self, total, other };
}
