/**
 * How well user stacks were walked, per binary: of the samples whose leaf is in a binary, how many
 * were walked by unwind tables, how many by frame pointers alone (bpf_get_stackid: the process's
 * tables were not loaded yet, or `--unwind fp`), and how many stopped before the outermost frame,
 * with where they stopped and what would fix it. Carried in the profile's metadata and printed by
 * `record`.
 */
import { basename } from 'node:path';
import { findMapping, readUnwindMarker, type Mapping, type ProcessSnapshot } from '../profile/raw.js';
import { STOP_NAMES } from '../unwind/walker.js';

export interface BinaryStackQuality {
  readonly module: string;
  readonly samples: number;
  /** Walked by unwind tables to the outermost frame (frame-pointer steps through JIT code included). */
  readonly complete: number;
  /** Walked by frame pointers only. */
  readonly framePointers: number;
  /** Stopped early, by reason (src/unwind/walker.ts STOP_NAMES). */
  readonly stopped: Readonly<Record<string, number>>;
  /** Where stopped walks ended (the last frame's module), most first. */
  readonly stoppedIn: readonly string[];
  /** The same, by reason. */
  readonly stoppedInByReason?: Readonly<Record<string, readonly string[]>>;
}

export interface StackQuality {
  readonly binaries: readonly BinaryStackQuality[];
  readonly samples: number;
  readonly complete: number;
  readonly framePointers: number;
  readonly stopped: number;
}

interface Counts {
  samples: number;
  complete: number;
  framePointers: number;
  stopped: Record<string, number>;
  stoppedIn: Map<string, number>;
  stoppedInByReason: Map<string, Map<string, number>>;
}

const moduleOfMapping = (mapping: Mapping): string => (mapping.path.startsWith('/') ? basename(mapping.path.replace(/ \(deleted\)$/, '')) : mapping.path || '[anon]');

const mostFirst = (counts: ReadonlyMap<string, number>): string[] => [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([m]) => m);

export class StackQualityCounter {
  private readonly byModule = new Map<string, Counts>();
  private readonly sorted = new Map<number, readonly Mapping[]>();
  /** Module names by mapping: made once per mapping, not once per sample. */
  private readonly modules = new Map<Mapping, string>();

  constructor(private readonly processes: ReadonlyMap<number, ProcessSnapshot>) {}

  private mappings(pid: number): readonly Mapping[] | undefined {
    let sorted = this.sorted.get(pid);
    if (sorted === undefined) {
      const snapshot = this.processes.get(pid);
      if (!snapshot) return undefined;
      sorted = [...snapshot.mappings].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      this.sorted.set(pid, sorted);
    }
    return sorted;
  }

  private moduleOf(mappings: readonly Mapping[] | undefined, address: bigint): string {
    const mapping = mappings && findMapping(mappings, address);
    if (!mapping) return '[unknown]';
    let module = this.modules.get(mapping);
    if (module === undefined) this.modules.set(mapping, (module = moduleOfMapping(mapping)));
    return module;
  }

  add(pid: number, userStack: readonly bigint[], weight: number): void {
    if (userStack.length === 0) return;
    const marker = readUnwindMarker(userStack[userStack.length - 1]!);
    const depth = marker ? userStack.length - 1 : userStack.length;
    if (depth === 0) return;
    const mappings = this.mappings(pid);
    const module = this.moduleOf(mappings, userStack[0]!);
    let counts = this.byModule.get(module);
    if (!counts) this.byModule.set(module, (counts = { samples: 0, complete: 0, framePointers: 0, stopped: {}, stoppedIn: new Map(), stoppedInByReason: new Map() }));
    counts.samples += weight;
    if (!marker) counts.framePointers += weight;
    else if (marker.stop === 0) counts.complete += weight;
    else {
      const reason = STOP_NAMES[marker.stop] ?? `stop-${marker.stop}`;
      counts.stopped[reason] = (counts.stopped[reason] ?? 0) + weight;
      const last = this.moduleOf(mappings, userStack[depth - 1]!);
      counts.stoppedIn.set(last, (counts.stoppedIn.get(last) ?? 0) + weight);
      let byReason = counts.stoppedInByReason.get(reason);
      if (!byReason) counts.stoppedInByReason.set(reason, (byReason = new Map()));
      byReason.set(last, (byReason.get(last) ?? 0) + weight);
    }
  }

