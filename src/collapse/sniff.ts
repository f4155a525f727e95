/**
 * What an input holds, decided from its head: the one place every reader (`collapse`, `render`,
 * `diff`, the profile loader) asks. The head is the first SNIFF_BYTES of the input, extended to
 * complete lines and past leading blank lines; a container (gzip, pprof, JSON) is told by its first
 * bytes, a text stack format by up to SNIFF_LINES of its lines.
 */
import { Readable } from 'node:stream';
import { InputError, excerpt } from '../errors.js';
import { forEachLine, LINE_DEFAULTS } from '../io/lines.js';
import { parseFoldedText } from '../profile/folded-scan.js';
import { bccFormat } from './bcc.js';
import { bpftraceFormat } from './bpftrace.js';
import { foldedFormat } from './folded.js';
import { perfFormat } from './perf.js';
import { looksLikePerfWithoutStacks } from './perf-grammar.js';
import type { InputFormat } from './types.js';

/** Text formats in sniffing order: the most specific first, folded last because it is the loosest. */
export const INPUT_FORMATS: readonly InputFormat<any>[] = [perfFormat, bpftraceFormat, bccFormat, foldedFormat];

/** Bytes read before the format is chosen (more when the first line with content is longer). */
export const SNIFF_BYTES = 64 * 1024;
/** Lines with content that decide a text format. */
export const SNIFF_LINES = 200;
/** Blank lines read while waiting for the first line with content, before giving up on it. */
const MAX_BLANK_PREFIX = 1 << 20;
/** Magic numbers and the binary bytes of a protobuf message show within the first bytes. */
const MAGIC_BYTES = 64;

export interface Head {
  /** Everything read so far, copied (the input may reuse its buffers). */
  readonly bytes: Buffer;
  /** The input ended within the head. */
  readonly done: boolean;
  /** Complete lines of the head up to the SNIFF_LINES-th with content (a cut-off last line only at the end of the input). */
  readonly lines: readonly string[];
  /** How many of `lines` have content. */
  readonly meaningful: number;
  /** No line with content was found, and the line being read is longer than the line limit. */
  readonly firstLineTooLong: boolean;
  /** Lines completed before the head ended (for the error that names the over-long line). */
  readonly linesRead: number;
}

/**
 * Reads the head of `chunks`. The rest stays in the iterator: `replay(head, chunks)` gives the
 * whole input again.
 */
export async function readHead(chunks: AsyncIterator<Buffer | string>, file: string): Promise<Head> {
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
  const bytes = held.length === 1 ? held[0]! : Buffer.concat(held);
  const lines: string[] = [];
  let meaningful = 0;
  const complete = done ? bytes : bytes.subarray(0, bytes.lastIndexOf(10) + 1);
  await forEachLine([complete], (text) => {
    if (meaningful >= SNIFF_LINES) return;
    lines.push(text);
    if (hasContent(text)) meaningful++;
  }, { file });
  return { bytes, done, lines, meaningful, firstLineTooLong: !scout.sawContent && scout.lineLength > LINE_DEFAULTS.maxLineLength, linesRead: scout.lines };
}

/** The whole input again: the head, then what `chunks` still holds. */
export async function* replay(head: Head, chunks: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer | string> {
  yield head.bytes;
  if (head.done) return;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
}

export type ContainerKind = 'gzip' | 'pprof' | 'json' | 'text';

/**
 * What `input` holds: its container and, for text, the stack format its head is in (undefined
 * when none claims it), with a stream that replays the whole input.
 */
export async function sniffStream(input: Readable, file: string): Promise<{ readonly container: ContainerKind; readonly format?: InputFormat; readonly stream: Readable }> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head = await readHead(chunks, file);
  const stream = Readable.from(replay(head, chunks), { objectMode: false });
  const container = sniffContainer(head.bytes, file);
  return { container, format: container === 'text' ? matchTextFormat(head.lines) : undefined, stream };
}


/** Whether `bytes` (an input's head, or a whole decompressed file) is gzip, pprof, JSON or text. */
export function sniffContainer(bytes: Buffer, file: string): ContainerKind {
  const head = bytes.subarray(0, MAGIC_BYTES);
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  let start = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (start < head.length && (head[start] === 0x20 || head[start] === 0x09 || head[start] === 0x0a || head[start] === 0x0d)) start++;
  if (head[start] === 0x7b /* { */) {
    const newline = head.indexOf(0x0a, start);
    // A folded line ends in its count; a speedscope document's first line never does.
    const end = newline > start && head[newline - 1] === 0x0d ? newline - 1 : newline;
    if (newline < 0 || parseFoldedText(head.subarray(start, end).toString('utf8')) === undefined) return 'json';
  }
  // An uncompressed pprof message starts with field 1 (sample_type, length-delimited: 0x0a) and
  // is full of small binary bytes that no text profile has.
  const binary = head.some((byte) => byte < 0x09 || (byte > 0x0d && byte < 0x20 && byte !== 0x1b));
  if (head[0] === 0x0a && binary) return 'pprof';
  if (/\.(pb|pprof)$/i.test(file) && binary) return 'pprof';
  return 'text';
}

/** The text format whose sniffer claims `lines`, trying them without a cut-off last line too; undefined when none does. */
export function matchTextFormat(lines: readonly string[]): InputFormat | undefined {
  return INPUT_FORMATS.find((f) => f.sniff(lines)) ?? sniffTruncated(lines);
}

/** The text format of `lines`, or an InputError saying what the input looks like instead. */
export function textFormat(lines: readonly string[], file: string): InputFormat {
  const start = lines.join('\n').slice(0, 1024);
  const kind = binaryKind(start);
  // NUL never occurs in text output; invalid UTF-8 can (a comm with odd bytes), so it only decides when no format matched.
  if (kind !== undefined || start.includes('\u0000')) throw binaryFile(kind, file);
  const format = matchTextFormat(lines);
  if (format) return format;
  if (start.includes('\ufffd')) throw binaryFile(undefined, file);
  const index = lines.findIndex(hasContent);
  if (index < 0) throw new InputError(`not a known stack format (expected perf script, bpftrace, BCC profile or folded stacks), found only blank lines in the first ${lines.length} lines`, file, lines.length);
  // stackcollapse-perf.pl prints nothing for these; an empty flame graph would be no better.
  if (looksLikePerfWithoutStacks(lines)) {
    throw new InputError('perf script output has no call stacks: record with perf record -g (or --call-graph dwarf), then run perf script', file, index + 1);
  }
  throw new InputError(`not a known stack format (expected perf script, bpftrace, BCC profile or folded stacks), found ${excerpt(lines[index] ?? '')}`, file, index + 1);
}

/** The text format called `name` (`--input-format`). */
export function formatByName(name: string, file: string): InputFormat {
  const format = INPUT_FORMATS.find((f) => f.name === name);
  if (!format) throw new InputError(`unknown input format '${name}' (known: ${INPUT_FORMATS.map((f) => f.name).join(', ')})`, file);
  return format;
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
function sniffTruncated(lines: readonly string[]): InputFormat | undefined {
  let last = lines.length - 1;
  while (last >= 0 && !hasContent(lines[last]!)) last--;
  if (last < 1) return undefined;
  const rest = lines.slice(0, last);
  return INPUT_FORMATS.find((f) => f.sniff(rest));
}

/** A line is blank when it holds nothing but ASCII white space (the bytes `ContentScout` skips). */
export function hasContent(text: string): boolean {
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
