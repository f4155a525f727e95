// Reference: `perf script` output (tools/perf/builtin-script.c) and the behaviour of Brendan
// Gregg's stackcollapse-perf.pl (https://github.com/brendangregg/FlameGraph), whose output this
// reproduces byte for byte: same sample-header and stack-line grammar (src/collapse/perf-grammar.ts),
// same frame-name clean-up.
import { InputError, excerpt } from '../errors.js';
import type { Profile, RunMetadata } from '../profile/model.js';
import { LINE_DEFAULTS, lineTooLong } from '../io/lines.js';
import { ByteInterner, HASH_SEED, hashByte, hashEnd, hashWord, LineMemo, viewOf } from './intern.js';
import type { InputFormat, LineParser } from './types.js';
import { perfMetadata, type PerfPart } from './perf-metadata.js';
import { PERF_DEFAULTS, type PerfOptions } from './perf-options.js';
import { Char, isDigit, isSpace, isWord, looksLikePerf, parseBareStackLine, parseEvent, parseHeader, parseStackLine, parseStackLineFields, type PerfHeader } from './perf-grammar.js';
import { PerfSamples, type PartStacks } from './perf-samples.js';

export { PERF_DEFAULTS, type PerfOptions } from './perf-options.js';

const EMPTY = new Uint8Array(0);

// The byte path's inner loops are small functions of their own: V8 optimizes a small function
// within a few calls, while a large method runs in its slower tiers for the first ~10 MB.
function skipBlanks(bytes: Uint8Array, p: number): number {
  const length = bytes.length;
  let c = 0;
  while (p < length && ((c = bytes[p]!) === Char.Space || c === Char.Tab)) p++;
  return p;
}

function skipWord(bytes: Uint8Array, p: number): number {
  const length = bytes.length;
  while (p < length && isWord(bytes[p]!)) p++;
  return p;
}

/** The hash of the bytes from `p` to the end of the line, set by `hashLine`. */
let lineHash = 0;

/**
 * Hashes the bytes from `p` up to the next newline into `lineHash`; returns the newline's index,
 * or the length when there is none. Four bytes a step (`hashWord`), the newline found in them by a
 * bit trick (a zero byte in word ^ 0x0a0a0a0a), then the last few bytes one by one: the same
 * bytes always hash the same, wherever they lie in a chunk.
 */
function hashLine(bytes: Uint8Array, view: DataView, p: number): number {
  const length = bytes.length;
  let hash = HASH_SEED;
  let i = p;
  for (; i + 4 <= length; i += 4) {
    const word = view.getInt32(i, true);
    const x = word ^ 0x0a0a0a0a;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
    hash = hashWord(hash, word);
  }
  let end = i;
  while (end < length && bytes[end] !== Char.LineFeed) end++;
  for (; i < end; i++) hash = hashByte(hash, bytes[i]!);
  lineHash = hashEnd(hash, end - p);
  return end;
}

/**
 * Streams `perf script` text into a profile, either line by line (`line`) or, much faster, from
 * raw bytes (`write`). The byte path handles the common lines itself — stack lines
 * `addr symbol (dso)` and sample headers — and hands anything unusual to the line path as a
 * string, so both share one grammar and one state (PerfSamples, which this extends).
 *
 * A stack line is looked up by its bytes from the symbol to the end of the line (the address too
 * with `addrs`), which determine its frames; only a line never seen before becomes a string.
 * A sample is collected as the sequence of its stack lines' ids and looked up once at its end;
 * only a sequence never seen before is turned into frames, a node of a trie of frame ids, leaf
 * first. A (thread, node) pair keys the weight, so memory follows the distinct stacks, not the
 * input size.
 */
export class PerfParser extends PerfSamples implements LineParser {
  private eventFilter = '';
  private eventFilterBytes: Uint8Array = EMPTY;
  private readonly eventDefaulted: boolean;
  private readonly skippedEvents = new Map<string, number>();
  private readonly threadKeys = new ByteInterner();
  private readonly threadKeyIds: number[] = [];
  private sawPeriod = false;
  private sawDso = false;
  private sawBare = false;
  private lastHeaderLine = 0;
  // Byte path: the start of a line that the previous chunk cut off, and lines read so far.
  private carry: Buffer[] = [];
  private carryLength = 0;
  private lineNumber = 0;
  /** The chunk being scanned, as a DataView for comparisons four bytes at a time. */
  private view = viewOf(EMPTY);
  /** Per stack line element (key id × 2 + java), the last whole line it was read from. */
  private readonly lines = new LineMemo();

  constructor(private readonly file: string, options: Partial<PerfOptions> = {}) {
    super({ ...PERF_DEFAULTS, ...options });
    this.eventFilter = this.options.eventFilter;
    this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
    this.eventDefaulted = this.eventFilter === '';
    this.unfreezeFields();
  }

