// Reference: `perf script` output (tools/perf/builtin-script.c) and the behaviour of Brendan
// Gregg's stackcollapse-perf.pl (https://github.com/brendangregg/FlameGraph), whose output this
// reproduces byte for byte: same sample-header and stack-line grammar, same frame-name clean-up.
import { InputError, excerpt } from '../errors.js';
import { ProfileBuilder } from '../profile/builder.js';
import type { FrameId, FrameKind, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';
import type { InputFormat, LineParser } from './types.js';

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

interface Pending {
  thread: ThreadInfo;
  weight: number;
  /** Leaf first, as perf prints them. */
  frames: FrameId[];
}

/** Streams `perf script` text into a profile. */
export class PerfParser implements LineParser {
  private readonly builder = new ProfileBuilder();
  private readonly options: PerfOptions;
  private eventFilter: string;
  private readonly eventDefaulted: boolean;
  private readonly skippedEvents = new Map<string, number>();
  // Frame ids for a (symbol, dso) pair; the clean-up rules and interning run once per distinct pair.
  private readonly frameCache = new Map<string, FrameId[]>();
  private pending: Pending | undefined;
  private sawPeriod = false;
  private sawDso = false;
  private sawBare = false;
  private samples = 0;
  private lastLineBlank = true;
  private lastHeaderLine = 0;
  private headersWithEvent = 0;
  private pendingHasEvent = false;

  constructor(private readonly file: string, options: Partial<PerfOptions> = {}) {
    this.options = { ...PERF_DEFAULTS, ...options };
    this.eventFilter = this.options.eventFilter;
    this.eventDefaulted = this.eventFilter === '';
  }

  line(text: string, lineNumber: number): void {
    if (text.length === 0) {
      this.flush();
      this.lastLineBlank = true;
      return;
    }
    this.lastLineBlank = false;
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

  private header(text: string, header: PerfHeader, lineNumber: number): void {
    let period = 1;
    const event = parseEvent(text);
    if (event) {
      if (this.eventFilter === '') this.eventFilter = event.event;
      else if (event.event !== this.eventFilter) {
        // Like the reference, a skipped header leaves the current sample as it is.
        this.skippedEvents.set(event.event, (this.skippedEvents.get(event.event) ?? 0) + 1);
        return;
      }
      // Perl truth: an empty or "0" period counts as one sample.
      if (event.period !== '' && event.period !== '0') {
        period = Number(event.period);
        this.sawPeriod = true;
      }
      this.headersWithEvent++;
    }
    this.lastHeaderLine = lineNumber;
    this.pendingHasEvent = event !== undefined;
    // Perl truth again: a thread id of 0 (the idle task, `swapper 0/0`) reads as "no tid".
    const hasTid = header.tid !== undefined && header.tid !== '0';
    const thread: ThreadInfo = hasTid
      ? { comm: header.comm.replaceAll(' ', '_'), pid: Number(header.pid), tid: Number(header.tid) }
      : { comm: header.comm.replaceAll(' ', '_'), tid: Number(header.pid) };
    const weight = this.options.weight === 'period' ? period : 1;
    if (this.pending) {
      this.pending.thread = thread;
      this.pending.weight = weight;
    } else {
      this.pending = { thread, weight, frames: [] };
    }
  }

  private frame(line: PerfStackLine): void {
    const pending = this.pending;
    if (!pending) return; // a filtered sample's stack
    const java = this.options.tidyJava && pending.thread.comm.startsWith('java');
    const key = `${java ? 'j' : 'n'}${this.options.addrs ? line.pc : ''}\0${line.symbol}\0${line.module ?? '\0'}`;
    let ids = this.frameCache.get(key);
    if (ids === undefined) {
      ids = this.frameIds(line, java);
      this.frameCache.set(key, ids);
    }
    // Inlined chains `a->b` are printed caller first; the stack is collected leaf first.
    for (let i = ids.length - 1; i >= 0; i--) pending.frames.push(ids[i]!);
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
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.samples++;
    pending.frames.reverse();
    this.builder.addStack(pending.frames, pending.weight, pending.thread);
  }

  end(metadata: RunMetadata = {}): Profile {
    // A header with no event at the very end, where every other header had one, is a cut-off file.
    if (this.pending && !this.lastLineBlank && !this.pendingHasEvent && this.headersWithEvent > 0 && this.pending.frames.length === 0) {
      throw new InputError('perf script sample is cut off at the end of the input (truncated file?)', this.file, this.lastHeaderLine);
    }
    // The reference drops a last sample that has no blank line after it; nothing is dropped here.
    this.flush();
    const notes = [...(metadata.notes ?? [])];
    for (const [event, count] of this.skippedEvents) {
      notes.push(`skipped ${count} samples of event ${event}: only ${this.eventFilter} is shown${this.eventDefaulted ? ' (the first event seen; choose with --event-filter)' : ''}`);
    }
    if (this.sawBare) notes.push('perf script printed no dso: kernel and JIT frames cannot be told apart');
    const clock = /^(cpu|task)-clock\b/.test(this.eventFilter);
    const unit = this.options.weight === 'period' && this.sawPeriod ? (clock ? 'nanoseconds' : `${this.eventFilter.replace(/:.*/, '')} events`) : 'samples';
    return this.builder.build({
      ...metadata,
      samples: this.samples,
      unit,
      ...(notes.length > 0 ? { notes } : {}),
      extra: { ...metadata.extra, ...(this.eventFilter ? { event: this.eventFilter } : {}) },
    });
  }
}

/** True when the head of an input has a perf script sample header followed by a stack line, or a header ending in `event:`. */
export function looksLikePerf(head: readonly string[]): boolean {
  for (let i = 0; i < head.length; i++) {
    const text = head[i]!;
    if (text.length === 0 || text.startsWith('#')) continue;
    if (isSpace(text.charCodeAt(0)) || !parseHeader(text)) return false;
    if (parseEvent(text)) return true;
    const next = head[i + 1];
    return next !== undefined && isSpace(next.charCodeAt(0)) && (parseStackLine(next) ?? parseBareStackLine(next)) !== undefined;
  }
  return false;
}

export const perfFormat: InputFormat<Partial<PerfOptions>> = {
  name: 'perf',
  sniff: looksLikePerf,
  createParser: (file, options) => new PerfParser(file, options),
};
