import { Readable } from 'node:stream';
import { excerpt, InputError } from '../errors.js';
import { forEachLine } from '../io/lines.js';
import { INPUT_FORMATS } from '../collapse/index.js';
import { kindFromAnnotation } from '../profile/folded.js';
import { CallTreeBuilder, type CallTree } from './calltree.js';

// Folded text read straight into what the renderers draw, without a Profile in between: for a
// 200k-stack file the Profile (frames interned with their modules, stacks keyed by string) cost
// more than drawing it.

const COUNT = /^\d+(?:\.\d*)?$/;
const SPACE = /\s/;

/**
 * One folded line: its weight, and where its frames end (`text.slice(0, end)` is `a;b;c`), or
 * undefined for blank and comment lines. Bad lines throw naming `file` and `lineNumber`.
 */
export function scanFoldedLine(text: string, file: string, lineNumber: number): { readonly weight: number; readonly end: number } | undefined {
  if (text.length === 0 || text.charCodeAt(0) === 0x23 /* # */) return undefined;
  // The count is the last field (flamegraph.pl: /^(.*)\s+?(\d+(?:\.\d*)?)$/), found by scanning
  // back from the end: linear, and no regex over a 1 KB line 200k times.
  let start = text.length;
  for (let c = text.charCodeAt(start - 1); start > 0 && ((c >= 0x30 && c <= 0x39) || c === 0x2e); c = text.charCodeAt(--start - 1));
  const count = text.slice(start);
  if (start === 0 || !SPACE.test(text[start - 1]!) || !COUNT.test(count)) {
    throw new InputError(`expected folded stack 'frame;frame;… count', found ${excerpt(text)}`, file, lineNumber);
  }
  const weight = Number(count);
  if (weight > Number.MAX_SAFE_INTEGER) throw new InputError(`count is larger than ${Number.MAX_SAFE_INTEGER}: ${excerpt(count, 30)}`, file, lineNumber);
  // Exactly one separator, as flamegraph.pl's `\s+?` and the Profile reader take: a leaf named
  // `[unknown] ` keeps its trailing space.
  return { weight, end: start - 1 };
}

/** Calls `frame` with each name of `text.slice(0, end)`, root first. */
export function forEachFoldedFrame(text: string, end: number, frame: (name: string) => void): void {
  if (end === 0) return;
  for (let from = 0; ; ) {
    let to = text.indexOf(';', from);
    if (to < 0 || to > end) to = end;
    frame(text.slice(from, to));
    if (to === end) return;
    from = to + 1;
  }
}

/** The merged call tree of folded text, as `buildCallTree(readFolded(…))` would make it. */
export async function callTreeFromFolded(input: Readable, file: string, options: { readonly reverse?: boolean } = {}): Promise<CallTree> {
  const builder = new CallTreeBuilder();
  const keys = new Map<string, number>();
  let lines = 0;
  let path = builder.scratch(64);
  let length = 0;
  // The previous line's text and where each of its frames ends: sorted folded files repeat the
  // previous line's first frames, whose keys are then reused without hashing their names.
  let previous = '';
  let previousEnds: number[] = [];
  let ends: number[] = [];
  await forEachLine(
    input,
    (text, lineNumber) => {
      const scanned = scanFoldedLine(text, file, lineNumber);
      if (!scanned) return;
      lines++;
      if (scanned.weight === 0) return;
      const end = scanned.end;
      // Frames of the previous line that lie wholly inside the common prefix, separator included.
      const limit = Math.min(previous.length, end);
      let common = 0;
      while (common < limit && previous.charCodeAt(common) === text.charCodeAt(common)) common++;
      let reusable = 0;
      while (reusable < previousEnds.length && previousEnds[reusable]! < common && previous.charCodeAt(previousEnds[reusable]!) === 0x3b) reusable++;
      length = 0;
      ends = [];
      for (let from = 0; end > 0; ) {
        let to = text.indexOf(';', from);
        if (to < 0 || to > end) to = end;
        let key: number | undefined;
        if (length < reusable) key = path[length]!;
        else {
          const name = text.slice(from, to);
          key = keys.get(name);
          if (key === undefined) keys.set(name, (key = builder.keyOf(name, kindFromAnnotation(name))));
        }
        if (length === path.length) path = builder.scratch(length * 2);
        path[length++] = key;
        ends.push(to);
        if (to === end) break;
        from = to + 1;
      }
      builder.addPath(path, length, scanned.weight, options.reverse);
      previous = text;
      previousEnds = ends;
    },
    { file },
  );
  if (lines === 0) throw new InputError('input is empty (no folded stacks)', file);
  return builder.build();
}

const SNIFF_LINES = 200;
const SNIFF_BYTES = 1 << 20;

/**
 * Whether `input` holds folded stacks (as `profile collapse` would detect them), decided from its
 * first lines, and a stream that replays everything read so far followed by the rest.
 */
export async function sniffFolded(input: Readable): Promise<{ readonly folded: boolean; readonly stream: Readable }> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: (Buffer | string)[] = [];
  let bytes = 0;
  let newlines = 0;
  let done = false;
  while (!done && newlines <= SNIFF_LINES && bytes < SNIFF_BYTES) {
    const step = await iterator.next();
    if (step.done) {
      done = true;
      break;
    }
    chunks.push(step.value);
    bytes += step.value.length;
    for (let i = step.value.indexOf('\n'); i >= 0; i = step.value.indexOf('\n', i + 1)) newlines++;
  }
  const head = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
  const stream = Readable.from(
    (async function* () {
      yield* chunks;
      if (done) return;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    })(),
    { objectMode: false },
  );
  // gzip (pprof or compressed text) and binary data are never folded text.
  if (head[0] === 0x1f && head[1] === 0x8b) return { folded: false, stream };
  const lines = head.toString('utf8').split('\n');
  if (!done) lines.pop();
  const meaningful = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)).slice(0, SNIFF_LINES);
  if (meaningful.every((line) => line.trim().length === 0)) return { folded: false, stream };
  const format = INPUT_FORMATS.find((f) => f.sniff(meaningful));
  return { folded: format?.name === 'folded', stream };
}
