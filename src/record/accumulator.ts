/**
 * Harvested samples, merged across harvests, with a bound on memory.
 *
 * Every harvest hands over the counts of one sample set; the same (thread, comm, stacks) comes
 * back harvest after harvest and is merged here. On a fork-heavy host that alone grows without
 * end: each short process has its own pid, and ASLR gives it its own user addresses, so nearly
 * every sample is a new entry, and each process keeps a snapshot of its memory map.
 *
 * So once more than `budget` entries or snapshots are held, the processes that have exited are
 * folded: their user addresses are rewritten into one shared address space (file + offset, the
 * only thing the symbolizer needs of an address in a file mapping), their samples merged by
 * comm and stacks without pid and tid, and their snapshots released. What folding gives up is
 * exactly the pid/tid of exited processes, counted in `foldedProcesses`; names stay the same.
 * A process whose frames are not all in files (JIT code, anonymous memory) is never folded.
 */
import { byStart, findMapping, readUnwindMarker, type Mapping, type ProcessSnapshot, type RawSample } from '../profile/raw.js';
import type { HarvestedCount } from './session.js';
import { pack, unpack, type PackedStack } from './packed-stack.js';

/** Pid of folded samples of processes that were never captured: no snapshot, as before folding. */
export const UNCAPTURED_SPACE = -1;
/** Shared address spaces get pids from here down: one per cgroup, so container frames survive. */
const FIRST_SHARED_SPACE = -2;
/** Never a pid nor a space: holds one entry while `addRetired` names it. */
const SCRATCH = Number.MIN_SAFE_INTEGER;
/** Each file gets this much of the shared address space (offsets beyond it are not folded). */
const FILE_SPAN = 1n << 36n;
const SPACE_BASE = 1n << 40n;
/** Where unmapped addresses go: no mapping of a shared space covers it. */
const UNMAPPED = 0n;

interface Entry {
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  readonly kernelStack: PackedStack;
  readonly userStack: PackedStack;
  count: number;
}

/** A distinct stack: one copy of its packed bytes, and a short id for entry keys. */
interface StackRef {
  readonly stack: PackedStack;
  readonly id: number;
}

/** One mapping per distinct file of the folded processes, at SPACE_BASE + index * FILE_SPAN. */
class SharedAddressSpace {
  readonly mappings: Mapping[] = [];
  readonly fds = new Map<string, number>();
  private readonly byFile = new Map<string, number>();
  private readonly snapshots = new Map<string, ProcessSnapshot>();
  /** Spaces of their own, for processes retired (their pid reused) whose frames cannot be shared. */
  private readonly own: ProcessSnapshot[] = [];
  private nextPid = FIRST_SHARED_SPACE;

  /** The shared address of `address` in `mapping`, or undefined when it cannot be shared. */
  relocate(mapping: Mapping, snapshot: ProcessSnapshot, address: bigint): bigint | undefined {
    const vdso = mapping.path === '[vdso]';
    const offset = vdso ? address - mapping.start : address - mapping.start + mapping.offset;
    if (offset < 0n || offset >= FILE_SPAN) return undefined;
    const file = vdso ? `[vdso] ${mapping.end - mapping.start}` : `${mapping.dev} ${mapping.inode} ${mapping.path}`;
    let index = this.byFile.get(file);
    if (index === undefined) {
      if (!vdso) {
        // The symbolizer opens a shared file through the descriptor captured with it: without
        // one (or with the path taken by another file) it would open whatever is at that path now.
        const fd = snapshot.fds?.get(mapping.path);
        if (fd === undefined || (this.fds.has(mapping.path) && this.fds.get(mapping.path) !== fd)) return undefined;
        this.fds.set(mapping.path, fd);
      }
      index = this.mappings.length;
      this.byFile.set(file, index);
      const start = SPACE_BASE + BigInt(index) * FILE_SPAN;
      this.mappings.push({
        start,
        end: vdso ? start + (mapping.end - mapping.start) : start + FILE_SPAN,
        offset: 0n,
        perms: 'r-xp',
        dev: mapping.dev,
        inode: mapping.inode,
        path: mapping.path,
      });
    }
    return SPACE_BASE + BigInt(index) * FILE_SPAN + offset;
  }

  /** The snapshot standing for every folded process of one cgroup (pid FIRST_SHARED_SPACE - k). */
  spaceFor(cgroup: string | undefined): ProcessSnapshot {
    const key = cgroup ?? '';
    let snapshot = this.snapshots.get(key);
    if (snapshot === undefined) {
      // No uid, nsPids or perf map: nothing of a live process is looked up through it.
      snapshot = { pid: this.nextPid--, comm: '[exited processes]', mappings: this.mappings, fds: this.fds, cgroup };
      this.snapshots.set(key, snapshot);
    }
    return snapshot;
  }

