/**
 * Random access to binaries and debug files on disk, by path or by a descriptor captured while
 * the process lived. Reads only the ranges asked for: a 100 MB binary costs its headers and
 * symbol tables, not 100 MB.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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

  close(): void {
    if (!this.owned) return;
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

/** A whole file's bytes, read the way `readText` explains. */
export function readWhole(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    // /proc files answer a few KB per read whatever the buffer: reuse one buffer and copy.
    const chunks: Buffer[] = [];
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