  finish(): StackQuality {
    const binaries = [...this.byModule.entries()]
      .map(([module, c]): BinaryStackQuality => ({
        module,
        samples: c.samples,
        complete: c.complete,
        framePointers: c.framePointers,
        stopped: c.stopped,
        stoppedIn: mostFirst(c.stoppedIn),
        stoppedInByReason: Object.fromEntries([...c.stoppedInByReason].map(([reason, modules]) => [reason, mostFirst(modules)])),
      }))
      .sort((a, b) => b.samples - a.samples || (a.module < b.module ? -1 : 1));
    const sum = (f: (b: BinaryStackQuality) => number): number => binaries.reduce((n, b) => n + f(b), 0);
    return {
      binaries,
      samples: sum((b) => b.samples),
      complete: sum((b) => b.complete),
      framePointers: sum((b) => b.framePointers),
      stopped: sum((b) => Object.values(b.stopped).reduce((n, v) => n + v, 0)),
    };
  }
}

const percent = (part: number, whole: number): string => `${whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10} %`;

/**
 * What to do about the walks that stopped early in a binary, for its most frequent reason. A walk
 * stops without unwind information both in a binary the loader placed no rows for (`withoutTables`:
 * by file name, why) and in one whose tables were not in the kernel yet (a process sampled in its
 * first moments, a library it had just loaded): only the first is helped by the user.
 */
function advice(b: BinaryStackQuality, withoutTables: ReadonlyMap<string, string>): string {
  const [reason] = Object.entries(b.stopped).sort((x, y) => y[1] - x[1])[0] ?? [];
  const where = b.stoppedInByReason?.[reason ?? '']?.[0] ?? b.stoppedIn[0] ?? 'the binary';
  switch (reason) {
    case 'no-unwind-info':
      if (where.startsWith('[')) return `code in ${where} has neither unwind tables nor frame pointers (JIT code: run it with frame pointers, e.g. node --perf-basic-prof keeps V8's)`;
      switch (withoutTables.get(where)) {
        case 'no-unwind-info':
          return `${where} has no unwind information: install its -dbgsym package (its .debug_frame) or build it with -fno-omit-frame-pointer`;
        case 'row-space-full':
          return `${where}'s tables did not fit in the kernel's row space: raise --unwind-table-rows`;
        case 'too-many-rows':
          return `${where} has more unwind rows than the walker can search: build it with -fno-omit-frame-pointer`;
        case 'unreadable':
          return `${where} could not be read to build its tables (deleted, or in a namespace we cannot enter)`;
      }
      return `${where}'s tables were not in the kernel yet (a process or library sampled in its first moments)`;
    case 'depth-limit':
      return 'deeper than 127 frames (the kernel limit)';
    case 'read-fault':
      return 'stack memory not resident or not a stack (swapped out, or a corrupt frame)';
    default:
      return `${where} uses unwind rules the walker does not follow (hand-written assembly)`;
  }
}

/**
 * Lines for the terminal: the binaries with the most samples, and every one where walks stopped
 * early. `withoutTables`: the binaries the recording placed no unwind rows for, by path, and why.
 */
export function stackQualityLines(quality: StackQuality, withoutTables: ReadonlyMap<string, string> = new Map(), top = 8): string[] {
  const names = new Map([...withoutTables].map(([path, why]) => [basename(path.replace(/ \(deleted\)$/, '')), why]));
  if (quality.samples === 0) return [];
  const lines = [`user stacks: ${percent(quality.complete, quality.samples)} walked by unwind tables to the outermost frame, ${percent(quality.framePointers, quality.samples)} by frame pointers only, ${percent(quality.stopped, quality.samples)} stopped early`];
  const shown = quality.binaries.filter((b, i) => i < top || Object.keys(b.stopped).length > 0).slice(0, top * 2);
  for (const b of shown) {
    const stopped = Object.values(b.stopped).reduce((n, v) => n + v, 0);
    let line = `${b.module}: ${b.samples} samples, ${percent(b.complete, b.samples)} tables, ${percent(b.framePointers, b.samples)} frame pointers, ${percent(stopped, b.samples)} stopped early`;
    if (stopped > 0) line += ` (${Object.entries(b.stopped).map(([r, n]) => `${r} ${n}`).join(', ')}): ${advice(b, names)}`;
    lines.push(line);
  }
  return lines;
}
