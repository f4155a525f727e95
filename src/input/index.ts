/**
 * Reads a profile in any format we know: pprof (gzipped or not), speedscope JSON, or any text
 * stack format `collapse` detects. Binary and JSON formats are recognised by their first bytes;
 * everything else streams through `collapse()` untouched.
 */
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { collapse, type CollapseOptions } from '../collapse/index.js';
import { readHead, replay, sniffContainer } from '../collapse/sniff.js';
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

function fromBytes(bytes: Buffer, file: string, options: LoadOptions, depth: number): Promise<Profile> | Profile {
  const kind = sniffContainer(bytes, file);
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
      const innerKind = sniffContainer(inner, file);
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
  const chunks = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head = await readHead(chunks, input.name);
  // Text streams on: a 40 MB perf script never sits in memory whole.
  if (sniffContainer(head.bytes, input.name) === 'text') return collapse(Readable.from(replay(head, chunks)), input.name, options);
  const max = options.maxBytes ?? LOAD_DEFAULTS.maxBytes;
  const parts: Buffer[] = [head.bytes];
  let length = head.bytes.length;
  for (let next = head.done ? undefined : await chunks.next(); next && !next.done; next = await chunks.next()) {
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    parts.push(chunk);
    length += chunk.length;
    if (length > max) throw new ProfileError(`is larger than ${max} bytes; not reading it whole`, { file: input.name });
  }
  return fromBytes(Buffer.concat(parts), input.name, options, 0);
}
