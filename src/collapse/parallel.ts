/**
 * perf script files too big for one core: the file is cut into parts where a blank line ends a
 * sample, worker threads (src/collapse/collapse-worker.ts) parse the parts, and their stacks are
 * added up here part by part, in input order, into one profile: the same stacks, weights, notes
 * and order of first appearance as one parser reading the whole file.
 *
 * Only what a part cannot know is settled first: the event kept when none was chosen is the first
 * one in the file, read from its head. Everything else a parser carries from one sample to the
 * next is reset by the blank line a part starts after, except whether stack lines had a dso; a
 * part that read stack lines without one is read again by one parser (see `collapseInParallel`).
 */
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { ProfileBuilder } from '../profile/builder.js';
import type { Frame, FrameId, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';
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

/** A part's stacks as a worker sends them: runs of [thread, depth, frame ids…] with their weights. */
export interface SerializedPart {
  readonly index: number;
  readonly frames: readonly Frame[];
  readonly threads: readonly ThreadInfo[];
  readonly stacks: Int32Array;
  readonly weights: Float64Array;
  readonly part: PerfPart;
}

export type WorkerReply = SerializedPart | { readonly index: number; readonly error: string };

export function serializePart(index: number, profile: Profile, part: PerfPart): SerializedPart {
  const threads: ThreadInfo[] = [];
  const threadIndex = new Map<ThreadInfo, number>();
  let length = 0;
  for (const stack of profile.stacks) length += 2 + stack.frames.length;
  const stacks = new Int32Array(length);
  const weights = new Float64Array(profile.stacks.length);
  let at = 0;
  profile.stacks.forEach((stack, i) => {
    let thread = -1;
    if (stack.thread !== undefined) {
      thread = threadIndex.get(stack.thread) ?? -1;
      if (thread < 0) {
        thread = threads.length;
        threads.push(stack.thread);
        threadIndex.set(stack.thread, thread);
      }
    }
    stacks[at++] = thread;
    stacks[at++] = stack.frames.length;
    for (const id of stack.frames) stacks[at++] = id;
    weights[i] = stack.weight;
  });
  return { index, frames: profile.frames, threads, stacks, weights, part };
}

/** Adds parts, in input order, into one profile; integer weights add up exactly below 2^53. */
export class PartMerger {
  private readonly builder = new ProfileBuilder();
  private readonly parts: PerfPart[] = [];
  private readonly threads = new Map<string, ThreadInfo>();

  add(serialized: SerializedPart): void {
    const ids = serialized.frames.map((frame) => this.builder.internFrame(frame));
    // One object per thread across parts, so the builder finds a thread by identity.
    const threads = serialized.threads.map((thread) => {
      const key = `${thread.comm}\0${thread.pid ?? ''}\0${thread.tid ?? ''}`;
      let known = this.threads.get(key);
      if (known === undefined) this.threads.set(key, (known = thread));
      return known;
    });
    const { stacks, weights } = serialized;
    for (let at = 0, i = 0; at < stacks.length; i++) {
      const thread = stacks[at++]!;
      const depth = stacks[at++]!;
      const frames: FrameId[] = new Array(depth);
      for (let d = 0; d < depth; d++) frames[d] = ids[stacks[at++]!]!;
      this.builder.addStack(frames, weights[i]!, thread < 0 ? undefined : threads[thread], true);
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
  const done = new Map<number, SerializedPart>();
  let merged = 0;
  let next = 0;
  let failed = false;
  let finished = false;
  const workerUrl = new URL('./collapse-worker.js', import.meta.url);
  // A worker that fails, or stops without answering (out of memory), leaves the file to one parser.
  const run = (worker: Worker): Promise<void> =>
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
        done.set(reply.index, reply);
        // Merged as soon as every part before it is: memory holds the parts out of order only.
        for (let part = done.get(merged); part !== undefined; part = done.get(merged)) {
          done.delete(merged++);
          merger.add(part);
        }
        send();
      });
      send();
    });
  const workers = Array.from({ length: Math.min(plan.threads, requests.length) }, () => new Worker(workerUrl, { workerData: setup }));
  try {
    await Promise.all(workers.map(run));
  } finally {
    finished = true;
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failed || merger.sawBare) return undefined;
  return merger.build(options, metadata);
}
