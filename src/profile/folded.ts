// Reference: https://github.com/brendangregg/FlameGraph (flamegraph.pl reads `frame;frame count`).
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import type { Sink } from '../io/sink.js';
import { ProfileBuilder } from './builder.js';
import { FoldedScanner, parseFoldedText, type FoldedConsumer } from './folded-scan.js';
import type { Frame, FrameId, FrameKind, Profile, RunMetadata, ThreadInfo } from './model.js';

export type ProcessFrameStyle = 'none' | 'comm' | 'comm-pid' | 'comm-pid/tid';

export interface FoldedWriteOptions {
  /** Which root frame to add for stacks that know their thread. Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
  /** Append `_[k]` to kernel frames (stackcollapse-perf's `--kernel`). Default false. */
  readonly annotateKernel: boolean;
  /** Append `_[j]` to JIT frames (`--jit`). Default false. */
  readonly annotateJit: boolean;
  /** Append `_[i]` to inlined frames. Default false. */
  readonly annotateInline: boolean;
  /** Sort lines bytewise, as stackcollapse-perf.pl does. Default true. */
  readonly sort: boolean;
}

export const FOLDED_DEFAULTS: FoldedWriteOptions = Object.freeze({
  processFrame: 'comm',
  annotateKernel: false,
  annotateJit: false,
  annotateInline: false,
  sort: true,
});

const ANNOTATION: Partial<Record<FrameKind, string>> = { kernel: '_[k]', jit: '_[j]', inline: '_[i]' };

/** The kind a folded frame name announces through its FlameGraph annotation suffix. */
export function kindFromAnnotation(name: string): FrameKind {
  if (name.endsWith(']') && name.length > 4 && name[name.length - 4] === '_' && name[name.length - 3] === '[') {
    switch (name[name.length - 2]) {
      case 'k':
        return 'kernel';
      case 'j':
        return 'jit';
      case 'i':
        return 'inline';
    }
  }
  return 'user';
}

// C0 controls, DEL and C1 (U+009B is CSI to some terminals) would let a profiled process write
// terminal escapes through our output.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// Without /g: test() on a global regex moves its lastIndex, and the next call would start there.
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Makes a name safe for one folded field: no control bytes, no line breaks. */
export function sanitizeFoldedName(name: string): string {
  return HAS_CONTROL.test(name) ? name.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : name;
}

export function processFrameName(thread: ThreadInfo, style: ProcessFrameStyle): string | undefined {
  switch (style) {
    case 'none':
      return undefined;
    case 'comm':
      return thread.comm;
    // A source that knows only the thread id (perf script's default fields) shows the unknown pid
    // as `?`, as stackcollapse-perf.pl does.
    case 'comm-pid':
      if (thread.pid === undefined) return thread.tid === undefined ? thread.comm : `${thread.comm}-?`;
      return `${thread.comm}-${thread.pid}`;
    case 'comm-pid/tid':
      if (thread.pid === undefined) return thread.tid === undefined ? thread.comm : `${thread.comm}-?/${thread.tid}`;
      return `${thread.comm}-${thread.pid}/${thread.tid ?? thread.pid}`;
  }
}

function frameLabel(frame: Frame, options: FoldedWriteOptions): string {
  const name = sanitizeFoldedName(frame.name);
  const suffix =
    (frame.kind === 'kernel' && options.annotateKernel) ||
    (frame.kind === 'jit' && options.annotateJit) ||
    (frame.kind === 'inline' && options.annotateInline)
      ? ANNOTATION[frame.kind]!
      : '';
  return suffix && !name.endsWith(suffix) ? name + suffix : name;
}

