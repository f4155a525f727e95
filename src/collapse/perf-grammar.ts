// Reference: `perf script` output (tools/perf/builtin-script.c) and Brendan Gregg's
// stackcollapse-perf.pl (https://github.com/brendangregg/FlameGraph): the sample-header and
// stack-line grammar, and the frame-name clean-up, as strings. src/collapse/perf.ts reads the
// same grammar from bytes for the common lines and hands the rest to these functions.
import type { FrameKind } from '../profile/model.js';

export const enum Char {
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
export const isSpace = (c: number): boolean => c === Char.Space || (c >= Char.Tab && c <= Char.Return);
export const isDigit = (c: number): boolean => c >= Char.Zero && c <= Char.Nine;
export const isWord = (c: number): boolean =>
  (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.UpperA && c <= Char.UpperZ) || isDigit(c) || c === Char.Underscore;
export const isLowerHex = (c: number): boolean => isDigit(c) || (c >= Char.LowerA && c <= Char.LowerF);

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
export function parseStackLineFields(text: string, exact: boolean): PerfStackLine | undefined {
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
export function parseBareStackLine(text: string): PerfStackLine | undefined {
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
export function stripOffset(symbol: string): string {
  let k = symbol.length;
  while (k > 0 && isLowerHex(symbol.charCodeAt(k - 1))) k--;
  if (k < symbol.length && k >= 3 && symbol.charCodeAt(k - 1) === 120 /* x */ && symbol.charCodeAt(k - 2) === Char.Zero && symbol.charCodeAt(k - 3) === 43 /* + */) {
    return symbol.slice(0, k - 3);
  }
  return symbol;
}

/** Perl's split: trailing empty fields are dropped. */
export function splitInlineChain(symbol: string): string[] {
  const parts = symbol.split('->');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Everything from the first `(` that does not open `(anonymous namespace)` is argument noise, except in Go method names such as `net/http.(*Client).Do`. */
export function dropArguments(name: string): string {
  const goMethod = name.indexOf('.(');
  if (goMethod >= 0 && name.indexOf(').', goMethod + 2) >= 0) return name;
  let open = name.indexOf('(');
  while (open >= 0 && name.startsWith('anonymous namespace)', open + 1)) open = name.indexOf('(', open + 1);
  return open >= 0 ? name.slice(0, open) : name;
}

const JIT_MAP = /\/tmp\/perf-\d+\.map/;

export function moduleKind(module: string | undefined): FrameKind {
  if (module === undefined) return 'user';
  if ((module.startsWith('[') || module.endsWith('vmlinux')) && !module.includes('unknown')) return 'kernel';
  if (JIT_MAP.test(module)) return 'jit';
  return 'user';
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
