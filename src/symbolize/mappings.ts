/** What the symbolizer reads off process snapshots' memory maps. */
import { byStart, findMapping, readUnwindMarker, type Mapping, type ProcessSnapshot } from '../profile/raw.js';

/** The inodes of the files the processes map executable. */
export function mappedInodes(snapshots: ReadonlyMap<number, ProcessSnapshot>): Set<number> {
  const inodes = new Set<number>();
  const seen = new Set<readonly Mapping[]>();
  for (const snapshot of snapshots.values()) {
    // Snapshots that share their mappings (one binary's short processes) are looked at once.
    if (seen.has(snapshot.mappings)) continue;
    seen.add(snapshot.mappings);
    for (const m of snapshot.mappings) if (m.perms[2] === 'x' && m.inode !== 0) inodes.add(m.inode);
  }
  return inodes;
}

/**
 * The snapshots of the processes with a sampled user address outside every file's executable
 * mapping: the only ones a perf map can name anything for (JIT code), so the only ones whose perf
 * map a lasting symbolizer reads again each interval.
 */
export function jitSampledSnapshots(samples: Iterable<{ readonly pid: number; readonly userStack: readonly bigint[] }>, snapshots: ReadonlyMap<number, ProcessSnapshot>): Map<number, ProcessSnapshot> {
  const found = new Map<number, ProcessSnapshot>();
  const fileCode = new Map<number, Mapping[]>();
  for (const sample of samples) {
    if (found.has(sample.pid)) continue;
    const snapshot = snapshots.get(sample.pid);
    if (!snapshot) continue;
    let mappings = fileCode.get(sample.pid);
    if (!mappings) fileCode.set(sample.pid, (mappings = executableMappings(snapshot).filter((m) => (m.inode !== 0 && m.path.startsWith('/')) || m.path === '[vdso]')));
    for (const address of sample.userStack) {
      // The walker's marker (its outcome, past the outermost frame) is no address.
      if (findMapping(mappings, address) || readUnwindMarker(address) !== undefined) continue;
      found.set(sample.pid, snapshot);
      break;
    }
  }
  return found;
}

export function executableMappings(snapshot: ProcessSnapshot | undefined): Mapping[] {
  if (!snapshot) return [];
  return snapshot.mappings.filter((m) => m.perms[2] === 'x').sort(byStart);
}

/** What /proc/PID/maps appends to the path of a file deleted since it was mapped. */
const DELETED = ' (deleted)';
/** The file a mapping maps, without the ` (deleted)` mark. */
export const mappedPath = (mapping: Mapping): string => (mapping.path.endsWith(DELETED) ? mapping.path.slice(0, -DELETED.length) : mapping.path);
/** A user address as an offset in its mapping's file: user addresses are below 2^47, exact as numbers (no BigInt made per address). */
export const fileOffset = (mapping: Mapping, address: bigint): number => Number(address) - Number(mapping.start) + Number(mapping.offset);
