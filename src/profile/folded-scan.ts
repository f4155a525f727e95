// Reference: https://github.com/brendangregg/FlameGraph (flamegraph.pl reads `frame;frame count`).
import { isAscii } from 'node:buffer';
import { InputError, excerpt } from '../errors.js';
import { LINE_DEFAULTS, lineTooLong } from '../io/lines.js';

/**
 * What a folded file is read into: the Profile builder (src/profile/folded.ts), the call tree of
 * the HTML report and the SVG writer's stacks (src/render) each implement it, so every reader of
 * folded text shares one grammar, one set of errors and one scanner.
 */
export interface FoldedConsumer {
  /**
   * One stack line: `frames[0 .. length)` are its names, root first, `count` its weight (zero
   * included), `line` its line number. The first `shared` names are the previous stack line's,
   * byte for byte with their `;`: they were not decoded again, so a consumer may reuse whatever it
   * derived from them on the previous call. Sorted folded files share long prefixes.
   */
  stack(frames: readonly string[], length: number, shared: number, count: number, line: number): void;
}

/**
 * A consumer of the weighted stack lines only, for readers that draw (flamegraph.pl draws nothing
 * for a zero count): zero-count lines are skipped, and `fresh` is the first position whose name is
 * new since the last line passed on, so what the reader derived below it on that call still holds.
 */
export function weightedStacks(stack: (frames: readonly string[], length: number, fresh: number, count: number) => void): FoldedConsumer {
  let valid = 0;
  return {
    stack(frames, length, shared, count) {
      if (count === 0) {
        valid = Math.min(valid, shared);
        return;
      }
      stack(frames, length, Math.min(valid, shared), count);
      valid = length;
    },
  };
}

const SEMICOLON = 0x3b;
const HASH = 0x23;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * Reads folded text as bytes: lines are found, the count is parsed and frames are split without
 * a string per line, and only the frames that differ from the previous line are decoded.
 * flamegraph.pl's grammar: `/^(.*)\s+?(\d+(?:\.\d*)?)$/`, the count is the last field, names may
 * hold spaces, exactly one white-space character separates them (a leaf named `[unknown] ` keeps
 * its trailing space). Blank lines and lines starting with `#` are skipped. Bad lines throw an
 * InputError naming the file and line.
 */
export class FoldedScanner {
  /** Stack lines read (zero-weight ones included). */
  stackLines = 0;
  private lineNumber = 0;
  private held: Buffer[] = [];
  private heldLength = 0;
  private readonly frames: string[] = [];
  /**
   * The previous stack line's stack: where its bytes are (the buffer it was read from, until that
   * buffer is handed back; then `copy`), and where each of its frames ends in them.
   */
  private previous: Buffer = Buffer.alloc(0);
  private previousStart = 0;
  private previousLength = 0;
  private copy = Buffer.allocUnsafe(1024);
  private previousEnds: number[] = [];
  private previousCount = 0;
  /** The buffer being scanned, as a string when it is all ASCII (frames are then cheap slices of it). */
  private text: string | undefined;
  /** The next `;` in that buffer at or after the last position asked for (its length when none). */
  private nextSemicolon = -1;

  constructor(
    private readonly file: string,
    private readonly consumer: FoldedConsumer,
    private readonly maxLineLength: number = LINE_DEFAULTS.maxLineLength,
  ) {}

