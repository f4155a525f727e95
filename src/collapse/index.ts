import type { Readable } from 'node:stream';
import { InputError, excerpt } from '../errors.js';
import { forEachLine } from '../io/lines.js';
import type { Profile } from '../profile/model.js';
import { foldedFormat } from './folded.js';
import { bccFormat } from './bcc.js';
import { bpftraceFormat } from './bpftrace.js';
import { perfFormat } from './perf.js';
import type { InputFormat, LineParser } from './types.js';

export type { InputFormat, LineParser } from './types.js';
export { PERF_DEFAULTS, type PerfOptions } from './perf.js';
export { BPFTRACE_DEFAULTS, type BpftraceOptions } from './bpftrace.js';
export { BCC_DEFAULTS, type BccOptions } from './bcc.js';

/** Options shared by the collapsers; each format reads the fields it understands. */
export interface CollapseOptions {
  /** Force a format instead of sniffing (`perf`, `bpftrace`, `bcc`, `folded`). */
  readonly format?: string;
  readonly [option: string]: unknown;
}

/** Formats in sniffing order: the most specific first, folded last because it is the loosest. */
export const INPUT_FORMATS: readonly InputFormat<any>[] = [perfFormat, bpftraceFormat, bccFormat, foldedFormat];

const SNIFF_LINES = 200;

/**
 * Reads any supported stack format from `input` and returns the profile. The first lines are
 * held back to sniff the format, then replayed into the parser; the rest streams through.
 */
export async function collapse(input: Readable, file: string, options: CollapseOptions = {}): Promise<Profile> {
  const head: { text: string; n: number }[] = [];
  let meaningful = 0;
  let parser: LineParser | undefined;
  let format: InputFormat | undefined;

  const choose = (): void => {
    format = options.format ? formatByName(options.format, file) : sniffFormat(head.map((l) => l.text), file);
    parser = format.createParser(file, options);
    for (const { text, n } of head) parser.line(text, n);
    head.length = 0;
  };

  await forEachLine(input, (text, n) => {
    if (parser) return parser.line(text, n);
    head.push({ text, n });
    if (text.trim().length > 0) meaningful++;
    if (meaningful >= SNIFF_LINES) choose();
  }, { file });
  if (!parser) {
    if (meaningful === 0) throw new InputError('input is empty', file);
    choose();
  }
  return parser!.end({ extra: { inputFormat: format!.name } });
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
  const index = head.findIndex((l) => l.trim().length > 0);
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
  while (last >= 0 && head[last]!.trim().length === 0) last--;
  if (last < 1) return undefined;
  const rest = head.slice(0, last);
  return INPUT_FORMATS.find((f) => f.sniff(rest));
}