  /** A space holding only `snapshot`'s process, under a pid of its own (negative, like the shared ones). */
  ownSpace(snapshot: ProcessSnapshot): ProcessSnapshot {
    // Its perf map is not looked up (that is done by real pid), so JIT frames keep module and offset.
    const space = { ...snapshot, pid: this.nextPid-- };
    this.own.push(space);
    return space;
  }

  all(): Iterable<ProcessSnapshot> {
    return [...this.snapshots.values(), ...this.own];
  }
}


export interface FoldResult {
  /** Processes whose samples were folded and whose snapshots were released. */
  readonly folded: readonly number[];
}

export class SampleAccumulator {
  /** Entries of processes not folded, by process. */
  private readonly byProcess = new Map<number, Map<string, Entry>>();
  private entryCount = 0;
  /** Stacks by content, so equal stacks share one string. */
  private stacks = new Map<PackedStack, StackRef>();
  private nextStackId = 0;
  /** Entries + snapshots at which the next fold is tried (never again right after a fold that left many). */
  private foldAt: number;
  private space = new SharedAddressSpace();
  private foldedCount = 0;

  constructor(
    /** Entries or snapshots held before exited processes are folded. */
    readonly budget = 50_000,
  ) {
    this.foldAt = budget;
  }

  get entries(): number {
    return this.entryCount;
  }

  get foldedProcesses(): number {
    return this.foldedCount;
  }

  add(entry: HarvestedCount): void {
    this.merge(entry.tgid, entry.pid, entry.comm, entry.kernelStack, entry.userStack, entry.count);
  }

  private merge(pid: number, tid: number, comm: string, kernelStack: PackedStack, userStack: PackedStack, count: number): void {
    let entries = this.byProcess.get(pid);
    if (!entries) this.byProcess.set(pid, (entries = new Map()));
    const kernel = this.intern(kernelStack);
    const user = this.intern(userStack);
    const key = `${tid} ${kernel.id} ${user.id} ${comm}`;
    const known = entries.get(key);
    if (known) known.count += count;
    else {
      entries.set(key, { pid, tid, comm, kernelStack: kernel.stack, userStack: user.stack, count });
      this.entryCount++;
    }
  }

  private intern(stack: PackedStack): StackRef {
    let ref = this.stacks.get(stack);
    if (ref === undefined) this.stacks.set(stack, (ref = { stack, id: this.nextStackId++ }));
    return ref;
  }

  /**
   * True when the entries and snapshots held (a snapshot weighs about as much as 25 entries)
   * exceed the budget, and have grown by half since a fold left them above it.
   */
  overBudget(snapshots: number): boolean {
    return this.entryCount + 25 * snapshots > this.foldAt;
  }

  /** Processes with entries not folded yet. */
  processes(): Iterable<number> {
    return this.byProcess.keys();
  }

  /**
   * Folds the samples of `exited` (processes gone before their last samples were harvested) into
   * the shared address spaces, and deletes the snapshots of the folded ones from `snapshots`.
   */
  fold(exited: Iterable<number>, snapshots: Map<number, ProcessSnapshot>): FoldResult {
    const folded: number[] = [];
    for (const pid of exited) {
      if (pid < 0) continue; // a shared space itself
      const entries = this.byProcess.get(pid);
      const snapshot = snapshots.get(pid);
      if (!this.foldEntries(entries, snapshot)) continue;
      this.dropProcess(pid);
      snapshots.delete(pid);
      folded.push(pid);
    }
    this.foldedCount += folded.length;
    if (folded.length > 0) this.dropUnusedStacks();
    const held = this.entryCount + 25 * snapshots.size;
    this.foldAt = Math.max(this.budget, Math.ceil(held * 1.5));
    return { folded };
  }

  /**
   * Takes every entry of `pid` away from it, because a new process now has that pid: folded like
   * an exited process's, or, when a frame cannot be shared, kept under a space of the process's
   * own (`snapshot` with a negative pid). Either way its frames are named through `snapshot`.
   */
  retire(pid: number, snapshot: ProcessSnapshot | undefined): void {
    const entries = this.byProcess.get(pid);
    if (!entries) return;
    this.dropProcess(pid);
    this.foldedCount++;
    if (!this.foldEntries(entries, snapshot)) {
      const space = this.space.ownSpace(snapshot!).pid;
      for (const entry of entries.values()) this.merge(space, space, entry.comm, entry.kernelStack, entry.userStack, entry.count);
    }
  }

  /** A late entry of a process already retired: named through its snapshot, as `retire` does. */
  addRetired(entry: HarvestedCount, snapshot: ProcessSnapshot | undefined): void {
    this.merge(SCRATCH, entry.pid, entry.comm, entry.kernelStack, entry.userStack, entry.count);
    this.retire(SCRATCH, snapshot);
    this.foldedCount--; // counted when the process itself was retired
  }

