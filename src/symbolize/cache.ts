/**
 * The frames of each binary's addresses, one table per build-id, kept on disk
 * (`<dir>/v2/<build-id>.bin`) so a second run over the same binaries skips symbol tables, DWARF
 * and demangling for every address seen before.
 *
 * Frames are deduplicated (name, file, line) and addresses point at runs of frame numbers, so the
 * symbolizer interns each distinct frame once per binary, not once per address. The tables are
 * typed arrays read with one read and no per-entry objects: the JSON of version 1 cost ~0.65 s to
 * read and 1.3 s of garbage collection for 80k addresses. The string bytes, most of a file (node's:
 * 17 MB of C++ names), stay on disk: names are read one by one as frames are asked for, and a run
 * that asks for many reads them all at once.
 *
 * A build-id names exact bytes, so entries never go stale — except when debug info appears later
 * (a -dbgsym package installed): each file records whether DWARF was used, and a file written
 * without it is ignored once DWARF is there. Unreadable, corrupt or other-version files are
 * ignored and rewritten.
 *
 * Layout (little-endian): 40-byte header (magic, version, flags, counts), the build-id padded to
 * 8 bytes, then Float64 addresses (ascending), Uint32 record starts (addresses + 1), Uint32 frame
 * numbers, per frame Int32 name, demangled name (−1: not known), file (−1: none) and Uint32 line,
 * Uint32 string ends, and the UTF-8 bytes of the strings.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ByteSource } from './source.js';

/** One frame: name (null when unnamed), file, line; root first, inlined calls after. */
export type CachedFrame = readonly [name: string | null, file: string | null, line: number];

const MAGIC = 0x4d59_5350; // "PSYM"
/** The format's version, also the cache directory's subdirectory (`v2/`). */
export const VERSION = 2;
const HEADER = 40;

export function defaultCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'profile');
}

/**
 * Addresses one build-id's table may hold on disk (12 bytes each, plus their frames and names).
 * Runs add the addresses they meet and every run that meets the binary reads the whole file, so
 * without a bound a long-lived host's tables would only grow (node's here: 110k addresses with
 * 82k frames, 20 MB, most of it C++ names).
 */
export const MAX_CACHED_ADDRESSES = 500_000;

/** The key of frames without a name (an inlined call DWARF names nowhere): no string can equal it. */
const UNNAMED = Symbol('unnamed');
/** One number per (file, line) of a name's frames: the file's number in the table, and the line. */
const placeKey = (fileId: number, line: number): number => fileId * 0x1_0000_0000 + line;

/** Names read one by one before a table reads all its string bytes at once (~1.5 µs a read). */
const STRING_READS_BEFORE_WHOLE = 2048;
/** Bytes copied at a time from the old file when a table is written again. */
const COPY_CHUNK = 1 << 20;

/** A file's bytes already in memory, as a ByteSource. */
class BufferSource implements ByteSource {
  readonly path = '<memory>';
  constructor(private readonly bytes: Buffer) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Buffer {
    return this.bytes.subarray(offset, Math.min(this.bytes.length, offset + length));
  }
  close(): void {}
}

const EMPTY_F64 = new Float64Array(0);
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_I32 = new Int32Array(0);

/** The frames known for one binary: read from disk, plus what this run added. */
export class FrameTable {
  // From disk.
  private addresses: Float64Array = EMPTY_F64;
  private starts: Uint32Array = new Uint32Array(1);
  private records: Uint32Array = EMPTY_U32;
  private baseNames: Int32Array = EMPTY_I32;
  private baseDemangled: Int32Array = EMPTY_I32;
  private baseFiles: Int32Array = EMPTY_I32;
  private baseLines: Int32Array = EMPTY_I32;
  private stringEnds: Uint32Array = EMPTY_U32;
  /** The string bytes: `stringsLength` bytes of `stringSource` from `stringsAt`, or all of `stringBytes` once read. */
  private stringSource: ByteSource | undefined;
  private stringsAt = 0;
  private stringsLength = 0;
  private stringBytes: Buffer | undefined = Buffer.alloc(0);
  private stringReads = 0;
  private decoded: (string | undefined)[] = [];
  // Added in this run: frames after the base ones, records after the base ones.
  private readonly added = new Map<number, number>();
  private readonly addedStarts: number[] = [0];
  private readonly addedRecords: number[] = [];
  private readonly names: (string | null)[] = [];
  private readonly demangledNames: (string | undefined)[] = [];
  private readonly files: (string | null)[] = [];
  private readonly lines: number[] = [];
  /**
   * Frames added in this run by name: the frame, or the frames (differing in file or line) of
   * that name. No key string is built per frame (80k addresses: ~0.25 s of concatenation and GC).
   */
  private readonly nameIndex = new Map<string | typeof UNNAMED, number | number[] | Map<number, number>>();
  /**
   * Files by number, and the number of each added frame's file: places compare as numbers. DWARF
   * hands each file name over as a new string, and comparing two such strings reads them whole.
   */
  private readonly fileIds = new Map<string | null, number>();
  private readonly frameFileIds: number[] = [];
  dirty = false;

