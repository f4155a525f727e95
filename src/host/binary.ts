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

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