  // V8 compiles a field as a constant until its second store and deoptimizes the code that relied
  // on it when it changes later; the byte path's fields change first deep into the input (a chunk
  // boundary, the first event), so each is stored twice here and in PerfSamples' constructor
  // (--trace-deopt showed the hot loop thrown away and recompiled three times during one pass over
  // the 40 MB corpus without this).
  private unfreezeFields(): void {
    this.eventFilterBytes = Buffer.alloc(0);
    this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
    this.carry = [];
    this.view = viewOf(Buffer.alloc(1));
    this.view = viewOf(EMPTY);
    this.carryLength = 1;
    this.carryLength = 0;
    this.lineNumber = 1;
    this.lineNumber = 0;
    this.sawPeriod = true;
    this.sawPeriod = false;
    this.sawDso = true;
    this.sawDso = false;
    this.sawBare = true;
    this.sawBare = false;
    this.lastHeaderLine = 1;
    this.lastHeaderLine = 0;
  }

  line(text: string, lineNumber: number): void {
    if (text.length === 0) {
      this.flush();
      return;
    }
    const first = text.charCodeAt(0);
    if (first === Char.Hash) return;
    if (!isSpace(first)) {
      const header = parseHeader(text);
      if (header) return this.header(text, header, lineNumber);
    }
    const frame = parseStackLine(text);
    if (frame) {
      this.sawDso = true;
      return this.frame(frame);
    }
    if (!this.sawDso) {
      const bare = parseBareStackLine(text);
      if (bare) {
        this.sawBare = true;
        return this.frame(bare);
      }
    }
    if (text.trim().length === 0) return;
    throw new InputError(
      `expected a perf script sample header ('comm pid … event:') or stack line ('address symbol (dso)'), found ${excerpt(text)}`,
      this.file,
      lineNumber,
    );
  }

  /** Feeds raw input; lines may span chunks, and `chunk` may be reused once this returns. Do not mix with `line`. */
  write(chunk: Buffer): void {
    let start = 0;
    if (this.carryLength > 0) {
      const newline = chunk.indexOf(Char.LineFeed);
      if (newline < 0) return this.hold(chunk);
      this.carry.push(chunk.subarray(0, newline + 1));
      const joined = Buffer.concat(this.carry);
      this.carry = [];
      this.carryLength = 0;
      this.scan(joined);
      start = newline + 1;
    }
    const rest = this.scan(chunk, start);
    if (rest < chunk.length) this.hold(chunk.subarray(rest));
  }

  private hold(piece: Buffer): void {
    // A copy: the caller may reuse the chunk's buffer for the next read.
    this.carry.push(Buffer.from(piece));
    this.carryLength += piece.length;
    if (this.carryLength > LINE_DEFAULTS.maxLineLength) {
      throw lineTooLong(this.file, this.lineNumber + 1);
    }
  }

  /** Reads the complete lines of `bytes` from `pos`; returns where the first incomplete one starts. */
  private scan(bytes: Buffer, pos = 0): number {
    const length = bytes.length;
    this.view = viewOf(bytes);
    while (pos < length) {
      const c = bytes[pos]!;
      if (c === Char.Tab || c === Char.Space) {
        const next = this.stackLineBytes(bytes, pos);
        if (next < 0) return pos;
        pos = next;
        continue;
      }
      if (c === Char.LineFeed) {
        this.lineNumber++;
        this.flush();
        pos++;
        continue;
      }
      const newline = bytes.indexOf(Char.LineFeed, pos);
      if (newline < 0) return pos;
      this.lineNumber++;
      if (c !== Char.Hash && !this.headerBytes(bytes, pos, newline)) this.slowLine(bytes, pos, newline);
      pos = newline + 1;
    }
    return pos;
  }

  /** A line the byte path does not handle itself, through the line path. */
  private slowLine(bytes: Buffer, start: number, end: number): void {
    if (end > start && bytes[end - 1] === Char.Return) end--;
    this.line(bytes.toString('utf8', start, end), this.lineNumber);
  }