  /** The next piece of input; the scanner keeps no reference to `chunk` (the caller may reuse it). */
  write(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    if (this.held.length > 0) {
      if (newline < 0) {
        this.hold(chunk);
        return;
      }
      this.hold(chunk.subarray(0, newline));
      const line = Buffer.concat(this.held, this.heldLength);
      this.held = [];
      this.heldLength = 0;
      this.begin(line);
      this.scanLine(line, 0, line.length, ++this.lineNumber);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (newline >= 0) {
      this.begin(chunk);
      const text = this.text;
      while (newline >= 0) {
        this.scanLine(chunk, start, newline, ++this.lineNumber);
        start = newline + 1;
        newline = text !== undefined ? text.indexOf('\n', start) : chunk.indexOf(NEWLINE, start);
      }
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    this.detach();
  }

  /** The end of input: a last line without a newline is read. */
  end(): void {
    if (this.heldLength === 0) return;
    const line = Buffer.concat(this.held, this.heldLength);
    this.held = [];
    this.heldLength = 0;
    this.begin(line);
    this.scanLine(line, 0, line.length, ++this.lineNumber);
  }

  /** One line given as text, without its terminator (for line-based callers). */
  line(text: string, lineNumber: number): void {
    const bytes = Buffer.from(text, 'utf8');
    this.begin(bytes);
    this.scanLine(bytes, 0, bytes.length, lineNumber);
  }

  /**
   * Starts on a new buffer. Decoding an all-ASCII buffer to one string and slicing frames from it
   * costs a fraction of a decode per frame (latin1 is UTF-8 when every byte is below 0x80).
   */
  private begin(buf: Buffer): void {
    this.text = isAscii(buf) ? buf.toString('latin1') : undefined;
    this.nextSemicolon = -1;
  }

  /** Where the next `;` at or after `from` is: one search serves every line up to it, so a chunk of one-frame lines is not scanned once per line. */
  private semicolon(buf: Buffer, from: number): number {
    if (this.nextSemicolon < from) {
      // A string's indexOf is a builtin; a Buffer's is a call into C++, too dear once per frame.
      const at = this.text !== undefined ? this.text.indexOf(';', from) : buf.indexOf(SEMICOLON, from);
      this.nextSemicolon = at < 0 ? buf.length : at;
    }
    return this.nextSemicolon;
  }

  private hold(piece: Buffer): void {
    // A copy: the caller may reuse the chunk's buffer for the next read.
    this.held.push(Buffer.from(piece));
    this.heldLength += piece.length;
    if (this.heldLength > this.maxLineLength) throw lineTooLong(this.file, this.lineNumber + 1, this.maxLineLength);
  }

  private scanLine(buf: Buffer, start: number, end: number, lineNumber: number): void {
    if (end > start && buf[end - 1] === RETURN) end--;
    if (end === start || buf[start] === HASH) return;
    const countStart = findCount(buf, start, end);
    if (countStart < 0) {
      throw new InputError(`expected folded stack 'frame;frame;… count', found ${excerpt(buf.toString('utf8', start, end))}`, this.file, lineNumber);
    }
    const count = end - countStart <= 15 ? digitsValue(buf, countStart, end) : Number(buf.toString('latin1', countStart, end));
    // Beyond 2^53 counts lose precision, and 400 digits parse to Infinity, which no writer can
    // put back into a folded file.
    if (count > Number.MAX_SAFE_INTEGER) {
      throw new InputError(`count is larger than ${Number.MAX_SAFE_INTEGER}: ${excerpt(buf.toString('latin1', countStart, end), 30)}`, this.file, lineNumber);
    }
    this.stackLines++;
    const stackLength = countStart - whiteSpaceBefore(buf, start, countStart) - start;
    const shared = this.sharedFrames(buf, start, stackLength);
    const frames = this.frames;
    const ends = this.previousEnds;
    let length = shared;
    let from = shared === 0 ? 0 : ends[shared - 1]! + 1;
    if (stackLength > 0) {
      const text = this.text;
      const stackEnd = start + stackLength;
      for (let at = start + from; ; ) {
        let to = this.semicolon(buf, at);
        if (to > stackEnd) to = stackEnd;
        frames[length] = text !== undefined ? text.slice(at, to) : buf.toString('utf8', at, to);
        ends[length++] = to - start;
        if (to === stackEnd) break;
        at = to + 1;
      }
    }
    this.previousCount = length;
    this.previous = buf;
    this.previousStart = start;
    this.previousLength = stackLength;
    this.consumer.stack(frames, length, shared, count, lineNumber);
  }

  /** How many leading frames of the stack `buf[start .. start + length)` are the previous line's, each with its `;`. */
  private sharedFrames(buf: Buffer, start: number, length: number): number {
    const ends = this.previousEnds;
    const previous = this.previous;
    const offset = this.previousStart - start;
    let shared = 0;
    let at = 0;
    // The previous line's last frame has no `;` after it: it is never shared.
    for (const last = this.previousCount - 1; shared < last; shared++) {
      const end = ends[shared]!;
      if (end >= length) break;
      for (at += start; at <= end + start; at++) if (previous[at + offset] !== buf[at]) return shared;
      at -= start;
    }
    return shared;
  }

  /**
   * The caller may reuse the buffer it wrote: the previous stack's bytes move to a buffer of our
   * own (once per chunk, not per line).
   */
  private detach(): void {
    if (this.previous === this.copy) return;
    if (this.copy.length < this.previousLength) this.copy = Buffer.allocUnsafe(Math.max(this.previousLength, this.copy.length * 2));
    this.previous.copy(this.copy, 0, this.previousStart, this.previousStart + this.previousLength);
    this.previous = this.copy;
    this.previousStart = 0;
  }
}

/**
 * Where the count of the line `buf[start .. end)` starts, or -1 when the line has none. Scanned
 * back from the end: linear, where a regex anchored at the start backtracks quadratically on a
 * long run of white space.
 */
function findCount(buf: Buffer, start: number, end: number): number {
  let countStart = end;
  for (let c = buf[countStart - 1]!; countStart > start && (isDigit(c) || c === 0x2e); c = buf[--countStart - 1]!);
  return whiteSpaceBefore(buf, start, countStart) > 0 && isCount(buf, countStart, end) ? countStart : -1;
}

/** One folded line given as text (without its terminator): its frames and count, or undefined when it is not one. */
export function parseFoldedText(text: string): { readonly frames: string[]; readonly count: number } | undefined {
  const buf = Buffer.from(text, 'utf8');
  const countStart = findCount(buf, 0, buf.length);
  if (countStart < 0) return undefined;
  const stack = buf.toString('utf8', 0, countStart - whiteSpaceBefore(buf, 0, countStart));
  return { frames: stack.length === 0 ? [] : stack.split(';'), count: Number(buf.toString('latin1', countStart, buf.length)) };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The value of a count of up to 15 characters: exact in integer arithmetic, where a decode and Number() per line cost more than the rest of the line. */
function digitsValue(buf: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e) return Number(buf.toString('latin1', start, end));
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/** `\d+(?:\.\d*)?` over `buf[start .. end)`. */
function isCount(buf: Buffer, start: number, end: number): boolean {
  if (start === end || !isDigit(buf[start]!)) return false;
  let dots = 0;
  for (let i = start; i < end; i++) if (buf[i] === 0x2e && ++dots > 1) return false;
  return true;
}

/**
 * The length in bytes of the white-space character (JavaScript's `\s`, as the string readers of
 * this grammar used) that ends right before `at`, or 0. Multi-byte ones are matched as their
 * UTF-8 encodings: a lead byte always starts a new character, so these bytes decode to it.
 */
function whiteSpaceBefore(buf: Buffer, start: number, at: number): number {
  if (at <= start) return 0;
  const c = buf[at - 1]!;
  if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return 1;
  if (c < 0x80) return 0;
  if (at - 2 >= start && c === 0xa0 && buf[at - 2] === 0xc2) return 2; // U+00A0
  if (at - 3 < start) return 0;
  const a = buf[at - 3]!;
  const b = buf[at - 2]!;
  if (a === 0xe2 && b === 0x80 && ((c >= 0x80 && c <= 0x8a) || c === 0xa8 || c === 0xa9 || c === 0xaf)) return 3; // U+2000-200A, 2028, 2029, 202F
  if ((a === 0xe1 && b === 0x9a && c === 0x80) || (a === 0xe2 && b === 0x81 && c === 0x9f) || (a === 0xe3 && b === 0x80 && c === 0x80) || (a === 0xef && b === 0xbb && c === 0xbf)) return 3; // U+1680, 205F, 3000, FEFF
  return 0;
}

/** Reads folded text from `input` into `consumer`; at least one stack line is required. */
export async function scanFolded(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, file: string, consumer: FoldedConsumer): Promise<void> {
  const scanner = new FoldedScanner(file, consumer);
  for await (const chunk of input) scanner.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  scanner.end();
  if (scanner.stackLines === 0) throw new InputError('input is empty (no folded stacks)', file);
}
