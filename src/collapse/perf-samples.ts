import { ProfileBuilder } from '../profile/builder.js';
import type { Frame, FrameId, ThreadInfo } from '../profile/model.js';
import { ByteInterner, HASH_SEED, hashInt, IntSequenceInterner, PairInterner } from './intern.js';
import { dropArguments, moduleKind, splitInlineChain, stripOffset, type PerfStackLine } from './perf-grammar.js';
import type { PerfOptions } from './perf-options.js';

/**
 * The stacks of one part of an input, as a parser that reads several parts hands them on
 * (src/collapse/parallel.ts). Ids are the parser's own: the frames, threads and stacks that no
 * earlier part of it had come with their definitions, in order of id.
 */
export interface PartStacks {
  /** Frames with ids from the number sent before on. */
  readonly frames: readonly Frame[];
  /** Threads with ids from the number sent before on. */
  readonly threads: readonly ThreadInfo[];
  /** Stacks with ids from the number sent before on: runs of [thread id, depth, frame ids root first…]. */
  readonly stacks: Int32Array;
  /** The stacks the part's samples have, in order of first appearance in the part. */
  readonly touched: Int32Array;
  /** Their weights in the part. */
  readonly weights: Float64Array;
}

/** Who ran a sample, and whether its frames get the Java clean-up. */
interface ThreadEntry {
  readonly info: ThreadInfo;
  readonly java: boolean;
}

/**
 * The samples of a perf script input, interned: frames once per distinct (symbol, dso), a
 * sample as the sequence of its stack lines' ids (looked up once at its end), a sequence never
 * seen before as a node of a trie of frame ids, leaf first, and a (thread, node) pair as the key
 * of a weight. Memory follows the distinct stacks, not the input size. The parser
 * (src/collapse/perf.ts) extends this: its byte path reaches the tables directly, as its hot loop
 * must not pay for calls.
 */
export class PerfSamples {
  protected readonly builder = new ProfileBuilder();
  protected readonly options: PerfOptions;
  protected readonly addrs: boolean;
  // Frame ids for a (symbol, dso) pair; the clean-up rules and interning run once per distinct pair.
  private readonly frameCache = new Map<string, FrameId[]>();
  // The same for the byte path, one table per Java flavour; undefined until a kept sample uses it.
  protected readonly frameKeys = [new ByteInterner(), new ByteInterner()];
  protected readonly frameKeyIds: (FrameId[] | undefined)[][] = [[], []];
  protected readonly threads: ThreadEntry[] = [];
  private readonly threadIds = new Map<string, number>();
  /** Trie edges: (parent node, frame id) → child node − 1; node 0 is the empty stack. */
  private readonly trie = new PairInterner();
  /**
   * The pending sample's stack lines so far, each as key id × 2 + java ("elements"), and their
   * hash. On the 40 MB corpus 505k stack lines make 60k samples but only 20k distinct sequences:
   * a trie step per line (a look-up in a table of 173k nodes, a cache miss each) cost more than
   * one sequence look-up per sample.
   */
  protected stack = new Int32Array(0);
  protected stackLength = 0;
  protected stackHash = 0;
  /** Set when the line path added frames to the pending sample: from then on it is `pendingNode`. */
  protected inTrie = false;
  private readonly sequences = new IntSequenceInterner();
  private sequenceNodes = new Int32Array(0);
  /**
   * Per element + 1 (0: the start of a sample), at 2 × (element + 1) the element that followed it
   * last time, plus one, and after it the one that followed it before that. Checking these guesses
   * needs no hash and touches a small table: one or the other is right for 85 % of the corpus's
   * stack lines (the last one alone for 77 %, a guess per trie node for 57 %).
   */
  protected successors = new Int32Array(0);
  /** (thread, node) → index into `weights`. */
  private readonly stackKeys = new PairInterner();
  private readonly weights: number[] = [];
  /**
   * The part being read: the stacks its samples have, in order of first appearance, and per stack
   * the part that last had it; `weights` hold the part's weights of those stacks only.
   */
  private touched: number[] = [];
  private touchedIn = new Int32Array(0);
  private part = 1;
  // How many frames, threads and stacks `takeStacks` already handed on.
  private sentFrames = 0;
  private sentThreads = 0;
  private sentStacks = 0;
  protected pending = false;
  protected pendingThread = 0;
  protected pendingWeight = 0;
  protected pendingNode = 0;
  protected pendingJava = 0;
  /** Samples read (filtered ones not counted). */
  protected samples = 0;