  /** The stack line at `start`; returns where the next line starts, or -1 when this one is incomplete. */
  private stackLineBytes(bytes: Buffer, start: number): number {
    const view = this.view;
    // The line that followed the previous one last time, compared whole, then by its key.
    let guess = -1;
    if (this.pending) {
      const previous = 2 * (this.stackLength > 0 ? this.stack[this.stackLength - 1]! + 1 : 0);
      if (previous < this.successors.length) {
        guess = this.successors[previous]! - 1;
        if (guess >= 0 && (guess & 1) === this.pendingJava) {
          const end = this.lines.matchLine(guess, view, start);
          if (end >= 0) {
            this.lineNumber++;
            this.append(guess);
            return end + 1;
          }
          const other = this.successors[previous + 1]! - 1;
          if (other >= 0 && (other & 1) === this.pendingJava) {
            const otherEnd = this.lines.matchLine(other, view, start);
            if (otherEnd >= 0) {
              this.lineNumber++;
              this.appendNew(other);
              return otherEnd + 1;
            }
          }
        } else {
          guess = -1;
        }
      }
    }
    const pcStart = skipBlanks(bytes, start);
    const pcEnd = skipWord(bytes, pcStart);
    const keyStart = this.addrs ? pcStart : skipBlanks(bytes, pcEnd);
    if (guess >= 0 && pcEnd > pcStart) {
      const end = this.frameKeys[guess & 1]!.matchLine(guess >> 1, view, keyStart);
      if (end >= 0) {
        this.lines.set(guess, bytes, start, end);
        this.lineNumber++;
        this.append(guess);
        return end + 1;
      }
    }
    const end = hashLine(bytes, view, keyStart);
    if (end === bytes.length) return -1;
    this.lineNumber++;
    if (pcEnd > pcStart && end > keyStart && bytes[end - 1] === Char.CloseParen) {
      const java = this.pending ? this.pendingJava : 0;
      const id = this.frameKeys[java]!.find(view, keyStart, end, lineHash);
      if (id >= 0) {
        if (!this.pending) return end + 1;
        if (this.frameKeyIds[java]![id] !== undefined) {
          this.appendLine(id * 2 + java, bytes, start, end);
          return end + 1;
        }
      }
      if (this.newStackLine(bytes, start, keyStart, end, java, id)) return end + 1;
    }
    this.slowLine(bytes, start, end);
    return end + 1;
  }

  /** `appendNew` for a line the guess missed, which becomes the whole line of `element` if it has none. */
  private appendLine(element: number, bytes: Buffer, start: number, end: number): void {
    if (!this.lines.has(element)) this.lines.set(element, bytes, start, end);
    this.appendNew(element);
  }

  /** A stack line whose bytes were not seen before (or only in a skipped sample); false when the line path must read it. */
  private newStackLine(bytes: Buffer, start: number, keyStart: number, end: number, java: number, id: number): boolean {
    const line = parseStackLineFields(bytes.toString('utf8', start, end), true);
    if (line === undefined) return false;
    this.sawDso = true;
    const ids = this.pending ? this.cachedFrameIds(line, java === 1) : undefined;
    if (id < 0) {
      id = this.frameKeys[java]!.add(bytes, keyStart, end, lineHash);
      this.frameKeyIds[java]!.push(ids);
    } else {
      this.frameKeyIds[java]![id] = ids;
    }
    if (ids !== undefined) this.appendLine(id * 2 + java, bytes, start, end);
    return true;
  }

  /** A sample header from bytes; false when the line is not one the byte path reads. */
  private headerBytes(bytes: Buffer, start: number, end: number): boolean {
    if (end > start && bytes[end - 1] === Char.Return) end--;
    if (isSpace(bytes[start]!)) return false;
    // parseHeader, on bytes.
    let commEnd = -1;
    let pidStart = 0;
    let pidEnd = 0;
    let tidStart = 0;
    let tidEnd = 0;
    let i = start + 2;
    while (i < end) {
      if (!isSpace(bytes[i]!)) {
        i++;
        continue;
      }
      let j = i;
      while (j < end && isSpace(bytes[j]!)) j++;
      let k = j;
      while (k < end && isDigit(bytes[k]!)) k++;
      if (k === j) {
        i = j;
        continue;
      }
      let m = k;
      while (m < end && bytes[m] === Char.Slash) m++;
      let q = m;
      while (q < end && isDigit(bytes[q]!)) q++;
      if (q < end && isSpace(bytes[q]!)) {
        commEnd = i;
        pidStart = j;
        pidEnd = k;
        tidStart = m;
        tidEnd = q;
        break;
      }
      i = q;
    }
    if (commEnd < 0) return false;
    // parseEvent, on bytes: `… period event:` at the end.
    let hasEvent = false;
    let periodStart = 0;
    let periodEnd = 0;
    let eventStart = 0;
    let eventEnd = 0;
    let e = end;
    while (e > start && isSpace(bytes[e - 1]!)) e--;
    if (e > start && bytes[e - 1] === Char.Colon) {
      eventEnd = e - 1;
      eventStart = eventEnd;
      while (eventStart > start && !isSpace(bytes[eventStart - 1]!)) eventStart--;
      let blank = eventStart;
      while (blank > start && isSpace(bytes[blank - 1]!)) blank--;
      let digits = blank;
      while (digits > start && isDigit(bytes[digits - 1]!)) digits--;
      let colon = digits;
      while (colon > start && isSpace(bytes[colon - 1]!)) colon--;
      if (eventStart < eventEnd && blank < eventStart && colon > start && bytes[colon - 1] === Char.Colon) {
        hasEvent = true;
        periodStart = digits;
        periodEnd = blank;
      }
    }
    let period = 1;
    if (hasEvent) {
      if (this.eventFilter === '') {
        this.eventFilter = bytes.toString('utf8', eventStart, eventEnd);
        this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
      } else if (!sameBytes(bytes, eventStart, eventEnd, this.eventFilterBytes)) {
        const event = bytes.toString('utf8', eventStart, eventEnd);
        this.skippedEvents.set(event, (this.skippedEvents.get(event) ?? 0) + 1);
        return true;
      }
      const digits = periodEnd - periodStart;
      if (digits > 1 || (digits === 1 && bytes[periodStart] !== Char.Zero)) {
        if (digits <= 15) {
          period = 0;
          for (let d = periodStart; d < periodEnd; d++) period = period * 10 + bytes[d]! - Char.Zero;
        } else {
          period = Number(bytes.toString('latin1', periodStart, periodEnd));
        }
        this.sawPeriod = true;
      }
    }
    this.lastHeaderLine = this.lineNumber;
    // The thread is known by the bytes from the comm to the tid.
    let hash = HASH_SEED;
    for (let b = start; b < tidEnd; b++) hash = hashByte(hash, bytes[b]!);
    let key = this.threadKeys.find(this.view, start, tidEnd, hash);
    if (key < 0) {
      key = this.threadKeys.add(bytes, start, tidEnd, hash);
      const comm = bytes.toString('utf8', start, commEnd);
      const pid = bytes.toString('latin1', pidStart, pidEnd);
      const tid = tidEnd > tidStart ? bytes.toString('latin1', tidStart, tidEnd) : undefined;
      this.threadKeyIds.push(this.thread(comm, pid, tid));
    }
    this.startSample(this.threadKeyIds[key]!, this.options.weight === 'period' ? period : 1);
    return true;
  }

