/**
 * Compiled unwind tables kept on disk by build-id (`<dir>/unwind/v1/<build-id>.bin`): a build-id
 * names exact bytes, so a table never goes stale, and node's takes ~0.3 s to compile but a few
 * milliseconds to read back. A file that is truncated, of another version, for another build-id,
 * or fails its CRC32 is ignored (and rewritten by the caller); writes go through a temporary file
 * and a rename, so a reader never sees half a file.
 *
 * Layout (little-endian): 96-byte header — magic "PUNW", version, row count, function start
 * count, source, build-id length, CRC32 of everything after the header, the build-id bytes
 * (up to 64) — then the rows (12 bytes each) and the function starts (u32 each).
 */
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import type { SymbolHost } from '../symbolize/source.js';
import { ROW_BYTES, type UnwindSource, type UnwindTable } from './rows.js';

const MAGIC = 0x574e_5550; // "PUNW"
const VERSION = 1;
const HEADER = 96;
const MAX_BUILD_ID = 64;
const SOURCES: readonly UnwindSource[] = ['eh_frame', 'debug_frame', 'debug-file debug_frame'];

export function unwindCachePath(directory: string, buildId: string): string {
  return join(directory, 'unwind', `v${VERSION}`, `${buildId}.bin`);
}

const usableBuildId = (buildId: string): boolean => /^[0-9a-f]{2,128}$/.test(buildId) && buildId.length % 2 === 0;

export function serializeTable(table: UnwindTable & { buildId: string }): Uint8Array {
  const id = Buffer.from(table.buildId, 'hex');
  const body = table.rowCount * ROW_BYTES + table.functionStarts.length * 4;
  const out = Buffer.alloc(HEADER + body);
  out.set(table.rows.subarray(0, table.rowCount * ROW_BYTES), HEADER);
  const starts = table.functionStarts;
  out.set(new Uint8Array(starts.buffer, starts.byteOffset, starts.length * 4), HEADER + table.rowCount * ROW_BYTES);
  [MAGIC, VERSION, table.rowCount, starts.length, SOURCES.indexOf(table.source), id.length, crc32(out.subarray(HEADER)) >>> 0].forEach((v, i) => out.writeUInt32LE(v, i * 4));
  id.copy(out, 28);
  return out;
}

/** The table in `bytes`, or undefined when they are not a valid table of this version for `buildId`. */
export function deserializeTable(bytes: Buffer, buildId: string): UnwindTable | undefined {
  if (bytes.length < HEADER || bytes.readUInt32LE(0) !== MAGIC || bytes.readUInt32LE(4) !== VERSION) return undefined;
  const rowCount = bytes.readUInt32LE(8);
  const startCount = bytes.readUInt32LE(12);
  const source = SOURCES[bytes.readUInt32LE(16)];
  const idLength = bytes.readUInt32LE(20);
  if (source === undefined || idLength > MAX_BUILD_ID || bytes.toString('hex', 28, 28 + idLength) !== buildId) return undefined;
  if (bytes.length !== HEADER + rowCount * ROW_BYTES + startCount * 4) return undefined;
  if (crc32(bytes.subarray(HEADER)) >>> 0 !== bytes.readUInt32LE(24)) return undefined;
  const rows = new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER, rowCount * ROW_BYTES);
  const startsAt = bytes.byteOffset + HEADER + rowCount * ROW_BYTES;
  // A typed array over a file's bytes needs 4-byte alignment; Buffers from the pool may lack it.
  const functionStarts = startsAt % 4 === 0 ? new Uint32Array(bytes.buffer, startsAt, startCount) : new Uint32Array(bytes.buffer.slice(startsAt, startsAt + startCount * 4));
  return { rows, rowCount, functionStarts, source, buildId };
}

export function readCachedTable(host: SymbolHost, directory: string, buildId: string): UnwindTable | undefined {
  if (!usableBuildId(buildId)) return undefined;
  const bytes = host.readFile(unwindCachePath(directory, buildId));
  return bytes ? deserializeTable(bytes, buildId) : undefined;
}

/** Keeps `table` for the next run; false when the cache directory cannot be written (only speed is lost). */
export function writeCachedTable(host: SymbolHost, directory: string, table: UnwindTable): boolean {
  const buildId = table.buildId;
  if (buildId === undefined || !usableBuildId(buildId)) return false;
  try {
    host.writeFileAtomic(unwindCachePath(directory, buildId), serializeTable({ ...table, buildId }));
    return true;
  } catch {
    return false;
  }
}
