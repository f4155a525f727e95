/**
 * Files without a name until they are complete (Linux O_TMPFILE). A process killed while writing
 * one — SIGKILL, a second Ctrl-C, the OOM killer — leaves nothing behind: the kernel frees an
 * unnamed inode with its last fd. `linkat` through /proc/self/fd gives it a name at the end; Node
 * has no binding for that, so libc's is called through koffi (loaded only when needed).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';

// __O_TMPFILE is 0o20000000 on every Linux architecture Node runs on; O_TMPFILE includes O_DIRECTORY.
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
const AT_FDCWD = -100;
const AT_SYMLINK_FOLLOW = 0x400;

interface LinkAt {
  (oldDirFd: number, oldPath: string, newDirFd: number, newPath: string, flags: number): number;
  errno(): number;
}
let linkAt: LinkAt | null | undefined;

async function loadLinkAt(): Promise<LinkAt | null> {
  if (linkAt !== undefined) return linkAt;
  try {
    const koffi = (await import('koffi')).default;
    const call = koffi.load('libc.so.6').func('int linkat(int, const char *, int, const char *, int)');
    linkAt = Object.assign((...args: Parameters<LinkAt>) => call(...args) as number, { errno: () => koffi.errno() });
  } catch {
    linkAt = null;
  }
  return linkAt;
}

/**
 * Opens an unnamed file in `directory` for writing, or returns undefined where the file system or
 * platform cannot (then callers fall back to a named temporary file).
 */
export async function openAnonymousFile(directory: string, mode = 0o644): Promise<FileHandle | undefined> {
  if (process.platform !== 'linux' || (await loadLinkAt()) === null) return undefined;
  try {
    return await open(directory, O_TMPFILE | constants.O_WRONLY, mode);
  } catch {
    // EOPNOTSUPP (file systems without O_TMPFILE), EISDIR (kernels before 3.11), ENOENT/EACCES:
    // the named fallback reports real errors with the right wording.
    return undefined;
  }
}

/** Gives the unnamed file open as `handle` the name `path`; fails with EEXIST when `path` exists. */
export async function linkAnonymousFile(handle: FileHandle, path: string): Promise<void> {
  const link = (await loadLinkAt())!;
  if (link(AT_FDCWD, `/proc/self/fd/${handle.fd}`, AT_FDCWD, path, AT_SYMLINK_FOLLOW) !== 0) {
    const errno = link.errno();
    const code = Object.entries(osConstants.errno).find(([, value]) => value === errno)?.[0] ?? 'EIO';
    throw Object.assign(new Error(`${code}: linkat '${path}'`), { code, errno: -errno, syscall: 'linkat', path });
  }
}
