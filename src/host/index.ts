/**
 * The host: the only module that reads /proc and binaries on disk. The recorder calls
 * `captureProcess`; the symbolizer reads through `HOST`.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { download } from './download.js';
import type { Mapping, ProcessSnapshot } from '../profile/raw.js';
import { parseMaps, processStartTicks } from './procfs.js';
import type { ByteSource, SymbolHost } from '../symbolize/source.js';
import { fromDescriptor, openFile, ownVdso, readWhole } from './binary.js';

export { captureProcess, closeCapturedFiles, cpuTimes, parseMaps, processExists } from './procfs.js';
export { openFile } from './binary.js';

function openMapped(pid: number, snapshot: ProcessSnapshot | undefined, path: string): ByteSource | undefined {
  const fd = snapshot?.fds?.get(path);
  if (fd !== undefined) {
    const source = fromDescriptor(fd, path);
    if (source) return source;
  }
  const clean = path.replace(/ \(deleted\)$/, '');
  // A process in another mount namespace sees its own files; its root shows them to us.
  return openFile(`/proc/${pid}/root${clean}`) ?? openFile(clean);
}

/**
 * `dpkg -S` for many paths in one run, asynchronously (it reads every package's file list:
 * 0.1–0.3 s that must not stop the event loop); paths no package owns are left out.
 */
function packageOf(paths: readonly string[]): Promise<ReadonlyMap<string, string>> {
  const owners = new Map<string, string>();
  if (paths.length === 0) return Promise.resolve(owners);
  return new Promise((resolve) => {
    execFile('dpkg', ['-S', ...paths], { encoding: 'utf8', timeout: 5000, maxBuffer: 1 << 24 }, (_error, stdout) => {
      // dpkg exits 1 when some path has no owner; the others are still printed.
      for (const line of (typeof stdout === 'string' ? stdout : '').split('\n')) {
        // `libc6:amd64: /usr/lib/x86_64-linux-gnu/libc.so.6`; diversion lines contain spaces before the colon.
        const m = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
        if (m) owners.set(m[2]!, m[1]!);
      }
      resolve(owners);
    });
  });
}

/** dpkg rewrites its status file on every install and removal. */
function packageDatabaseStamp(): string | undefined {
  try {
    const stat = statSync('/var/lib/dpkg/status');
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

function liveMappings(pid: number, comm: string | undefined, startTicks?: number): readonly Mapping[] | undefined {
  try {
    // A reused PID would name another program's code: the same process started at the same
    // tick, and still runs the same command.
    if (startTicks !== undefined && processStartTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) !== startTicks) return undefined;
    if (comm !== undefined && readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '') !== comm) return undefined;
    return parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return undefined;
  }
}

export const HOST: SymbolHost = {
  kallsyms: () => readWhole('/proc/kallsyms'),
  kallsymsHead: (bytes) => readWhole('/proc/kallsyms', bytes),
  kernelNotes: () => readWhole('/sys/kernel/notes', 1 << 16),
  openMapped,
  openFile,
  packageOf,
  packageDatabaseStamp,
  liveMappings,
  vdso: ownVdso,
  download,
  exists: (path) => existsSync(path),
  readFile: (path) => {
    try {
      return readFileSync(path);
    } catch {
      return undefined;
    }
  },
  writeFileAtomic: (path, data) => {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) writeFileSync(temporary, data);
      else writeParts(temporary, data);
      renameSync(temporary, path);
    } finally {
      rmSync(temporary, { force: true });
    }
  },
};

function writeParts(path: string, parts: Iterable<Uint8Array>): void {
  const fd = openSync(path, 'w');
  try {
    for (const part of parts) {
      for (let done = 0; done < part.length; ) done += writeSync(fd, part, done, part.length - done);
    }
  } finally {
    closeSync(fd);
  }
}
