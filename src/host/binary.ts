/**
 * Random access to binaries and debug files on disk, by path or by a descriptor captured while
 * the process lived. Reads only the ranges asked for: a 100 MB binary costs its headers and
 * symbol tables, not 100 MB.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { ByteSource } from '../symbolize/source.js';

class FileSource implements ByteSource {
  readonly size: number;
  readonly dev: number;
  readonly inode: number;

  constructor(
    readonly fd: number,
    readonly path: string,
    private readonly owned: boolean,
  ) {
    const stat = fstatSync(fd);
    this.size = stat.size;
    this.dev = stat.dev;
    this.inode = stat.ino;
  }

  read(offset: number, length: number): Buffer {
    // After close() the descriptor number may be another file's by now.
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const end = Math.min(this.size, offset + length);
    if (offset < 0 || offset >= end) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(end - offset);
    let done = 0;
    while (done < buffer.length) {
      const n = readSync(this.fd, buffer, done, buffer.length - done, offset + done);
      if (n <= 0) break;
      done += n;
    }
    return done === buffer.length ? buffer : buffer.subarray(0, done);
  }

  private closed = false;

  close(): void {
    // Twice would close whatever took the descriptor number in between.
    if (!this.owned || this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Opens a regular file for reading, or undefined when it does not exist or is not a file. */
export function openFile(path: string): ByteSource | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a file');
    return new FileSource(fd, path, true);
  } catch {
    closeSync(fd);
    return undefined;
  }
}

/** Wraps a descriptor someone else owns (captured by `captureProcess`); `close()` leaves it open. */
export function fromDescriptor(fd: number, path: string): ByteSource | undefined {
  try {
    return new FileSource(fd, path, false);
  } catch {
    return undefined;
  }
}

/**
 * A whole file as text. /proc files report size 0 and readFileSync reads them in small steps
 * (kallsyms, 5 MB: ~0.7 s); a large reused buffer takes ~0.12 s.
 */
export function readText(path: string): string | undefined {
  return readWhole(path)?.toString('utf8');
}

/**
 * A whole file's bytes (at most `limit`), read the way `readText` explains. /proc files answer a
 * few KB per read whatever the buffer: each read goes straight into one growing buffer (a copy
 * per 4 KB chunk and a final concatenation cost ~70 ms on kallsyms' 1,300 reads).
 */
export function readWhole(path: string, limit = Number.MAX_SAFE_INTEGER): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    let buffer = Buffer.allocUnsafe(Math.min(limit, 8 << 20));
    let length = 0;
    while (length < limit) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(limit, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n <= 0) break;
      length += n;
    }
    return buffer.subarray(0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Bytes already in memory as a ByteSource (no descriptor: no DWARF through libdw). */
export function fromBytes(bytes: Buffer, path: string): ByteSource {
  return {
    size: bytes.length,
    path,
    read: (offset, length) => (offset < 0 || offset >= bytes.length ? Buffer.alloc(0) : bytes.subarray(offset, Math.min(bytes.length, offset + length))),
    close: () => {},
  };
}

/**
 * This process's vDSO image, read from /proc/self/mem: every process of a kernel maps the same
 * one (per ABI), and it is no file on disk. Undefined when unreadable.
 */
export function ownVdso(): { readonly source: ByteSource; readonly size: number } | undefined {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp \S+ \S+ \S+\s+\[vdso\]$/m.exec(maps);
  if (!m) return undefined;
  const start = parseInt(m[1]!, 16);
  const size = parseInt(m[2]!, 16) - start;
  let fd: number | undefined;
  try {
    fd = openSync('/proc/self/mem', constants.O_RDONLY);
    const bytes = Buffer.alloc(size);
    if (readSync(fd, bytes, 0, size, start) !== size) return undefined;
    return { source: fromBytes(bytes, '[vdso]'), size };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