  constructor(readonly withDwarf: boolean) {}

  get frameCount(): number {
    return this.baseNames.length + this.names.length;
  }

  /** Addresses read from the table's file. */
  get baseCount(): number {
    return this.addresses.length;
  }

  /** Addresses added since: from the file of additions (`adopt`) and by this run. */
  get addedCount(): number {
    return this.added.size;
  }

  /** Takes the addresses of `additions` (a file of additions) that this table lacks, as already written. */
  adopt(additions: FrameTable): void {
    for (let record = 0; record < additions.addresses.length; record++) {
      const vaddr = additions.addresses[record]!;
      if (this.find(vaddr) < 0) this.copyEntry(additions, record, vaddr);
    }
    this.dirty = false;
  }

  /** The addresses added since the file was read, as a table of their own in the file format. */
  serializeAdded(buildId: string): Iterable<Uint8Array> {
    const additions = new FrameTable(this.withDwarf);
    const base = this.addresses.length;
    for (const [vaddr, added] of this.added) additions.copyEntry(this, base + added, vaddr);
    return additions.serialize(buildId);
  }

  private copyEntry(from: FrameTable, record: number, vaddr: number): void {
    const frames: CachedFrame[] = [];
    const length = from.recordLength(record);
    for (let k = 0; k < length; k++) {
      const frame = from.recordFrame(record, k);
      frames.push([from.name(frame), from.file(frame), from.line(frame)]);
    }
    const copied = this.add(vaddr, frames);
    for (let k = 0; k < length; k++) {
      const demangled = from.demangled(from.recordFrame(record, k));
      if (demangled !== undefined) this.setDemangled(this.recordFrame(copied, k), demangled);
    }
  }

