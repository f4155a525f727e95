import type { Readable } from 'node:stream';
import { InputError, excerpt } from '../errors.js';
import { forEachLine, LINE_DEFAULTS, lineTooLong } from '../io/lines.js';
import type { Profile } from '../profile/model.js';
import { foldedFormat } from './folded.js';
import { bccFormat } from './bcc.js';
import { bpftraceFormat } from './bpftrace.js';
import { looksLikePerfWithoutStacks, perfFormat } from './perf.js';
import type { InputFormat } from './types.js';
import type { ParallelPlan } from './parallel-plan.js';
import { PERF_DEFAULTS, type PerfOptions } from './perf.js';

export type { InputFormat, LineParser } from './types.js';
export { PERF_DEFAULTS, type PerfOptions } from './perf.js';
export { BPFTRACE_DEFAULTS, type BpftraceOptions } from './bpftrace.js';
export { BCC_DEFAULTS, type BccOptions } from './bcc.js';

/** Options shared by the collapsers; each format reads the fields it understands. */
export interface CollapseOptions {
  /** Force a format instead of sniffing (`perf`, `bpftrace`, `bcc`, `folded`). */
  readonly format?: string;
  /** Read perf script input on worker threads, by parts of the file (src/collapse/parallel.ts). */
  readonly parallel?: ParallelPlan;
  readonly [option: string]: unknown;
}

/** Formats in sniffing order: the most specific first, folded last because it is the loosest. */
export const INPUT_FORMATS: readonly InputFormat<any>[] = [perfFormat, bpftraceFormat, bccFormat, foldedFormat];

const SNIFF_LINES = 200;
/** Bytes read before the format is chosen (more when the first line is longer). */
const SNIFF_BYTES = 64 * 1024;
/** Blank lines read while waiting for the first line with content, before giving up on it. */
const MAX_BLANK_PREFIX = 1 << 20;

/**
 * Reads any supported stack format from `input` and returns the profile. The first chunks are
 * held back to sniff the format from their lines, then replayed into the parser — as raw bytes
 * when it reads bytes (perf script), which skips making a string per line. A chunk is not kept
 * after the next one is asked for, so `input` may reuse one buffer.
 */
export async function collapse(input: Readable | AsyncIterable<Buffer | string>, file: string, options: CollapseOptions = {}): Promise<Profile> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const held: Buffer[] = [];
  let heldLength = 0;
  let done = false;
  const scout = new ContentScout();
  while (!done) {
    const next = await chunks.next();
    if (next.done) {
      done = true;
      break;
    }
    // A copy: the input may hand out one reused buffer (openInputChunks).
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : Buffer.from(next.value);
    held.push(chunk);
    heldLength += chunk.length;
    // 64 KB of lines say which format this is only when one of them is more than white space.
    if (!scout.sawContent && !scout.read(chunk)) break;
    if (scout.sawContent && heldLength >= SNIFF_BYTES && chunk.includes(10)) break;
    if (scout.sawContent && heldLength > LINE_DEFAULTS.maxLineLength) break; // the parser reports the line as too long
  }

  if (!scout.sawContent && scout.lineLength > LINE_DEFAULTS.maxLineLength) throw lineTooLong(file, scout.lines + 1);

  // The head: complete lines up to the SNIFF_LINES-th meaningful one (a cut-off last line only at the end of the input).
  const head: string[] = [];
  let meaningful = 0;
  const whole = held.length === 1 ? held[0]! : Buffer.concat(held);
  const lastNewline = whole.lastIndexOf(10);
  const complete = done ? whole : whole.subarray(0, lastNewline + 1);
  await forEachLine([complete], (text) => {
    if (meaningful >= SNIFF_LINES) return;
    head.push(text);
    if (hasContent(text)) meaningful++;
  }, { file });
  if (done && meaningful === 0) throw new InputError('input is empty', file);
  const format = options.format ? formatByName(options.format, file) : sniffFormat(head, file);
  if (options.parallel && format.name === 'perf') {
    const { collapseInParallel } = await import('./parallel.js');
    const perfOptions = Object.fromEntries(Object.keys(PERF_DEFAULTS).map((key) => [key, options[key] ?? PERF_DEFAULTS[key as keyof PerfOptions]]));
    const profile = await collapseInParallel(options.parallel, perfOptions as unknown as PerfOptions, { extra: { inputFormat: format.name } }, whole);
    if (profile) {
      await chunks.return?.();
      return profile;
    }
    // One parser reads it after all, from where the input stands.
  }
  const parser = format.createParser(file, options);

  if (parser.write) {
    parser.write(whole);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      parser.write(typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value);
    }
  } else {
    async function* replay(): AsyncGenerator<Buffer | string> {
      yield whole;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    }
    await forEachLine(replay(), (text, n) => parser.line(text, n), { file });
  }
  return parser.end({ extra: { inputFormat: format.name } });
}

