/**
 * Unwind tables for the BPF stack walker: a binary's call frame information compiled into the
 * sorted rows of rows.ts (docs/unwinding.md). The source is the binary's `.eh_frame`, else its
 * `.debug_frame`, else the `.debug_frame` of its separate debug file (found by build-id or
 * `.gnu_debuglink`, as the symbolizer finds it); tables are cached on disk by build-id.
 */
import { ProfileError } from '../errors.js';
import { HOST } from '../host/index.js';
import { defaultCacheDirectory } from '../symbolize/cache.js';
import { DEBUG_FILE_DEFAULTS, findLocalDebugFile } from '../symbolize/debuginfo.js';
import { ElfError, ElfFile, SHT_NOBITS, type Section } from '../symbolize/elf/file.js';
import type { ByteSource, SymbolHost } from '../symbolize/source.js';
import { readCachedTable, writeCachedTable } from './cache.js';
import { CfiError, compileFrames } from './compile.js';
import type { UnwindSource, UnwindTable } from './rows.js';

export { buildRowIndex, CfaRule, RbpRule, ROW_BYTES, decodeRow, describeRow, findRow, findRowIndexed, rowPc, type Row, type RowIndex, type UnwindSource, type UnwindTable } from './rows.js';
export { deserializeTable, serializeTable, unwindCachePath } from './cache.js';

export interface UnwindOptions {
  /** On-disk cache of compiled tables by build-id. Default `$XDG_CACHE_HOME/profile` (`~/.cache/profile`); undefined: none. */
  readonly cacheDirectory: string | undefined;
  /** Directories searched for separate debug files. Default `/usr/lib/debug`. */
  readonly debugDirectories: readonly string[];
  /** Where binaries are read from and the cache is written. Default: this machine (src/host). */
  readonly host: SymbolHost;
  /** Refused debug files and the like. Default: ignored. */
  readonly warn: (message: string) => void;
}

export const UNWIND_DEFAULTS: UnwindOptions = Object.freeze({
  cacheDirectory: defaultCacheDirectory(),
  debugDirectories: DEBUG_FILE_DEFAULTS.debugDirectories,
  host: HOST,
  warn: () => {},
});

interface Compiled {
  readonly rows: Uint8Array;
  readonly rowCount: number;
  readonly functionStarts: Uint32Array;
  readonly kind: 'eh_frame' | 'debug_frame';
}

const usable = (s: Section | undefined): s is Section => s !== undefined && s.type !== SHT_NOBITS && s.size > 0;

/** An 8-byte value at a virtual address, read through the PT_LOAD headers (DW_EH_PE_indirect). */
function loader(elf: ElfFile): (vaddr: number) => number | undefined {
  return (vaddr) => {
    for (const s of elf.segments) {
      if (vaddr >= s.vaddr && vaddr + 8 <= s.vaddr + s.filesz) {
        const bytes = elf.source.read(s.offset + (vaddr - s.vaddr), 8);
        return bytes.length === 8 ? bytes.readUInt32LE(0) + bytes.readUInt32LE(4) * 2 ** 32 : undefined;
      }
    }
    return undefined;
  };
}

/**
 * Compiles the table of one ELF file from `.eh_frame`, else (none, or no FDE in it: shared
 * objects built without unwind tables keep a 4-byte terminator) `.debug_frame`; undefined when
 * neither describes any code. Throws a ProfileError naming the file and the section offset when
 * the section is corrupt.
 */
export function compileElfTable(elf: ElfFile, file: string, options: { readonly debugFrameOnly?: boolean } = {}): Compiled | undefined {
  const bases = { text: elf.section('.text')?.addr, data: elf.section('.got')?.addr, load: loader(elf) };
  for (const kind of options.debugFrameOnly ? (['debug_frame'] as const) : (['eh_frame', 'debug_frame'] as const)) {
    const section = elf.section(`.${kind}`);
    if (!usable(section)) continue;
    let bytes: Buffer;
    try {
      bytes = elf.sectionData(section);
    } catch (error) {
      throw new ProfileError(error instanceof Error ? error.message : String(error), { file });
    }
    try {
      const compiled = compileFrames({ kind, bytes, address: section.addr }, bases);
      if (compiled.functionStarts.length > 0) return { rows: compiled.rows, rowCount: compiled.rowCount, functionStarts: compiled.functionStarts, kind };
    } catch (error) {
      if (error instanceof CfiError) throw new ProfileError(`.${kind} offset 0x${error.offset.toString(16)}: ${error.message}`, { file });
      throw error;
    }
  }
  return undefined;
}

/** The table of ELF bytes in memory (tests, fuzzing): `.eh_frame`, else `.debug_frame`; undefined without either. */
export function compileUnwindTable(bytes: Uint8Array, file = '<memory>'): UnwindTable | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const source: ByteSource = {
    size: buffer.length,
    path: file,
    read: (offset, length) => (offset < 0 || offset >= buffer.length ? Buffer.alloc(0) : buffer.subarray(offset, Math.min(buffer.length, offset + length))),
    close: () => {},
  };
  const elf = openElf(source, file);
  const compiled = compileElfTable(elf, file);
  return compiled && tableOf(compiled, compiled.kind, safeBuildId(elf));
}


const tableOf = (c: Compiled, source: UnwindSource, buildId: string | undefined): UnwindTable => ({ rows: c.rows, rowCount: c.rowCount, functionStarts: c.functionStarts, source, buildId });

function openElf(source: ByteSource, file: string): ElfFile {
  try {
    return new ElfFile(source);
  } catch (error) {
    if (error instanceof ElfError) throw new ProfileError(error.message, { file });
    throw error;
  }
}

function safeBuildId(elf: ElfFile): string | undefined {
  try {
    return elf.buildId();
  } catch {
    return undefined;
  }
}

/**
 * The unwind table of the binary at `path`, from the cache when it holds its build-id; undefined
 * when the binary carries no call frame information anywhere. Throws a ProfileError when the file
 * cannot be read, is no 64-bit ELF file, or its frame section is corrupt.
 */
export function unwindTableFor(path: string, options: Partial<UnwindOptions> = {}): UnwindTable | undefined {
  const o: UnwindOptions = { ...UNWIND_DEFAULTS, ...options };
  const source = o.host.openFile(path);
  if (!source) throw new ProfileError('cannot open the binary to read its unwind information', { file: path });
  try {
    const elf = openElf(source, path);
    const buildId = safeBuildId(elf);
    if (buildId !== undefined && o.cacheDirectory !== undefined) {
      const cached = readCachedTable(o.host, o.cacheDirectory, buildId);
      if (cached) return cached;
    }
    let table: UnwindTable | undefined;
    const own = compileElfTable(elf, path);
    if (own) table = tableOf(own, own.kind, buildId);
    else {
      const debug = findLocalDebugFile(elf, path, buildId, o.host, { debugDirectories: o.debugDirectories }, o.warn);
      if (debug) {
        try {
          const compiled = compileElfTable(debug.elf, debug.path, { debugFrameOnly: true });
          if (compiled) table = tableOf(compiled, 'debug-file debug_frame', buildId);
        } finally {
          debug.elf.source.close();
        }
      }
    }
    if (table && buildId !== undefined && o.cacheDirectory !== undefined) writeCachedTable(o.host, o.cacheDirectory, table);
    return table;
  } finally {
    source.close();
  }
}