  /** The record of `vaddr`, or −1. */
  find(vaddr: number): number {
    const a = this.addresses;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v < vaddr) lo = mid + 1;
      else if (v > vaddr) hi = mid - 1;
      else return mid;
    }
    if (this.added.size === 0) return -1;
    const added = this.added.get(vaddr);
    return added === undefined ? -1 : a.length + added;
  }

  /** Frames of a record, root first. */
  recordLength(record: number): number {
    const base = this.addresses.length;
    if (record < base) return this.starts[record + 1]! - this.starts[record]!;
    return this.addedStarts[record - base + 1]! - this.addedStarts[record - base]!;
  }

  recordFrame(record: number, k: number): number {
    const base = this.addresses.length;
    if (record < base) return this.records[this.starts[record]! + k]!;
    return this.addedRecords[this.addedStarts[record - base]! + k]!;
  }

  /** Adds `vaddr` with one frame, `name` without file:line; returns its record. */
  addOne(vaddr: number, name: string): number {
    this.addedRecords.push(this.frameOf(name, null, 0));
    this.addedStarts.push(this.addedRecords.length);
    const record = this.addresses.length + this.added.size;
    this.added.set(vaddr, this.added.size);
    this.dirty = true;
    return record;
  }

  /** Adds `vaddr`'s frames; returns its record. */
  add(vaddr: number, frames: readonly CachedFrame[]): number {
    for (let k = 0; k < frames.length; k++) {
      const entry = frames[k]!;
      this.addedRecords.push(this.frameOf(entry[0], entry[1], entry[2]));
    }
    this.addedStarts.push(this.addedRecords.length);
    const record = this.addresses.length + this.added.size;
    this.added.set(vaddr, this.added.size);
    this.dirty = true;
    return record;
  }

  /** The number of the frame (name, file, line) added in this run, added now if new. */
  private frameOf(name: string | null, file: string | null, line: number): number {
    const base = this.baseNames.length;
    const key = name ?? UNNAMED;
    let fileId = this.fileIds.get(file);
    if (fileId === undefined) this.fileIds.set(file, (fileId = this.fileIds.size));
    const ids = this.frameFileIds;
    const lines = this.lines;
    const found = this.nameIndex.get(key);
    if (typeof found === 'number') {
      if (ids[found - base] === fileId && lines[found - base] === line) return found;
    } else if (Array.isArray(found)) {
      for (let i = 0; i < found.length; i++) {
        const f = found[i]!;
        if (ids[f - base] === fileId && lines[f - base] === line) return f;
      }
    } else if (found !== undefined) {
      const f = found.get(placeKey(fileId, line));
      if (f !== undefined) return f;
    }
    const frame = base + this.names.length;
    this.names.push(name);
    this.demangledNames.push(undefined);
    this.files.push(file);
    this.lines.push(line);
    ids.push(fileId);
    if (found === undefined) this.nameIndex.set(key, frame);
    else if (typeof found === 'number') this.nameIndex.set(key, [found, frame]);
    else if (!Array.isArray(found)) found.set(placeKey(fileId, line), frame);
    else if (found.length < 16) found.push(frame);
    else {
      // One name at many places (an inlined helper): a map by place keeps look-ups flat.
      const byPlace = new Map<number, number>();
      for (const f of [...found, frame]) byPlace.set(placeKey(ids[f - base]!, lines[f - base]!), f);
      this.nameIndex.set(key, byPlace);
    }
    return frame;
  }

  name(frame: number): string | null {
    const base = this.baseNames.length;
    return frame < base ? this.string(this.baseNames[frame]!) : this.names[frame - base]!;
  }

  /** The demangled name when a run has worked it out, else undefined. */
  demangled(frame: number): string | undefined {
    const base = this.baseNames.length;
    if (frame >= base) return this.demangledNames[frame - base];
    const index = this.baseDemangled[frame]!;
    return index < 0 ? undefined : (this.string(index) ?? undefined);
  }

  setDemangled(frame: number, name: string): void {
    const base = this.baseNames.length;
    if (frame >= base) this.demangledNames[frame - base] = name;
  }

  file(frame: number): string | null {
    const base = this.baseNames.length;
    return frame < base ? this.string(this.baseFiles[frame]!) : this.files[frame - base]!;
  }

  line(frame: number): number {
    const base = this.baseNames.length;
    return frame < base ? this.baseLines[frame]! : this.lines[frame - base]!;
  }

  private string(index: number): string | null {
    if (index < 0) return null;
    let s = this.decoded[index];
    if (s === undefined) {
      const start = index === 0 ? 0 : this.stringEnds[index - 1]!;
      const end = this.stringEnds[index]!;
      if (this.stringBytes === undefined && ++this.stringReads > STRING_READS_BEFORE_WHOLE) this.stringBytes = this.readStrings(0, this.stringsLength);
      s = this.stringBytes ? this.stringBytes.toString('utf8', start, end) : this.readStrings(start, end - start).toString('utf8');
      this.decoded[index] = s;
    }
    return s;
  }

  /**
   * String bytes from the file. The descriptor keeps the file that was checked even when another
   * run replaces it; one cut short since (by hand) reads as NULs: wrong names, never a crash.
   */
  private readStrings(offset: number, length: number): Buffer {
    if (!this.stringSource) throw new Error('frame table used after close()');
    const bytes = this.stringSource.read(this.stringsAt + offset, length);
    return bytes.length === length ? bytes : Buffer.alloc(length);
  }

  /** Closes the cache file names are read from: the table is not used after this. */
  close(): void {
    this.stringSource?.close();
    this.stringSource = undefined;
  }

  /** Reads a cache file's bytes; false (and nothing kept) when it is not a valid file for `buildId`. */
  load(bytes: Buffer, buildId: string, maxAddresses = MAX_CACHED_ADDRESSES): boolean {
    return this.open(new BufferSource(bytes), buildId, maxAddresses);
  }

  /**
   * Reads a cache file's tables, leaving its string bytes in the file (read as names are asked
   * for); false (and nothing kept) when it is not a valid file for `buildId`. On true the table
   * owns `source` (closed by `close()`); on false the caller still does.
   */
  open(source: ByteSource, buildId: string, maxAddresses = MAX_CACHED_ADDRESSES): boolean {
    const header = source.read(0, HEADER);
    if (header.length < HEADER) return false;
    // A table past the bound is not read: the run starts empty and writes back only what it
    // looked up, so one binary's file (and what every run that meets it holds) stays bounded.
    if (header.readUInt32LE(12) > maxAddresses) return false;
    const word = (at: number): number => header.readUInt32LE(at);
    if (word(0) !== MAGIC || word(4) !== VERSION || (word(8) & 1) !== (this.withDwarf ? 1 : 0)) return false;
    const [nAddresses, nRecords, nFrames, nStrings, nBytes, idLength] = [word(12), word(16), word(20), word(24), word(28), word(32)];
    const tablesAt = HEADER + Math.ceil(idLength / 8) * 8;
    const stringsAt = tablesAt + nAddresses * 8 + (nAddresses + 1) * 4 + nRecords * 4 + nFrames * 16 + nStrings * 4;
    if (stringsAt + nBytes !== source.size) return false;
    const read = source.read(0, stringsAt);
    if (read.length !== stringsAt) return false;
    // Typed views need aligned offsets; a pooled Buffer may not be.
    const buffer = read.byteOffset % 8 === 0 ? read : Buffer.from(read);
    if (buffer.toString('latin1', HEADER, HEADER + idLength) !== buildId) return false;
    let at = tablesAt;
    const take = <T>(make: (b: ArrayBufferLike, o: number, n: number) => T, n: number, width: number): T => {
      const view = make(buffer.buffer, buffer.byteOffset + at, n);
      at += n * width;
      return view;
    };
    const addresses = take((b, o, n) => new Float64Array(b, o, n), nAddresses, 8);
    const starts = take((b, o, n) => new Uint32Array(b, o, n), nAddresses + 1, 4);
    const records = take((b, o, n) => new Uint32Array(b, o, n), nRecords, 4);
    const names = take((b, o, n) => new Int32Array(b, o, n), nFrames, 4);
    const demangled = take((b, o, n) => new Int32Array(b, o, n), nFrames, 4);
    const files = take((b, o, n) => new Int32Array(b, o, n), nFrames, 4);
    const lines = take((b, o, n) => new Int32Array(b, o, n), nFrames, 4);
    const stringEnds = take((b, o, n) => new Uint32Array(b, o, n), nStrings, 4);
    // Everything is checked once here, so a damaged file can cost speed but never a wrong index.
    if (starts[0] !== 0 || starts[nAddresses] !== nRecords) return false;
    for (let i = 0; i < nAddresses; i++) if (starts[i + 1]! < starts[i]! || (i > 0 && !(addresses[i]! > addresses[i - 1]!))) return false;
    for (let i = 0; i < nRecords; i++) if (records[i]! >= nFrames) return false;
    for (let i = 0; i < nFrames; i++) {
      if (names[i]! >= nStrings || demangled[i]! >= nStrings || files[i]! >= nStrings || names[i]! < -1 || demangled[i]! < -1 || files[i]! < -1) return false;
    }
    for (let i = 0; i < nStrings; i++) if (stringEnds[i]! > nBytes || (i > 0 && stringEnds[i]! < stringEnds[i - 1]!)) return false;
    this.addresses = addresses;
    this.starts = starts;
    this.records = records;
    this.baseNames = names;
    this.baseDemangled = demangled;
    this.baseFiles = files;
    this.baseLines = lines;
    this.stringEnds = stringEnds;
    this.stringSource = source;
    this.stringsAt = stringsAt;
    this.stringsLength = nBytes;
    this.stringBytes = source instanceof BufferSource ? this.readStrings(0, nBytes) : undefined;
    this.decoded = new Array<string | undefined>(nStrings);
    return true;
  }

  /**
   * The whole table, old and new entries, in the file format: its parts in order, the old string
   * bytes copied from the old file a chunk at a time rather than held whole.
   */
  serialize(buildId: string): Iterable<Uint8Array> {
    const baseAddresses = this.addresses.length;
    const addedOrder = Float64Array.from(this.added.keys()).sort();
    const nAddresses = baseAddresses + addedOrder.length;
    const nRecords = this.records.length + this.addedRecords.length;
    const nBaseFrames = this.baseNames.length;
    const nFrames = nBaseFrames + this.names.length;
    // New strings go after the old ones, whose bytes are copied as they are. They are encoded in
    // one call (joined by NUL, which C strings cannot hold) and their ends found by scanning.
    const nBaseStrings = this.stringEnds.length;
    const strings = new Map<string, number>();
    const pending: string[] = [];
    const intern = (s: string | null | undefined): number => {
      if (s === null || s === undefined) return -1;
      let index = strings.get(s);
      if (index === undefined) {
        index = nBaseStrings + pending.length;
        pending.push(s.includes('\0') ? s.replaceAll('\0', '\ufffd') : s);
        strings.set(s, index);
      }
      return index;
    };
    const names = new Int32Array(nFrames);
    const demangled = new Int32Array(nFrames);
    const files = new Int32Array(nFrames);
    const lines = new Int32Array(nFrames);
    names.set(this.baseNames);
    demangled.set(this.baseDemangled);
    files.set(this.baseFiles);
    lines.set(this.baseLines);
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i]!;
      names[nBaseFrames + i] = intern(name);
      const d = this.demangledNames[i];
      demangled[nBaseFrames + i] = d === undefined ? -1 : d === name ? names[nBaseFrames + i]! : intern(d);
      files[nBaseFrames + i] = intern(this.files[i]);
      lines[nBaseFrames + i] = this.lines[i]!;
    }
    const joined = pending.length === 0 ? Buffer.alloc(0) : Buffer.from(pending.join('\0'), 'utf8');
    const newEnds = new Uint32Array(pending.length);
    for (let k = 0, from = 0; k < pending.length; k++) {
      const nul = joined.indexOf(0, from);
      const end = nul < 0 ? joined.length : nul;
      newEnds[k] = this.stringsLength + end - k;
      from = end + 1;
    }
    const newBytes = joined.length - Math.max(0, pending.length - 1);
    const bytes = this.stringsLength + newBytes;
    const nStrings = nBaseStrings + pending.length;
    const idBytes = Buffer.from(buildId, 'latin1');
    const idPadded = Math.ceil(idBytes.length / 8) * 8;
    const out = Buffer.alloc(HEADER + idPadded + nAddresses * 8 + (nAddresses + 1) * 4 + nRecords * 4 + nFrames * 16 + nStrings * 4);
    [MAGIC, VERSION, this.withDwarf ? 1 : 0, nAddresses, nRecords, nFrames, nStrings, bytes, idBytes.length].forEach((v, i) => out.writeUInt32LE(v, i * 4));
    idBytes.copy(out, HEADER);
    let at = HEADER + idPadded;
    const addresses = new Float64Array(out.buffer, out.byteOffset + at, nAddresses);
    at += nAddresses * 8;
    const starts = new Uint32Array(out.buffer, out.byteOffset + at, nAddresses + 1);
    at += (nAddresses + 1) * 4;
    const records = new Uint32Array(out.buffer, out.byteOffset + at, nRecords);
    at += nRecords * 4;
    // Merge the two sorted address lists.
    let i = 0;
    let j = 0;
    let r = 0;
    for (let n = 0; n < nAddresses; n++) {
      starts[n] = r;
      if (j >= addedOrder.length || (i < baseAddresses && this.addresses[i]! < addedOrder[j]!)) {
        addresses[n] = this.addresses[i]!;
        for (let k = this.starts[i]!; k < this.starts[i + 1]!; k++) records[r++] = this.records[k]!;
        i++;
      } else {
        const vaddr = addedOrder[j]!;
        addresses[n] = vaddr;
        const added = this.added.get(vaddr)!;
        for (let k = this.addedStarts[added]!; k < this.addedStarts[added + 1]!; k++) records[r++] = this.addedRecords[k]!;
        j++;
      }
    }
    starts[nAddresses] = r;
    for (const array of [names, demangled, files, lines]) {
      new Int32Array(out.buffer, out.byteOffset + at, nFrames).set(array);
      at += nFrames * 4;
    }
    const ends = new Uint32Array(out.buffer, out.byteOffset + at, nStrings);
    ends.set(this.stringEnds);
    for (let k = 0; k < newEnds.length; k++) ends[nBaseStrings + k] = newEnds[k]!;
    const added = Buffer.alloc(newBytes);
    for (let k = 0, from = 0, to = 0; k < pending.length; k++) {
      const end = newEnds[k]! - this.stringsLength + k;
      to += joined.copy(added, to, from, end);
      from = end + 1;
    }
    return this.parts(out, added);
  }

  private *parts(head: Buffer, added: Buffer): Iterable<Uint8Array> {
    yield head;
    if (this.stringBytes) yield this.stringBytes;
    else for (let at = 0; at < this.stringsLength; at += COPY_CHUNK) yield this.readStrings(at, Math.min(COPY_CHUNK, this.stringsLength - at));
    yield added;
  }
}
