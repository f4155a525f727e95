/**
 * The host: the only module that reads /proc and binaries on disk. The recorder calls
 * `captureProcess`; the symbolizer reads through `HOST`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { download } from './download.js';
import type { ProcessSnapshot } from '../profile/raw.js';
import type { ByteSource, SymbolHost } from '../symbolize/source.js';
import { fromDescriptor, openFile, readWhole } from './binary.js';

export { captureProcess, closeCapturedFiles, parseMaps } from './procfs.js';
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

/** `dpkg -S` for many paths in one run; paths no package owns are left out. */
function packageOf(paths: readonly string[]): ReadonlyMap<string, string> {
  const owners = new Map<string, string>();
  if (paths.length === 0) return owners;
  const result = spawnSync('dpkg', ['-S', ...paths], { encoding: 'utf8', timeout: 5000 });
  if (typeof result.stdout !== 'string') return owners;
  for (const line of result.stdout.split('\n')) {
    // `libc6:amd64: /usr/lib/x86_64-linux-gnu/libc.so.6`; diversion lines contain spaces before the colon.
    const m = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
    if (m) owners.set(m[2]!, m[1]!);
  }
  return owners;
}

export const HOST: SymbolHost = {
  kallsyms: () => readWhole('/proc/kallsyms'),
  openMapped,
  openFile,
  packageOf,
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
      writeFileSync(temporary, data);
      renameSync(temporary, path);
    } finally {
      rmSync(temporary, { force: true });
    }
  },
};