/** The folded lines of `profile` (without line terminators); identical lines are merged. */
export function foldedLines(profile: Profile, options: Partial<FoldedWriteOptions> = {}): string[] {
  const opts = { ...FOLDED_DEFAULTS, ...options };
  const labels = profile.frames.map((frame) => frameLabel(frame, opts));
  const merged = new Map<string, number>();
  for (const stack of profile.stacks) {
    const parts: string[] = [];
    if (stack.thread) {
      const root = processFrameName(stack.thread, opts.processFrame);
      if (root !== undefined) parts.push(sanitizeFoldedName(root));
    }
    for (const id of stack.frames) parts.push(labels[id]!);
    let key = parts.join(';');
    // Readers (ours included) skip lines starting with '#' as comments: a comm or root frame
    // named `#x` would silently lose its samples, so the writer escapes that one character.
    if (key.startsWith('#')) key = `\\x23${key.slice(1)}`;
    merged.set(key, (merged.get(key) ?? 0) + stack.weight);
  }
  const keys = [...merged.keys()];
  if (opts.sort) keys.sort(compareBytewise);
  return keys.map((key) => `${key} ${formatCount(merged.get(key)!)}`);
}

/** Perl's `sort` and `LC_ALL=C sort` order: by UTF-16 code unit, which matches bytes for BMP text. */
export function compareBytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A count as folded readers accept it: digits with an optional fraction, never an exponent. */
export function formatCount(count: number): string {
  if (Number.isInteger(count)) return Math.abs(count) < 1e21 ? count.toFixed(0) : BigInt(count).toString();
  const text = String(count);
  return text.includes('e') ? count.toFixed(20).replace(/\.?0+$/, '') : text;
}

export async function writeFolded(profile: Profile, sink: Sink, options: Partial<FoldedWriteOptions> = {}): Promise<void> {
  const lines = foldedLines(profile, options);
  const batch: string[] = [];
  for (const line of lines) {
    batch.push(line);
    if (batch.length === 4096) {
      await sink.write(batch.join('\n') + '\n');
      batch.length = 0;
    }
  }
  if (batch.length > 0) await sink.write(batch.join('\n') + '\n');
}

export interface FoldedLine {
  readonly frames: string[];
  readonly count: number;
}

/** Parses one folded line (the scanner's grammar, on text), or returns undefined when it is not one. */
export function parseFoldedLine(line: string): FoldedLine | undefined {
  return parseFoldedText(line);
}

/** Folded text into a Profile: one of the scanner's consumers, so memory follows distinct stacks. */
export class FoldedParser implements FoldedConsumer {
  private readonly builder = new ProfileBuilder();
  private readonly scanner: FoldedScanner;
  /** Frame ids of the previous stack, by position: the scanner's shared prefix keeps them. */
  private ids: FrameId[] = [];

  constructor(file: string) {
    this.scanner = new FoldedScanner(file, this);
  }

  write(chunk: Buffer): void {
    this.scanner.write(chunk);
  }

  line(text: string, lineNumber: number): void {
    this.scanner.line(text, lineNumber);
  }

  stack(frames: readonly string[], length: number, shared: number, count: number): void {
    const ids = this.ids;
    for (let i = shared; i < length; i++) {
      const name = frames[i]!;
      ids[i] = this.builder.internFrame({ name, kind: kindFromAnnotation(name) });
    }
    this.builder.addStack(ids.slice(0, length), count, undefined, true);
  }

  end(metadata: RunMetadata = {}): Profile {
    this.scanner.end();
    return this.builder.build(metadata);
  }

  get stackLines(): number {
    return this.scanner.stackLines;
  }
}

/** Reads a whole folded stream. */
export async function readFolded(input: Readable, file: string, metadata: RunMetadata = {}): Promise<Profile> {
  const parser = new FoldedParser(file);
  for await (const chunk of input as AsyncIterable<Buffer | string>) parser.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  const profile = parser.end(metadata);
  if (parser.stackLines === 0) throw new InputError('input is empty (no folded stacks)', file);
  return profile;
}

/** True when `lines` look like folded stacks. */
export function looksFolded(lines: readonly string[]): boolean {
  const meaningful = lines.filter((l) => l.length > 0 && !l.startsWith('#'));
  return meaningful.length > 0 && meaningful.every((l) => parseFoldedText(l) !== undefined);
}