  constructor(options: PerfOptions) {
    this.options = options;
    this.addrs = options.addrs;
    // V8 compiles a field as a constant until its second store and deoptimizes the code that
    // relied on it when it changes later; the byte path's fields change first deep into the
    // input, so each is stored twice here (see PerfParser's constructor).
    this.stack = new Int32Array(256);
    this.sequenceNodes = new Int32Array(1024);
    this.touchedIn = new Int32Array(1024);
    this.successors = new Int32Array(1024);
    this.stackLength = 1;
    this.stackLength = 0;
    this.stackHash = 1;
    this.stackHash = 0;
    this.inTrie = true;
    this.inTrie = false;
    this.pendingJava = 1;
    this.pendingJava = 0;
    this.pending = true;
    this.pending = false;
    this.pendingThread = 1;
    this.pendingThread = 0;
    this.pendingWeight = 1;
    this.pendingWeight = 0;
    this.pendingNode = 1;
    this.pendingNode = 0;
    this.samples = 1;
    this.samples = 0;
  }

  /** Adds stack line `element` (key id × 2 + java) to the pending sample. */
  protected append(element: number): void {
    if (this.inTrie) {
      this.pushFrames(this.frameKeyIds[element & 1]![element >> 1]!);
      return;
    }
    if (this.stackLength === this.stack.length) {
      const stack = new Int32Array(this.stack.length * 2);
      stack.set(this.stack);
      this.stack = stack;
    }
    this.stack[this.stackLength++] = element;
    this.stackHash = hashInt(this.stackHash, element);
  }

  /** Like `append`, for an element the first guess missed: it becomes the first guess after the previous one. */
  protected appendNew(element: number): void {
    const previous = 2 * (this.stackLength > 0 ? this.stack[this.stackLength - 1]! + 1 : 0);
    if (previous >= this.successors.length) {
      const successors = new Int32Array(Math.max(previous + 2, this.successors.length * 2));
      successors.set(this.successors);
      this.successors = successors;
    }
    const first = this.successors[previous]!;
    if (first !== element + 1) {
      this.successors[previous + 1] = first;
      this.successors[previous] = element + 1;
    }
    this.append(element);
  }

  /** The index of a thread in `threads`, added when new. */
  protected thread(comm: string, pid: string, tid: string | undefined): number {
    const key = `${comm}\0${pid}\0${tid ?? ''}`;
    let index = this.threadIds.get(key);
    if (index === undefined) {
      // Perl truth again: a thread id of 0 (the idle task, `swapper 0/0`) reads as "no tid".
      const hasTid = tid !== undefined && tid !== '0';
      const name = comm.replaceAll(' ', '_');
      const info: ThreadInfo = hasTid ? { comm: name, pid: Number(pid), tid: Number(tid) } : { comm: name, tid: Number(pid) };
      index = this.threads.length;
      this.threads.push({ info, java: this.options.tidyJava && name.startsWith('java') });
      this.threadIds.set(key, index);
    }
    return index;
  }

  /** A header with no blank line before it names the thread and weight of the sample being read, keeping its frames. */
  protected startSample(thread: number, weight: number): void {
    if (!this.pending) {
      this.pending = true;
      this.pendingNode = 0;
      this.stackLength = 0;
      this.stackHash = HASH_SEED;
      this.inTrie = false;
    }
    this.pendingThread = thread;
    this.pendingJava = this.threads[thread]!.java ? 1 : 0;
    this.pendingWeight = weight;
  }

  protected frame(line: PerfStackLine): void {
    if (!this.pending) return; // a filtered sample's stack
    if (!this.inTrie) {
      this.pendingNode = this.stackNode();
      this.inTrie = true;
    }
    this.pushFrames(this.cachedFrameIds(line, this.pendingJava === 1));
  }

  /** The trie node of the pending sample's elements. */
  protected stackNode(): number {
    this.pendingNode = 0;
    for (let i = 0; i < this.stackLength; i++) {
      const element = this.stack[i]!;
      this.pushFrames(this.frameKeyIds[element & 1]![element >> 1]!);
    }
    return this.pendingNode;
  }

  /** The pending sample's trie node, through the table of element sequences seen before. */
  protected sampleNode(): number {
    if (this.inTrie) return this.pendingNode;
    if (this.stackLength === 0) return 0;
    const id = this.sequences.intern(this.stack, this.stackLength, this.stackHash);
    if (!this.sequences.isNew) return this.sequenceNodes[id]!;
    if (id === this.sequenceNodes.length) {
      const nodes = new Int32Array(id * 2);
      nodes.set(this.sequenceNodes);
      this.sequenceNodes = nodes;
    }
    return (this.sequenceNodes[id] = this.stackNode());
  }

