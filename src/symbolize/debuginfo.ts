/**
 * Finding a binary's separate debug file, the way gdb and elfutils do:
 * 1. by build-id: `/usr/lib/debug/.build-id/ab/cdef….debug`;
 * 2. by `.gnu_debuglink`: beside the binary, in `.debug/` beside it, in `/usr/lib/debug/<dir>/`;
 * 3. by debuginfod (debuginfod.ts), when DEBUGINFOD_URLS is set.
 * A candidate is used only when it is the right file: same build-id when both have one, else the
 * CRC32 the debuglink records. A wrong debug file gives wrong names, so it is refused and said.
 *
 * Reference: https://sourceware.org/gdb/current/onlinedocs/gdb.html/Separate-Debug-Files.html
 */
import { crc32 } from 'node:zlib';
import { dirname, posix } from 'node:path';
import { ElfError, ElfFile } from './elf/file.js';
import type { ByteSource, SymbolHost } from './source.js';

export interface DebugFileOptions {
  /** Directories searched by build-id and debuglink. Default `/usr/lib/debug`. */
  readonly debugDirectories: readonly string[];
}

export const DEBUG_FILE_DEFAULTS: DebugFileOptions = Object.freeze({ debugDirectories: ['/usr/lib/debug'] });

export function buildIdPaths(buildId: string, directories: readonly string[]): string[] {
  return directories.map((dir) => `${dir}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`);
}

export function debugLinkPaths(binaryPath: string, link: string, directories: readonly string[]): string[] {
  const dir = dirname(binaryPath.replace(/ \(deleted\)$/, ''));
  const paths = [posix.join(dir, link), posix.join(dir, '.debug', link)];
  for (const root of directories) paths.push(posix.join(root, dir, link));
  // Merged /usr: a library mapped from /lib/x86_64-linux-gnu has its debug file under /usr/lib/debug/usr/lib/….
  if (dir.startsWith('/lib')) for (const root of directories) paths.push(posix.join(root, '/usr', dir, link));
  else if (dir.startsWith('/usr/lib')) for (const root of directories) paths.push(posix.join(root, dir.slice(4), link));
  return paths.filter((p) => p !== binaryPath);
}

function fileCrc(source: ByteSource): number {
  let crc = 0;
  const chunk = 8 << 20;
  for (let at = 0; at < source.size; at += chunk) crc = crc32(source.read(at, chunk), crc);
  return crc >>> 0;
}

export interface DebugFile {
  readonly elf: ElfFile;
  readonly path: string;
  readonly how: 'build-id' | 'debuglink' | 'debuginfod';
}

/**
 * Checks that `candidate` is the debug file of a binary with `buildId` (and debuglink CRC):
 * returns the opened ELF, or a reason it was refused.
 */
export function verifyDebugFile(source: ByteSource, buildId: string | undefined, crc: number | undefined): ElfFile | string {
  let elf: ElfFile;
  try {
    elf = new ElfFile(source);
  } catch (error) {
    return error instanceof ElfError ? error.message : String(error);
  }
  const theirs = elf.buildId();
  if (buildId !== undefined && theirs !== undefined) return theirs === buildId ? elf : `build-id ${theirs} differs from the binary's ${buildId}`;
  if (crc !== undefined) {
    const actual = fileCrc(source);
    return actual === crc ? elf : `CRC32 ${actual.toString(16)} differs from the debuglink's ${crc.toString(16)}`;
  }
  return buildId === undefined ? 'neither a build-id nor a CRC to check it against' : 'has no build-id to check';
}

/** The local debug file of `binary`, or undefined; refusals are passed to `warn`. */
export function findLocalDebugFile(
  binary: ElfFile,
  binaryPath: string,
  buildId: string | undefined,
  host: SymbolHost,
  options: DebugFileOptions,
  warn: (message: string) => void,
): DebugFile | undefined {
  const tried = new Set<string>();
  const attempt = (path: string, how: DebugFile['how'], crc: number | undefined): DebugFile | undefined => {
    if (tried.has(path)) return undefined;
    tried.add(path);
    const source = host.openFile(path);
    if (!source) return undefined;
    const verified = verifyDebugFile(source, buildId, crc);
    if (typeof verified === 'string') {
      source.close();
      warn(`${path}: refused as debug file of ${binaryPath}: ${verified}`);
      return undefined;
    }
    return { elf: verified, path, how };
  };
  if (buildId !== undefined && buildId.length >= 4) {
    for (const path of buildIdPaths(buildId, options.debugDirectories)) {
      const found = attempt(path, 'build-id', undefined);
      if (found) return found;
    }
  }
  let link;
  try {
    link = binary.debugLink();
  } catch {
    link = undefined;
  }
  if (link) {
    for (const path of debugLinkPaths(binaryPath, link.name, options.debugDirectories)) {
      const found = attempt(path, 'debuglink', link.crc);
      if (found) return found;
    }
  }
  return undefined;
}