  private dropProcess(pid: number): void {
    const entries = this.byProcess.get(pid);
    if (!entries) return;
    this.byProcess.delete(pid);
    this.entryCount -= entries.size;
  }

  /** Merges `entries` into the shared space of `snapshot`'s cgroup; false (nothing merged) when a frame cannot be shared. */
  private foldEntries(entries: Map<string, Entry> | undefined, snapshot: ProcessSnapshot | undefined): boolean {
    const relocated = entries ? this.relocateAll(entries, snapshot) : [];
    if (!relocated) return false;
    const space = snapshot ? this.space.spaceFor(snapshot.cgroup).pid : UNCAPTURED_SPACE;
    for (const { entry, userStack } of relocated) this.merge(space, space, entry.comm, entry.kernelStack, pack(userStack), entry.count);
    return true;
  }

  /** Every entry's user stack in the shared space, or undefined when one frame cannot be shared. */
  private relocateAll(entries: Map<string, Entry>, snapshot: ProcessSnapshot | undefined): { entry: Entry; userStack: bigint[] }[] | undefined {
    const sorted = snapshot ? [...snapshot.mappings].sort(byStart) : [];
    // An address in no mapping at all (a frame-pointer walk through code without frame pointers)
    // is `[unknown]` wherever it is, unless a JIT's perf map might name it.
    const jit = [...(snapshot?.fds?.keys() ?? [])].some((path) => /^\/tmp\/perf-\d+\.map$/.test(path));
    const result: { entry: Entry; userStack: bigint[] }[] = [];
    for (const entry of entries.values()) {
      const addresses = unpack(entry.userStack);
      // Never captured: every user frame is `[unknown]` in `[process not captured]` either way.
      if (!snapshot) {
        result.push({ entry, userStack: addresses.map((a) => (readUnwindMarker(a) ? a : 0n)) });
        continue;
      }
      const userStack: bigint[] = [];
      for (const address of addresses) {
        // How the stack was walked is no address: it stays as it is.
        if (readUnwindMarker(address)) {
          userStack.push(address);
          continue;
        }
        const mapping = findMapping(sorted, address);
        if (mapping === undefined && !jit) {
          userStack.push(UNMAPPED);
          continue;
        }
        // Any mapping of a file (a garbage return address may point into its data: named by file
        // offset all the same), or the vDSO; not anonymous memory, whose names carry its address.
        const shareable = mapping !== undefined && (mapping.path === '[vdso]' || (mapping.inode !== 0 && mapping.path.startsWith('/')));
        const shared = shareable ? this.space.relocate(mapping, snapshot, address) : undefined;
        if (shared === undefined) return undefined;
        userStack.push(shared);
      }
      result.push({ entry, userStack });
    }
    return result;
  }

  /** Forgets stacks no entry uses any more (those of folded processes' own addresses). */
  private dropUnusedStacks(): void {
    const used = new Map<PackedStack, StackRef>();
    for (const entries of this.byProcess.values()) {
      for (const entry of entries.values()) {
        for (const stack of [entry.kernelStack, entry.userStack]) if (!used.has(stack)) used.set(stack, this.stacks.get(stack)!);
      }
    }
    this.stacks = used;
  }

  /** The shared address spaces folded samples refer to, to add to the profile's processes. */
  sharedSpaces(): Iterable<ProcessSnapshot> {
    return this.space.all();
  }

  /**
   * Every entry and the shared spaces they refer to, handed over and forgotten: what an interval
   * of a long recording collected. Only entries refer to a shared space, so the next interval
   * starts new ones and a run of hours holds no more than one interval's worth.
   */
  take(): { samples: RawSample[]; spaces: ProcessSnapshot[] } {
    const samples = this.samples();
    const spaces = [...this.space.all()];
    this.byProcess.clear();
    this.entryCount = 0;
    this.stacks = new Map();
    this.space = new SharedAddressSpace();
    this.foldAt = this.budget;
    return { samples, spaces };
  }

  /** Every entry, its stacks unpacked (one array per distinct stack). */
  samples(): RawSample[] {
    const result: RawSample[] = [];
    const unpacked = new Map<PackedStack, readonly bigint[]>();
    const addresses = (stack: PackedStack): readonly bigint[] => {
      let known = unpacked.get(stack);
      if (known === undefined) unpacked.set(stack, (known = unpack(stack)));
      return known;
    };
    for (const entries of this.byProcess.values()) {
      for (const e of entries.values()) result.push({ pid: e.pid, tid: e.tid, comm: e.comm, kernelStack: addresses(e.kernelStack), userStack: addresses(e.userStack), count: e.count });
    }
    return result;
  }
}
