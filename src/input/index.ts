/**
 * Reads a profile in any format we know: pprof (gzipped or not), speedscope JSON, or any text
 * stack format `collapse` detects. Binary and JSON formats are recognised by their first bytes;
 * everything else streams through `collapse()` untouched.
 */
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { collapse, type CollapseOptions } from '../collapse/index.js';
import { InputError, ProfileError } from '../errors.js';
import { openInput } from '../io/lines.js';
import type { Profile } from '../profile/model.js';
import { readPprof } from './pprof.js';
import { isSpeedscope, parseJson, readSpeedscope } from './speedscope.js';

export { readPprof } from './pprof.js';
export { readSpeedscope } from './speedscope.js';

export interface LoadOptions extends CollapseOptions {
  /** Largest pprof/speedscope file (they are read whole), after decompression. Default 1 GiB. */
  readonly maxBytes?: number;
}

export const LOAD_DEFAULTS = Object.freeze({ maxBytes: 1 << 30 });

const SNIFF_BYTES = 64;
// A folded line ends in its count; a speedscope document's first line never does.
const FOLDED_LINE = /\s\d+(?:\.\d*)?\r?$/;

type Kind = 'gzip' | 'pprof' | 'json' | 'text';

function sniff(head: Buffer, file: string): Kind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  let start = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (start < head.length && (head[start] === 0x20 || head[start] === 0x09 || head[start] === 0x0a || head[start] === 0x0d)) start++;
  if (head[start] === 0x7b /* { */) {
    const newline = head.indexOf(0x0a, start);
    const firstLine = head.subarray(start, newline < 0 ? head.length : newline).toString('utf8');
    if (newline < 0 || !FOLDED_LINE.test(firstLine)) return 'json';
  }
  // An uncompressed pprof message starts with field 1 (sample_type, length-delimited: 0x0a) and
  // is full of small binary bytes that no text profile has.
  const binary = head.some((byte) => byte < 0x09 || (byte > 0x0d && byte < 0x20 && byte !== 0x1b));
  if (head[0] === 0x0a && binary) return 'pprof';
  if (/\.(pb|pprof)$/i.test(file) && binary) return 'pprof';
  return 'text';
}

function fromBytes(bytes: Buffer, file: string, options: LoadOptions, depth: number): Promise<Profile> | Profile {
  const kind = sniff(bytes.subarray(0, SNIFF_BYTES), file);
  switch (kind) {
    case 'gzip': {
      if (depth > 0) throw new InputError('gzip inside gzip is not a profile', file);
      let inner: Buffer;
      try {
        inner = gunzipSync(bytes, { maxOutputLength: options.maxBytes ?? LOAD_DEFAULTS.maxBytes });
      } catch (error) {
        throw new InputError(`not a valid gzip file (${(error as Error).message})`, file);
      }
      // Gzipped pprof is the normal case (any binary content is taken for pprof and checked by
      // the decoder); gzipped text or JSON is read like the plain file.
      const innerKind = sniff(inner.subarray(0, SNIFF_BYTES), file);
      if (innerKind === 'pprof' || (innerKind === 'text' && !isText(inner))) return readPprof(inner, file);
      return fromBytes(inner, file, options, depth + 1);
    }
    case 'pprof':
      return readPprof(bytes, file);
    case 'json': {
      // TextDecoder drops a UTF-8 byte-order mark, which JSON.parse would reject.
      const doc = parseJson(new TextDecoder().decode(bytes), file);
      if (!isSpeedscope(doc)) throw new InputError('JSON input is not a speedscope file (its $schema does not name speedscope)', file, 1);
      return readSpeedscope(doc, file);
    }
    case 'text':
      return collapse(Readable.from([bytes]), file, options);
  }
}

// A protobuf message that happened not to start with 0x0a still has control bytes early on.
function isText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 4096);
  return !head.some((byte) => byte < 0x09 || (byte > 0x0d && byte < 0x20 && byte !== 0x1b));
}

/** Reads FILE (or standard input for undefined and `-`) as a profile of whichever format it holds. */
export async function loadProfile(file: string | undefined, options: LoadOptions = {}, stdin: Readable = process.stdin): Promise<Profile> {
  const input = await openInput(file, stdin);
  // A forced text format (`--input-format`) skips sniffing altogether.
  if (options.format !== undefined) return collapse(input.stream, input.name, options);
  const iterator = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  const next = async (): Promise<boolean> => {
    const step = await iterator.next();
    if (step.done) return false;
    const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : step.value;
    chunks.push(chunk);
    length += chunk.length;
    return true;
  };
  while (length < SNIFF_BYTES && !done) done = !(await next());
  const head = Buffer.concat(chunks);
  const kind = sniff(head.subarray(0, SNIFF_BYTES), input.name);
  if (kind === 'text') {
    // Text streams on: a 40 MB perf script never sits in memory whole.
    const rest = (async function* () {
      yield* chunks;
      if (done) return;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    })();
    return collapse(Readable.from(rest), input.name, options);
  }
  const max = options.maxBytes ?? LOAD_DEFAULTS.maxBytes;
  while (!done) {
    done = !(await next());
    if (length > max) throw new ProfileError(`is larger than ${max} bytes; not reading it whole`, { file: input.name });
  }
  return fromBytes(Buffer.concat(chunks), input.name, options, 0);
}
