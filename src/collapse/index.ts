import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { forEachLine, lineTooLong } from '../io/lines.js';
import type { Profile } from '../profile/model.js';
import type { ParallelPlan } from './parallel-plan.js';
import { PERF_DEFAULTS, type PerfOptions } from './perf.js';
import { formatByName, readHead, replay, textFormat } from './sniff.js';

export type { InputFormat, LineParser } from './types.js';
export { INPUT_FORMATS } from './sniff.js';
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

/**
 * Reads any supported stack format from `input` and returns the profile. The first chunks are
 * held back to sniff the format from their lines, then replayed into the parser — as raw bytes
 * when it reads bytes (perf script), which skips making a string per line. A chunk is not kept
 * after the next one is asked for, so `input` may reuse one buffer.
 */
export async function collapse(input: Readable | AsyncIterable<Buffer | string>, file: string, options: CollapseOptions = {}): Promise<Profile> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head = await readHead(chunks, file);
  if (head.firstLineTooLong) throw lineTooLong(file, head.linesRead + 1);
  if (head.done && head.meaningful === 0) throw new InputError('input is empty', file);
  const format = options.format ? formatByName(options.format, file) : textFormat(head.lines, file);
  const whole = head.bytes;
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
    await forEachLine(replay(head, chunks), (text, n) => parser.line(text, n), { file });
  }
  return parser.end({ extra: { inputFormat: format.name } });
}
