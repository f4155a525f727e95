// Reference: `perf script` output (tools/perf/builtin-script.c) and the behaviour of Brendan
// Gregg's stackcollapse-perf.pl (https://github.com/brendangregg/FlameGraph), whose output this
// reproduces byte for byte: same sample-header and stack-line grammar, same frame-name clean-up.
import { InputError, excerpt } from '../errors.js';
import { ProfileBuilder } from '../profile/builder.js';
import type { FrameId, FrameKind, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';
import { LINE_DEFAULTS, lineTooLong } from '../io/lines.js';
import { ByteInterner, HASH_SEED, hashByte, hashInt, IntSequenceInterner, PairInterner } from './intern.js';
import type { InputFormat, LineParser } from './types.js';
import { perfMetadata, type PerfPart } from './perf-metadata.js';

export interface PerfOptions {
  /** Weight a sample by the period perf printed (`period`, as stackcollapse-perf.pl does) or count it once (`samples`). Default `period`. */
  readonly weight: 'period' | 'samples';
  /** Keep only samples of this event; empty means the first event seen (summing cycles with instructions misleads). Default ''. */
  readonly eventFilter: string;
  /** Keep the address in frames perf could not name: `[libc.so.6 <7f12ab>]` (`--addrs`). Default false. */
  readonly addrs: boolean;
  /** Drop the `L` of Java class names in processes whose comm starts with `java`. Default true. */
  readonly tidyJava: boolean;
  /** Drop argument lists, quotes, and `;` from names, as stackcollapse-perf.pl does. Default true. */
  readonly tidyGeneric: boolean;
}

export const PERF_DEFAULTS: PerfOptions = Object.freeze({
  weight: 'period',
  eventFilter: '',
  addrs: false,
  tidyJava: true,
  tidyGeneric: true,
});

const enum Char {
  Tab = 9,
  LineFeed = 10,
  VerticalTab = 11,
  FormFeed = 12,
  Return = 13,
  Space = 32,
  Hash = 35,
  OpenParen = 40,
  CloseParen = 41,
  Slash = 47,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  UpperA = 65,
  UpperZ = 90,
  Underscore = 95,
  LowerA = 97,
  LowerF = 102,
  LowerZ = 122,
}

// Perl's \s, \d and \w on byte strings: ASCII only.
const isSpace = (c: number): boolean => c === Char.Space || (c >= Char.Tab && c <= Char.Return);
const isDigit = (c: number): boolean => c >= Char.Zero && c <= Char.Nine;
const isWord = (c: number): boolean =>
  (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.UpperA && c <= Char.UpperZ) || isDigit(c) || c === Char.Underscore;
const isLowerHex = (c: number): boolean => isDigit(c) || (c >= Char.LowerA && c <= Char.LowerF);

export interface PerfHeader {
  readonly comm: string;
  readonly pid: string;
  /** Absent when perf printed one number (the default fields print the thread id only). */
  readonly tid?: string;
}

/**
 * A sample header: `comm [pid/]tid …`. The comm is the shortest prefix (two characters or more,
 * starting with a non-blank) followed by blanks, digits, optional `/digits` and a blank, so comms
 * with spaces (`V8 WorkerThread 25607 …`) keep their spaces.
 */
export function parseHeader(text: string): PerfHeader | undefined {
  const length = text.length;
  if (length === 0 || isSpace(text.charCodeAt(0))) return undefined;
  let i = 2;
  while (i < length) {
    if (!isSpace(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < length && isSpace(text.charCodeAt(j))) j++;
    let k = j;
    while (k < length && isDigit(text.charCodeAt(k))) k++;
    if (k === j) {
      i = j;
      continue;
    }
    let m = k;
    while (m < length && text.charCodeAt(m) === Char.Slash) m++;
    let q = m;
    while (q < length && isDigit(text.charCodeAt(q))) q++;
    if (q < length && isSpace(text.charCodeAt(q))) {
      return { comm: text.slice(0, i), pid: text.slice(j, k), tid: q > m ? text.slice(m, q) : undefined };
    }
    i = q;
  }
  return undefined;
}

/** The `period event:` that ends a header line (`…: 1001001 cpu-clock:ppp: `), or undefined. */
export function parseEvent(text: string): { period: string; event: string } | undefined {
  let end = text.length;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  if (end === 0 || text.charCodeAt(end - 1) !== Char.Colon) return undefined;
  const eventEnd = end - 1;
  let eventStart = eventEnd;
  while (eventStart > 0 && !isSpace(text.charCodeAt(eventStart - 1))) eventStart--;
  if (eventStart === eventEnd) return undefined;
  let blank = eventStart;
  while (blank > 0 && isSpace(text.charCodeAt(blank - 1))) blank--;
  if (blank === eventStart) return undefined;
  let digits = blank;
  while (digits > 0 && isDigit(text.charCodeAt(digits - 1))) digits--;
  let colon = digits;
  while (colon > 0 && isSpace(text.charCodeAt(colon - 1))) colon--;
  if (colon === 0 || text.charCodeAt(colon - 1) !== Char.Colon) return undefined;
  return { period: text.slice(digits, blank), event: text.slice(eventStart, eventEnd) };
}

export interface PerfStackLine {
  readonly pc: string;
  readonly symbol: string;
  /** The text inside the last parentheses (`[kernel.kallsyms]`, `/usr/lib/libc.so.6`); undefined when perf printed no dso. */
  readonly module?: string;
}

/**
 * A stack line: `address symbol (dso)`. The dso is everything from the last ` (` that has a `)`
 * after it to the last `)`, so symbols with parentheses (`foo(int) const`) stay whole.
 */
export function parseStackLine(text: string): PerfStackLine | undefined {
  return parseStackLineFields(text, false);
}

/** `exact`: undefined instead of the reference's backtracking reading of `addr (dso)` lines, which depends on more than the symbol and dso. */
function parseStackLineFields(text: string, exact: boolean): PerfStackLine | undefined {
  const length = text.length;
  let start = 0;
  while (start < length && isSpace(text.charCodeAt(start))) start++;
  let pcEnd = start;
  while (pcEnd < length && isWord(text.charCodeAt(pcEnd))) pcEnd++;
  if (pcEnd === start) return undefined;
  const close = text.lastIndexOf(')');
  const open = close >= 2 ? text.lastIndexOf(' (', close - 2) : -1;
  if (open < 0) return undefined;
  let symbolStart = pcEnd;
  while (symbolStart < length && isSpace(text.charCodeAt(symbolStart))) symbolStart++;
  const module = text.slice(open + 2, close);
  if (symbolStart < open) return { pc: text.slice(start, pcEnd), symbol: text.slice(symbolStart, open), module };
  if (exact) return undefined;
  // `addr (dso)` with no symbol: a regex engine backtracks until the symbol is the one character
  // before ` (`; kept for fidelity with the reference.
  if (open - 1 <= start) return undefined;
  return { pc: text.slice(start, Math.min(pcEnd, open - 1)), symbol: text[open - 1]!, module };
}

/** `addr symbol` with no dso (`perf script -F ip,sym`). */
function parseBareStackLine(text: string): PerfStackLine | undefined {
  const length = text.length;
  let start = 0;
  while (start < length && isSpace(text.charCodeAt(start))) start++;
  if (start === 0) return undefined;
  let pcEnd = start;
  while (pcEnd < length && isWord(text.charCodeAt(pcEnd))) pcEnd++;
  let symbolStart = pcEnd;
  while (symbolStart < length && isSpace(text.charCodeAt(symbolStart))) symbolStart++;
  if (pcEnd === start || symbolStart === pcEnd || symbolStart === length) return undefined;
  return { pc: text.slice(start, pcEnd), symbol: text.slice(symbolStart).trimEnd() };
}

/** Strips a trailing `+0x1a` symbol offset (lower-case hex, as perf prints it). */
function stripOffset(symbol: string): string {
  let k = symbol.length;
  while (k > 0 && isLowerHex(symbol.charCodeAt(k - 1))) k--;
  if (k < symbol.length && k >= 3 && symbol.charCodeAt(k - 1) === 120 /* x */ && symbol.charCodeAt(k - 2) === Char.Zero && symbol.charCodeAt(k - 3) === 43 /* + */) {
    return symbol.slice(0, k - 3);
  }
  return symbol;
}

/** Perl's split: trailing empty fields are dropped. */
function splitInlineChain(symbol: string): string[] {
  const parts = symbol.split('->');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Everything from the first `(` that does not open `(anonymous namespace)` is argument noise, except in Go method names such as `net/http.(*Client).Do`. */
function dropArguments(name: string): string {
  const goMethod = name.indexOf('.(');
  if (goMethod >= 0 && name.indexOf(').', goMethod + 2) >= 0) return name;
  let open = name.indexOf('(');
  while (open >= 0 && name.startsWith('anonymous namespace)', open + 1)) open = name.indexOf('(', open + 1);
  return open >= 0 ? name.slice(0, open) : name;
}

const JIT_MAP = /\/tmp\/perf-\d+\.map/;

function moduleKind(module: string | undefined): FrameKind {
  if (module === undefined) return 'user';
  if ((module.startsWith('[') || module.endsWith('vmlinux')) && !module.includes('unknown')) return 'kernel';
  if (JIT_MAP.test(module)) return 'jit';
  return 'user';
}

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

/** Hashes the bytes from `p` up to the next newline into `lineHash`; returns the newline's index, or the length when there is none. */
function hashLine(bytes: Uint8Array, p: number): number {
  const length = bytes.length;
  let hash = HASH_SEED;
  let c = 0;
  while (p < length && (c = bytes[p]!) !== Char.LineFeed) {
    hash = hashByte(hash, c);
    p++;
  }
  lineHash = hash;
  return p;
}

/** Who ran a sample, and whether its frames get the Java clean-up. */
interface ThreadEntry {
  readonly info: ThreadInfo;
  readonly java: boolean;
}

/**
 * Streams `perf script` text into a profile, either line by line (`line`) or, much faster, from
 * raw bytes (`write`). The byte path handles the common lines itself — stack lines
 * `addr symbol (dso)` and sample headers — and hands anything unusual to the line path as a
 * string, so both share one grammar and one state.
 *
 * A stack line is looked up by its bytes from the symbol to the end of the line (the address too
 * with `addrs`), which determine its frames; only a line never seen before becomes a string.
 * A sample is collected as the sequence of its stack lines' ids and looked up once at its end;
 * only a sequence never seen before is turned into frames, a node of a trie of frame ids, leaf
 * first. A (thread, node) pair keys the weight, so memory follows the distinct stacks, not the
 * input size.
 */
export class PerfParser implements LineParser {
  private readonly builder = new ProfileBuilder();
  private readonly options: PerfOptions;
  private readonly addrs: boolean;
  private eventFilter = '';
  private eventFilterBytes: Uint8Array = EMPTY;
  private readonly eventDefaulted: boolean;
  private readonly skippedEvents = new Map<string, number>();
  // Frame ids for a (symbol, dso) pair; the clean-up rules and interning run once per distinct pair.
  private readonly frameCache = new Map<string, FrameId[]>();
  // The same for the byte path, one table per Java flavour; undefined until a kept sample uses it.
  private readonly frameKeys = [new ByteInterner(), new ByteInterner()];
  private readonly frameKeyIds: (FrameId[] | undefined)[][] = [[], []];
  private readonly threads: ThreadEntry[] = [];
  private readonly threadIds = new Map<string, number>();
  private readonly threadKeys = new ByteInterner();
  private readonly threadKeyIds: number[] = [];
  /** Trie edges: (parent node, frame id) → child node − 1; node 0 is the empty stack. */
  private readonly trie = new PairInterner();
  /**
   * The pending sample's stack lines so far, each as key id × 2 + java ("elements"), and their
   * hash. On the 40 MB corpus 505k stack lines make 60k samples but only 20k distinct sequences:
   * a trie step per line (a look-up in a table of 173k nodes, a cache miss each) cost more than
   * one sequence look-up per sample.
   */
  private stack = new Int32Array(0);
  private stackLength = 0;
  private stackHash = 0;
  /** Set when the line path added frames to the pending sample: from then on it is `pendingNode`. */
  private inTrie = false;
  private readonly sequences = new IntSequenceInterner();
  private sequenceNodes = new Int32Array(0);
  /**
   * Per element + 1 (0: the start of a sample), the element that followed it last time, plus one.
   * Checking that guess needs no hash and touches a small table: it is right for 77 % of the
   * corpus's stack lines (a guess per trie node was right for 57 %).
   */
  private successors = new Int32Array(0);
  /** (thread, node) → index into `weights`. */
  private readonly stackKeys = new PairInterner();
  private readonly weights: number[] = [];
  private pending = false;
  private pendingThread = 0;
  private pendingWeight = 0;
  private pendingNode = 0;
  private pendingJava = 0;
  private sawPeriod = false;
  private sawDso = false;
  private sawBare = false;
  private samples = 0;
  private lastHeaderLine = 0;
  // Byte path: the start of a line that the previous chunk cut off, and lines read so far.
  private carry: Buffer[] = [];
  private carryLength = 0;
  private lineNumber = 0;

  constructor(private readonly file: string, options: Partial<PerfOptions> = {}) {
    this.options = { ...PERF_DEFAULTS, ...options };
    this.addrs = this.options.addrs;
    this.eventFilter = this.options.eventFilter;
    this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
    this.eventDefaulted = this.eventFilter === '';
    this.unfreezeFields();
  }

  // V8 compiles a field as a constant until its second store and deoptimizes the code that relied
  // on it when it changes later; the byte path's fields change first deep into the input (a chunk
  // boundary, the first event), so each is stored twice here (--trace-deopt showed the hot loop
  // thrown away and recompiled three times during one pass over the 40 MB corpus without this).
  private unfreezeFields(): void {
    this.eventFilterBytes = Buffer.alloc(0);
    this.eventFilterBytes = Buffer.from(this.eventFilter, 'utf8');
    this.carry = [];
    this.stack = new Int32Array(256);
    this.sequenceNodes = new Int32Array(1024);
    this.successors = new Int32Array(1024);
    this.stackLength = 1;
    this.stackLength = 0;
    this.stackHash = 1;
    this.stackHash = 0;
    this.inTrie = true;
    this.inTrie = false;
    this.pendingJava = 1;
    this.pendingJava = 0;
    this.carryLength = 1;
    this.carryLength = 0;
    this.lineNumber = 1;
    this.lineNumber = 0;
    this.pending = true;
    this.pending = false;
    this.pendingThread = 1;
    this.pendingThread = 0;
    this.pendingWeight = 1;
    this.pendingWeight = 0;
    this.pendingNode = 1;
    this.pendingNode = 0;
    this.sawPeriod = true;
    this.sawPeriod = false;
    this.sawDso = true;
    this.sawDso = false;
    this.sawBare = true;
    this.sawBare = false;
    this.samples = 1;
    this.samples = 0;
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
    const pcStart = skipBlanks(bytes, start);
    const pcEnd = skipWord(bytes, pcStart);
    const keyStart = this.addrs ? pcStart : skipBlanks(bytes, pcEnd);
    if (this.pending && pcEnd > pcStart) {
      const previous = this.stackLength > 0 ? this.stack[this.stackLength - 1]! + 1 : 0;
      const guess = previous < this.successors.length ? this.successors[previous]! - 1 : -1;
      if (guess >= 0 && (guess & 1) === this.pendingJava) {
        const end = this.frameKeys[guess & 1]!.matchLine(guess >> 1, bytes, keyStart);
        if (end >= 0) {
          this.lineNumber++;
          this.append(guess);
          return end + 1;
        }
      }
    }
    const end = hashLine(bytes, keyStart);
    if (end === bytes.length) return -1;
    this.lineNumber++;
    if (pcEnd > pcStart && end > keyStart && bytes[end - 1] === Char.CloseParen) {
      const java = this.pending ? this.pendingJava : 0;
      const id = this.frameKeys[java]!.find(bytes, keyStart, end, lineHash);
      if (id >= 0) {
        if (!this.pending) return end + 1;
        if (this.frameKeyIds[java]![id] !== undefined) {
          this.appendNew(id * 2 + java);
          return end + 1;
        }
      }
      if (this.newStackLine(bytes, start, keyStart, end, java, id)) return end + 1;
    }
    this.slowLine(bytes, start, end);
    return end + 1;
  }

  /** Adds stack line `element` (key id × 2 + java) to the pending sample. */
  private append(element: number): void {
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

  /** Like `append`, for an element the guess missed: it becomes the guess after the previous one. */
  private appendNew(element: number): void {
    const previous = this.stackLength > 0 ? this.stack[this.stackLength - 1]! + 1 : 0;
    if (previous >= this.successors.length) {
      const successors = new Int32Array(Math.max(previous + 1, this.successors.length * 2));
      successors.set(this.successors);
      this.successors = successors;
    }
    this.successors[previous] = element + 1;
    this.append(element);
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
    if (ids !== undefined) this.appendNew(id * 2 + java);
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
    let key = this.threadKeys.find(bytes, start, tidEnd, hash);
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

  /** The index of a thread in `threads`, added when new. */
  private thread(comm: string, pid: string, tid: string | undefined): number {
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
  private startSample(thread: number, weight: number): void {
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

  private frame(line: PerfStackLine): void {
    if (!this.pending) return; // a filtered sample's stack
    if (!this.inTrie) {
      this.pendingNode = this.stackNode();
      this.inTrie = true;
    }
    this.pushFrames(this.cachedFrameIds(line, this.pendingJava === 1));
  }

  /** The trie node of the pending sample's elements. */
  private stackNode(): number {
    this.pendingNode = 0;
    for (let i = 0; i < this.stackLength; i++) {
      const element = this.stack[i]!;
      this.pushFrames(this.frameKeyIds[element & 1]![element >> 1]!);
    }
    return this.pendingNode;
  }

  /** The pending sample's trie node, through the table of element sequences seen before. */
  private sampleNode(): number {
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
  private cachedFrameIds(line: PerfStackLine, java: boolean): FrameId[] {
    const key = `${java ? 'j' : 'n'}${this.addrs ? line.pc : ''}\0${stripOffset(line.symbol)}\0${line.module ?? '\0'}`;
    let ids = this.frameCache.get(key);
    if (ids === undefined) {
      ids = this.frameIds(line, java);
      this.frameCache.set(key, ids);
    }
    return ids;
  }

  /** Inlined chains `a->b` are printed caller first; the stack is collected leaf first. */
  private pushFrames(ids: readonly FrameId[]): void {
    let node = this.pendingNode;
    for (let i = ids.length - 1; i >= 0; i--) node = this.trie.intern(node, ids[i]!) + 1;
    this.pendingNode = node;
  }

  private frameIds(line: PerfStackLine, java: boolean): FrameId[] {
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

  private flush(): void {
    if (!this.pending) return;
    this.pending = false;
    this.samples++;
    const index = this.stackKeys.intern(this.pendingThread, this.sampleNode());
    if (index === this.weights.length) this.weights.push(this.pendingWeight);
    else this.weights[index] += this.pendingWeight;
  }

  end(metadata: RunMetadata = {}): Profile {
    const part = this.finish();
    return this.builder.build(perfMetadata([part], { ...this.options, eventFilter: this.eventDefaulted ? '' : this.eventFilter }, metadata));
  }

  /**
   * Ends the parse of one part of an input (src/collapse/parallel.ts): its stacks, and what
   * `perfMetadata` needs to describe all parts together.
   */
  endPart(): { profile: Profile; part: PerfPart } {
    const part = this.finish();
    return { profile: this.builder.build({}), part };
  }

  private finish(): PerfPart {
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
    this.pending = false;
    const trie = this.trie;
    for (let index = 0; index < this.weights.length; index++) {
      const frames: FrameId[] = [];
      // Up from the leaf-first trie node: outermost caller first, as a profile wants.
      for (let node = this.stackKeys.second(index); node > 0; node = trie.first(node - 1)) frames.push(trie.second(node - 1));
      this.builder.addStack(frames, this.weights[index]!, this.threads[this.stackKeys.first(index)]!.info);
    }
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

/**
 * True when the head of an input has a perf script sample header followed by a stack line, or a
 * header ending in `event:`. Older perf versions printed neither a timestamp nor an indent
 * (`java 19983 cycles:` then `ffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])`): such
 * a stack line is recognised by its hexadecimal address and dso, and by not reading as a header,
 * as the parser would take it for one.
 */
export function looksLikePerf(head: readonly string[]): boolean {
  for (let i = 0; i < head.length; i++) {
    const text = head[i]!;
    if (text.length === 0 || text.startsWith('#')) continue;
    if (isSpace(text.charCodeAt(0)) || !parseHeader(text)) return false;
    if (parseEvent(text)) return true;
    const next = head[i + 1];
    if (next === undefined) return false;
    if (isSpace(next.charCodeAt(0))) return (parseStackLine(next) ?? parseBareStackLine(next)) !== undefined;
    return UNINDENTED_STACK_LINE.test(next) && parseHeader(next) === undefined && parseStackLineFields(next, true) !== undefined;
  }
  return false;
}

// `address symbol (dso)` at the start of a line, as perf printed stack lines before it indented them.
const UNINDENTED_STACK_LINE = /^[0-9a-f]+ \S.* \(.*\)\r?$/;

// `comm pid … period event: addr symbol`: a sample printed on one line, its ip after the event.
const ONE_LINE_SAMPLE = /:\s+(?:\d+\s+)?[\w.:/-]+:\s+[0-9a-f]+\s+\S/;

/** True when the head is `perf script` output of a recording made without -g: one line per sample, no stack lines. */
export function looksLikePerfWithoutStacks(head: readonly string[]): boolean {
  const lines = head.filter((l) => l.trim().length > 0 && !l.startsWith('#')).slice(0, 20);
  return lines.length > 0 && lines.every((l) => parseHeader(l.trimStart()) !== undefined && ONE_LINE_SAMPLE.test(l));
}

export const perfFormat: InputFormat<Partial<PerfOptions>> = {
  name: 'perf',
  sniff: looksLikePerf,
  createParser: (file, options) => new PerfParser(file, options),
};
