/**
 * perf script files too big for one core: the file is cut into parts where a blank line ends a
 * sample, worker threads (src/collapse/collapse-worker.ts) parse the parts, and their stacks are
 * added up here part by part, in input order, into one profile: the same stacks, weights, notes
 * and order of first appearance as one parser reading the whole file.
 *
 * There are several parts per thread, handed out one at a time, so that a thread whose core is
 * busy with something else takes fewer of them: with one part per thread, a thread slowed down
 * held up the whole command. Each thread keeps one parser for all its parts, whose tables (the
 * distinct stack lines, frames and stacks it learnt) carry over, so a part costs no more than the
 * same bytes read by one parser; only stacks, frames and threads new to that parser are sent.
 *
 * Only what a part cannot know is settled first: the event kept when none was chosen is the first
 * one in the file, read from its head. Everything else a parser carries from one sample to the
 * next is reset by the blank line a part starts after, or by `PerfParser.takePart`, except whether
 * stack lines had a dso; a part that read stack lines without one is read again by one parser
 * (see `collapseInParallel`).
 */
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { ProfileBuilder } from '../profile/builder.js';
import type { FrameId, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';
import type { PartStacks } from './perf-samples.js';
import { perfMetadata, type PerfPart } from './perf-metadata.js';
import { parseEvent, parseHeader } from './perf-grammar.js';
import type { PerfOptions } from './perf-options.js';
import type { ParallelPlan } from './parallel-plan.js';

/** What a worker is given once: the file and the parser's options, the event to keep settled. */
export interface WorkerSetup {
  readonly path: string;
  readonly options: Partial<PerfOptions>;
}

/** A part to parse: bytes `start` to `end` of the file. */
export interface PartRequest {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/** A part's stacks as a worker sends them, in the ids of its parser (see PartStacks). */
export interface SerializedPart {
  readonly index: number;
  readonly stacks: PartStacks;
  readonly part: PerfPart;
}

export type WorkerReply = SerializedPart | { readonly index: number; readonly error: string };

/** The parts `add` got from one parser so far: its ids, and what they are in the merged profile. */
interface Source {
  readonly frames: FrameId[];
  readonly threads: (ThreadInfo | undefined)[];
  /** Per stack id of the parser: its frames and thread until the merged profile has it, then its index there. */
  readonly stacks: ({ readonly frames: FrameId[]; readonly thread: ThreadInfo | undefined } | number)[];
}

/**
 * Adds parts, in input order, into one profile; integer weights add up exactly below 2^53.
 * A part's new stacks join the profile in the order they first appear in it, as with one parser.
 */
export class PartMerger {
  private readonly builder = new ProfileBuilder();
  private readonly parts: PerfPart[] = [];
  private readonly threads = new Map<string, ThreadInfo>();
  private readonly sources = new Map<number, Source>();

  /** Adds the next part in input order, read by the parser numbered `source`. */
  add(source: number, serialized: SerializedPart): void {
    let known = this.sources.get(source);
    if (known === undefined) this.sources.set(source, (known = { frames: [], threads: [], stacks: [] }));
    const { frames, threads, stacks, touched, weights } = serialized.stacks;
    for (const frame of frames) known.frames.push(this.builder.internFrame(frame));
    // One object per thread across parsers, so the builder finds a thread by identity.
    for (const thread of threads) {
      const key = `${thread.comm}\0${thread.pid ?? ''}\0${thread.tid ?? ''}`;
      let same = this.threads.get(key);
      if (same === undefined) this.threads.set(key, (same = thread));
      known.threads.push(same);
    }
    for (let at = 0; at < stacks.length; ) {
      const thread = known.threads[stacks[at++]!];
      const depth = stacks[at++]!;
      const ids: FrameId[] = new Array(depth);
      for (let d = 0; d < depth; d++) ids[d] = known.frames[stacks[at++]!]!;
      known.stacks.push({ frames: ids, thread });
    }
    for (let i = 0; i < touched.length; i++) {
      const id = touched[i]!;
      const stack = known.stacks[id]!;
      if (typeof stack === 'number') this.builder.addWeight(stack, weights[i]!);
      else known.stacks[id] = this.builder.addStack(stack.frames, weights[i]!, stack.thread, true);
    }
    this.parts.push(serialized.part);
  }

  build(options: Pick<PerfOptions, 'weight' | 'eventFilter'>, metadata: RunMetadata): Profile {
    return this.builder.build(perfMetadata(this.parts, options, metadata));
  }

  get sawBare(): boolean {
    return this.parts.some((p) => p.sawBare);
  }
}

/**
 * The event of the first sample header in `head` that names one, as the parser would read it, or
 * undefined when the head has none.
 */
export function firstEvent(head: Buffer): string | undefined {
  const text = head.toString('utf8', 0, head.lastIndexOf(10) + 1);
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const first = line.charCodeAt(0);
    // Blank lines, comments and stack lines (indented) never name an event.
    if (line.length === 0 || first === 35 || first === 32 || (first >= 9 && first <= 13)) continue;
    if (parseHeader(line) === undefined) continue;
    const event = parseEvent(line);
    if (event) return event.event;
  }
  return undefined;
}

/** Where parts start: 0, then just after a blank line near each multiple of `partBytes`; the file's size ends the list. */
export async function partBoundaries(path: string, size: number, partBytes: number): Promise<number[]> {
  const boundaries = [0];
  const handle = await open(path, 'r');
  const window = Buffer.allocUnsafe(64 * 1024);
  try {
    for (let target = partBytes; target < size; target += partBytes) {
      const from = Math.max(target, boundaries[boundaries.length - 1]!);
      let found = -1;
      // Look for "\n\n" from one byte before `from`: its second newline is a blank line.
      for (let position = from - 1; found < 0 && position < size - 1; position += window.length - 1) {
        const { bytesRead } = await handle.read(window, 0, window.length, position);
        if (bytesRead < 2) break;
        const at = window.subarray(0, bytesRead).indexOf('\n\n');
        if (at >= 0) found = position + at + 2;
      }
      if (found < 0 || found >= size) break;
      if (found > boundaries[boundaries.length - 1]!) boundaries.push(found);
    }
  } finally {
    await handle.close();
  }
  boundaries.push(size);
  return boundaries;
}

/**
 * Collapses the file of `plan` on worker threads. Undefined when one parser must read it instead:
 * a part failed (the parser's error names the line in the whole file), or read stack lines
 * without a dso (whether a dso was seen before changes how such lines read).
 */
export async function collapseInParallel(plan: ParallelPlan, options: PerfOptions, metadata: RunMetadata, head: Buffer): Promise<Profile | undefined> {
  const eventFilter = options.eventFilter || firstEvent(head);
  if (eventFilter === undefined) return undefined;
  const boundaries = await partBoundaries(plan.path, plan.size, plan.partBytes);
  const requests: PartRequest[] = boundaries.slice(1).map((end, index) => ({ index, start: boundaries[index]!, end }));
  const setup: WorkerSetup = { path: plan.path, options: { ...options, eventFilter } };
  const merger = new PartMerger();
  const done = new Map<number, { readonly source: number; readonly reply: SerializedPart }>();
  let merged = 0;
  let next = 0;
  let failed = false;
  let finished = false;
  const workerUrl = new URL('./collapse-worker.js', import.meta.url);
  // A worker that fails, or stops without answering (out of memory), leaves the file to one parser.
  const run = (worker: Worker, source: number): Promise<void> =>
    new Promise((resolve) => {
      const fail = (): void => {
        if (finished) return;
        failed = true;
        resolve();
      };
      const send = (): void => {
        if (failed || next >= requests.length) {
          resolve();
          return;
        }
        worker.postMessage(requests[next++]);
      };
      worker.on('error', fail);
      worker.on('exit', fail);
      worker.on('message', (reply: WorkerReply) => {
        if ('error' in reply) {
          fail();
          return;
        }
        done.set(reply.index, { source, reply });
        // Merged as soon as every part before it is: memory holds the parts out of order only.
        for (let part = done.get(merged); part !== undefined; part = done.get(merged)) {
          done.delete(merged++);
          merger.add(part.source, part.reply);
        }
        send();
      });
      send();
    });
  const workers = Array.from({ length: Math.min(plan.threads, requests.length) }, () => new Worker(workerUrl, { workerData: setup }));
  try {
    await Promise.all(workers.map((worker, source) => run(worker, source)));
  } finally {
    finished = true;
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failed || merger.sawBare) return undefined;
  return merger.build(options, metadata);
}