  private header(text: string, header: PerfHeader, lineNumber: number): void {
    let period = 1;
    const event = parseEvent(text);
    if (event) {
      if (this.eventFilter === '') {
        this.eventFilter = event.event;
        this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
      } else if (event.event !== this.eventFilter) {
        // Like the reference, a skipped header leaves the current sample as it is.
        this.skippedEvents.set(event.event, (this.skippedEvents.get(event.event) ?? 0) + 1);
        return;
      }
      // Perl truth: an empty or "0" period counts as one sample.
      if (event.period !== '' && event.period !== '0') {
        period = Number(event.period);
        this.sawPeriod = true;
      }
    }
    this.lastHeaderLine = lineNumber;
    this.startSample(this.thread(header.comm, header.pid, header.tid), this.options.weight === 'period' ? period : 1);
  }

  end(metadata: RunMetadata = {}): Profile {
    const part = this.finish();
    return this.builder.build(perfMetadata([part], { ...this.options, eventFilter: this.eventDefaulted ? '' : this.eventFilter }, metadata));
  }

  /**
   * Ends one part of an input (src/collapse/parallel.ts): its stacks, and what `perfMetadata`
   * needs to describe all parts together. The parser then reads the next part given to it as a
   * fresh one would, only faster: its tables carry over.
   */
  takePart(): { stacks: PartStacks; part: PerfPart } {
    const part = this.endInput();
    const stacks = this.takeStacks();
    this.skippedEvents.clear();
    this.lineNumber = 0;
    this.lastHeaderLine = 0;
    this.sawPeriod = false;
    this.sawDso = false;
    this.sawBare = false;
    return { stacks, part };
  }

  private finish(): PerfPart {
    const part = this.endInput();
    this.addStacks();
    return part;
  }

  /** Reads a last line left without its newline; what the input held besides its stacks. */
  private endInput(): PerfPart {
    if (this.carryLength > 0) {
      const last = Buffer.concat([...this.carry, Buffer.of(Char.LineFeed)]);
      this.carry = [];
      this.carryLength = 0;
      this.scan(last);
    }
    // perf script ends every sample with a blank line: one missing at the end of the input means
    // the sample may be cut off mid-stack. stackcollapse-perf.pl never counts such a sample;
    // neither does this, but a note says so.
    const cutOff = this.pending ? this.lastHeaderLine : 0;
    return {
      samples: this.samples,
      lines: this.lineNumber,
      cutOffLine: cutOff,
      skippedEvents: [...this.skippedEvents],
      eventFilter: this.eventFilter,
      sawPeriod: this.sawPeriod,
      sawBare: this.sawBare,
    };
  }
}

function sameBytes(bytes: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[start + i] !== expected[i]) return false;
  return true;
}

export const perfFormat: InputFormat<Partial<PerfOptions>> = {
  name: 'perf',
  sniff: looksLikePerf,
  createParser: (file, options) => new PerfParser(file, options),
};