function formatByName(name: string, file: string): InputFormat {
  const format = INPUT_FORMATS.find((f) => f.name === name);
  if (!format) throw new InputError(`unknown input format '${name}' (known: ${INPUT_FORMATS.map((f) => f.name).join(', ')})`, file);
  return format;
}

function sniffFormat(head: readonly string[], file: string): InputFormat {
  const start = head.join('\n').slice(0, 1024);
  const kind = binaryKind(start);
  // NUL never occurs in text output; invalid UTF-8 can (a comm with odd bytes), so it only decides when no format matched.
  if (kind !== undefined || start.includes('\u0000')) throw binaryFile(kind, file);
  const format = INPUT_FORMATS.find((f) => f.sniff(head)) ?? sniffTruncated(head);
  if (format) return format;
  if (start.includes('\ufffd')) throw binaryFile(undefined, file);
  const index = head.findIndex(hasContent);
  if (index < 0) throw new InputError(`not a known stack format (expected perf script, bpftrace, BCC profile or folded stacks), found only blank lines in the first ${head.length} lines`, file, head.length);
  // stackcollapse-perf.pl prints nothing for these; an empty flame graph would be no better.
  if (looksLikePerfWithoutStacks(head)) {
    throw new InputError('perf script output has no call stacks: record with perf record -g (or --call-graph dwarf), then run perf script', file, index + 1);
  }
  const first = head[index] ?? '';
  throw new InputError(
    `not a known stack format (expected perf script, bpftrace, BCC profile or folded stacks), found ${excerpt(first)}`,
    file,
    index + 1,
  );
}

// Magic numbers as they look once decoded as UTF-8 (bytes that are not UTF-8 become U+FFFD).
const MAGIC: readonly [RegExp, string][] = [
  [/^\u007fELF/, 'ELF'],
  [/^PERFILE2/, "perf.data: run 'perf script' on it first"],
  [/^\u001f\ufffd\u0008/, 'gzip: decompress it first'],
  [/^\(\ufffd\/\ufffd/, 'zstd: decompress it first'],
  [/^PK\u0003\u0004/, 'zip'],
];

function binaryKind(start: string): string | undefined {
  return MAGIC.find(([magic]) => magic.test(start))?.[1];
}

// The first bytes of a binary file escaped would be a long unreadable line: name the kind instead.
function binaryFile(kind: string | undefined, file: string): InputError {
  return new InputError(`binary file${kind ? ` (${kind})` : ''}, not a stack format (expected perf script, bpftrace, BCC profile or folded stacks)`, file, 1);
}

// A file cut off mid-line (a killed `perf script`, a full disk) has one bad last line: sniff
// without it, so that the parser reports that line instead of 'not a known format' at line 1.
function sniffTruncated(head: readonly string[]): InputFormat | undefined {
  let last = head.length - 1;
  while (last >= 0 && !hasContent(head[last]!)) last--;
  if (last < 1) return undefined;
  const rest = head.slice(0, last);
  return INPUT_FORMATS.find((f) => f.sniff(rest));
}

/** A line is blank when it holds nothing but ASCII white space (the bytes `ContentScout` skips). */
function hasContent(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isBlankByte(text.charCodeAt(i))) return true;
  return false;
}

const isBlankByte = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/**
 * Watches the first chunks, whatever their size, for a completed line with content: linear in
 * the input even when it comes in 1-byte chunks, and only until that line is found.
 */
class ContentScout {
  sawContent = false;
  /** Lines completed so far (all blank until `sawContent`). */
  lines = 0;
  /** Bytes of the current, unfinished line. */
  lineLength = 0;
  private lineHasContent = false;
  private blankBytes = 0;

  /** Reads the next chunk; false when waiting longer is pointless (an over-long line, too many blank lines). */
  read(chunk: Uint8Array): boolean {
    for (let start = 0; ; ) {
      const newline = chunk.indexOf(10, start);
      const end = newline < 0 ? chunk.length : newline;
      for (let i = start; !this.lineHasContent && i < end; i++) if (!isBlankByte(chunk[i]!)) this.lineHasContent = true;
      this.lineLength += end - start;
      if (newline < 0) break;
      this.lines++;
      if (this.lineHasContent) {
        this.sawContent = true;
        return true;
      }
      this.blankBytes += this.lineLength + 1;
      this.lineLength = 0;
      start = newline + 1;
    }
    return this.lineLength <= LINE_DEFAULTS.maxLineLength && this.blankBytes <= MAX_BLANK_PREFIX;
  }
}