  /** `frameIds` once per (symbol without offset, dso): a function is printed with many offsets. */
  protected cachedFrameIds(line: PerfStackLine, java: boolean): FrameId[] {
    const key = `${java ? 'j' : 'n'}${this.addrs ? line.pc : ''}\0${stripOffset(line.symbol)}\0${line.module ?? '\0'}`;
    let ids = this.frameCache.get(key);
    if (ids === undefined) {
      ids = this.frameIds(line, java);
      this.frameCache.set(key, ids);
    }
    return ids;
  }

  /** Inlined chains `a->b` are printed caller first; the stack is collected leaf first. */
  protected pushFrames(ids: readonly FrameId[]): void {
    let node = this.pendingNode;
    for (let i = ids.length - 1; i >= 0; i--) node = this.trie.intern(node, ids[i]!) + 1;
    this.pendingNode = node;
  }

  protected frameIds(line: PerfStackLine, java: boolean): FrameId[] {
    const { tidyGeneric } = this.options;
    const symbol = stripOffset(line.symbol);
    if (symbol.startsWith('(')) return [];
    const module = line.module;
    const kind = moduleKind(module);
    return splitInlineChain(symbol).map((part, index) => {
      let name = part;
      if (name === '[unknown]') {
        const known = module !== undefined && module !== '[unknown]' ? module.slice(module.lastIndexOf('/') + 1) : 'unknown';
        name = this.options.addrs ? `[${known} <${line.pc}>]` : `[${known}]`;
      }
      if (tidyGeneric) {
        name = dropArguments(name.replaceAll(';', ':')).replace(/["']/g, '');
      }
      if (java && name.includes('/') && name.startsWith('L')) name = name.slice(1);
      if (index > 0) {
        if (!name.includes('_[i]')) name += '_[i]';
        return this.builder.internFrame({ name, kind: 'inline', module });
      }
      if (module === 'inlined') return this.builder.internFrame({ name, kind: 'inline' });
      return this.builder.internFrame(module === undefined ? { name, kind } : { name, kind, module });
    });
  }

  protected flush(): void {
    if (!this.pending) return;
    this.pending = false;
    this.samples++;
    const index = this.stackKeys.intern(this.pendingThread, this.sampleNode());
    if (index >= this.touchedIn.length) {
      const touchedIn = new Int32Array(this.touchedIn.length * 2);
      touchedIn.set(this.touchedIn);
      this.touchedIn = touchedIn;
    }
    if (this.touchedIn[index] !== this.part) {
      this.touchedIn[index] = this.part;
      this.touched.push(index);
      if (index === this.weights.length) this.weights.push(this.pendingWeight);
      else this.weights[index] = this.pendingWeight;
    } else {
      this.weights[index] += this.pendingWeight;
    }
  }

  /** The frames of stack `index`, outermost caller first, as a profile wants. */
  private stackFrames(index: number): FrameId[] {
    const trie = this.trie;
    const frames: FrameId[] = [];
    // Up from the leaf-first trie node.
    for (let node = this.stackKeys.second(index); node > 0; node = trie.first(node - 1)) frames.push(trie.second(node - 1));
    return frames;
  }

  /** Ends the samples (one still pending is dropped: see PerfParser.finish) and adds every stack to the builder. */
  protected addStacks(): void {
    this.pending = false;
    for (const index of this.touched) {
      this.builder.addStack(this.stackFrames(index), this.weights[index]!, this.threads[this.stackKeys.first(index)]!.info, true);
    }
  }

  /**
   * Ends the samples of a part (one still pending is dropped) and hands them on; the next samples
   * start a new part. Every table, and what it learnt about the input, carries over.
   */
  protected takeStacks(): PartStacks {
    this.pending = false;
    const frames = this.builder.framesFrom(this.sentFrames);
    this.sentFrames += frames.length;
    const threads = this.threads.slice(this.sentThreads).map((entry) => entry.info);
    this.sentThreads = this.threads.length;
    const added: FrameId[][] = [];
    let length = 0;
    for (let index = this.sentStacks; index < this.stackKeys.size; index++) {
      const stackFrames = this.stackFrames(index);
      added.push(stackFrames);
      length += 2 + stackFrames.length;
    }
    const stacks = new Int32Array(length);
    let at = 0;
    added.forEach((stackFrames, i) => {
      stacks[at++] = this.stackKeys.first(this.sentStacks + i);
      stacks[at++] = stackFrames.length;
      stacks.set(stackFrames, at);
      at += stackFrames.length;
    });
    this.sentStacks = this.stackKeys.size;
    const touched = Int32Array.from(this.touched);
    const weights = Float64Array.from(this.touched, (index) => this.weights[index]!);
    this.touched = [];
    this.part++;
    this.samples = 0;
    return { frames, threads, stacks, touched, weights };
  }
}
