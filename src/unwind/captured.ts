/**
 * Unwind tables of the binaries a recording meets, read through the file a process mapped (its
 * descriptor captured while it lived, or its root for a container), not whatever is at that path now.
 */
import type { ByteSource } from '../symbolize/source.js';
import { HOST } from '../host/index.js';
import { unwindTableFor, type UnwindOptions, type UnwindTable } from './index.js';

/** `source` for a reader that closes what it opens: reading goes through, closing stays with the owner. */
const borrowed = (source: ByteSource): ByteSource => ({
  size: source.size,
  path: source.path,
  dev: source.dev,
  inode: source.inode,
  fd: source.fd,
  read: (offset, length) => source.read(offset, length),
  close: () => undefined,
});

/** The table of an open binary (cached by build-id like any other); undefined when it has no unwind information. */
export function tableOfOpenBinary(source: ByteSource, options: Partial<UnwindOptions> = {}): UnwindTable | undefined {
  const host = options.host ?? HOST;
  return unwindTableFor(source.path, { ...options, host: { ...host, openFile: (path) => (path === source.path ? borrowed(source) : host.openFile(path)) } });
}
