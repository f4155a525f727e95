/** What the symbolizer reads off process snapshots' memory maps. */
import { byStart, type Mapping, type ProcessSnapshot } from '../profile/raw.js';

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

/** The snapshots of the processes that have samples. */
export function sampledSnapshots(samples: Iterable<{ readonly pid: number }>, snapshots: ReadonlyMap<number, ProcessSnapshot>): Map<number, ProcessSnapshot> {
  const sampled = new Map<number, ProcessSnapshot>();
  for (const sample of samples) {
    const snapshot = snapshots.get(sample.pid);
    if (snapshot && !sampled.has(sample.pid)) sampled.set(sample.pid, snapshot);
  }
  return sampled;
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
