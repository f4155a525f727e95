/**
 * A live BPF recording: the loaded object, its perf-event and tracepoint links, and the ring
 * buffer of process announcements. It holds kernel resources, so every path out must end in
 * `close()` (idempotent).
 *
 * Samples land in one of two sets of maps (bpf/profile.bpf.c). `harvest()` switches the program to
 * the other set, waits until nothing can write the old one, reads it and empties it, so a long
 * recording never runs out of stack-map space and nothing is read while it moves.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProfileError } from '../errors.js';
import { unwindMarker, type AnnouncedIdentity } from '../profile/raw.js';
import type { UnwindMappingEntry } from '../unwind/loader.js';
import { encodeProcessUnwind, writeArrayEntries } from './unwind-maps.js';
import { CONFIG, CONTROL, COUNTERS, FALLBACK_STACK_ID, MAPS, MAX_STACK_DEPTH, PROGRAMS, SAMPLE_KEY, SAMPLE_SETS, SEEN_EVENT, SEEN_REASON, TASK_COMM_LEN, UNWIND_ROW, USER_STACK, type CounterName } from './abi.js';
import { loadLibBpf, type LibBpf, type Pointer } from './libbpf.js';
import { NO_STACK, packBytes, type PackedStack } from './packed-stack.js';
import { onlineCpus, openCpuClock } from './perf.js';

export const BPF_OBJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bpf', 'profile.bpf.o');

export interface SessionOptions {
  readonly frequency: number;
  /** CPUs to sample; default every online CPU. */
  readonly cpus?: readonly number[];
  /** Only these processes (tgids); empty = all. */
  readonly pids?: readonly number[];
  /** Filter by process even when `pids` is empty (processes are added later with addTarget). */
  readonly filterByPid?: boolean;
  /** Children forked by a target become targets. */
  readonly followForks?: boolean;
  readonly tid?: number;
  readonly includeIdle: boolean;
  readonly userStacks: boolean;
  readonly kernelStacks: boolean;
  /** Entries of each set's stack map (plus a quarter of it in its fallback map). */
  readonly stackStorageSize: number;
  /** Entries of each set's counts hash. */
  readonly countsSize: number;
  /** Walk user stacks with the unwind tables loaded by `setProcessUnwind` (frame pointers elsewhere). */
  readonly unwindTables?: boolean;
  /** Rows the `unwind_rows` array holds, for every binary's table together (12 bytes each). */
  readonly unwindRows?: number;
  /** The compiled BPF object; default bpf/profile.bpf.o of this package. */
  readonly objectPath?: string;
}

/**
 * One counts entry of a harvested set, its stacks read: packed (src/record/packed-stack.ts), leaf
 * first, empty when not captured.
 */
export interface HarvestedCount {
  readonly tgid: number;
  readonly pid: number;
  /** When the process started (ns since boot): tgid and start name one process, a reused pid's another. */
  readonly start: number;
  readonly comm: string;
  readonly kernelStack: PackedStack;
  readonly userStack: PackedStack;
  readonly count: number;
}

interface SampleSetFds {
  readonly stacks: number;
  readonly fallbackStacks: number;
  readonly userStacks: number;
  readonly counts: number;
}


export interface SeenEvent {
  readonly tgid: number;
  readonly pid: number;
  /** As HarvestedCount.start. */
  readonly start: number;
  readonly comm: string;
  /** Set when a table walk met this pc outside the process's mappings with tables (a library loaded after its capture, JIT code). */
  readonly unmappedPc?: bigint;
  /** A new process's identity (not with `unmappedPc`): what its capture need not read from /proc. */
  readonly identity?: AnnouncedIdentity;
}

/** A u64 of nanoseconds as a number: exact below 2^53 ns (104 days of uptime), always the same for the same bits. */
const u64 = (view: DataView, at: number): number => view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;

const BPF_NOEXIST = 1n;
const ENOENT = 2;
/** Keys read per bpf_map_lookup_and_delete_batch call. */
const BATCH = 4096;
/** Stack-map syscalls between two turns of the event loop while draining a set. */
const YIELD_EVERY = 256;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function decodeComm(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1');
}

export class RecordingSession {
  private readonly lib: LibBpf;
  private obj: Pointer = null;
  private rb: Pointer = null;
  private unwatch: (() => void) | undefined;
  private sampling: Pointer[] = [];
  private tracing: Pointer[] = [];
  private perfFds: number[] = [];
  private readonly fds: Record<'counters' | 'targets' | 'seen' | 'control' | 'grace' | 'graceInner' | 'unwindRows' | 'unwindBuckets' | 'processUnwind', number> = {
    counters: -1,
    targets: -1,
    seen: -1,
    control: -1,
    grace: -1,
    graceInner: -1,
    unwindRows: -1,
    unwindBuckets: -1,
    processUnwind: -1,
  };
  /** Rows `unwind_rows` holds. */
  unwindRowCapacity = 0;
  /** Entries `unwind_buckets` holds. */
  unwindBucketCapacity = 0;
  /** Instructions the verifier processed for the sampling program (its complexity; undefined when the kernel does not say). */
  verifiedInstructions: number | undefined;
  private sets: SampleSetFds[] = [];
  private active = 0;
  private closed = false;

  private constructor(lib: LibBpf) {
    this.lib = lib;
  }

  /** Loads, configures and attaches; on any failure releases what it took and throws. */
  static open(options: SessionOptions, onSeen: (event: SeenEvent) => void): RecordingSession {
    const session = new RecordingSession(loadLibBpf());
    try {
      session.start(options, onSeen);
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  private fail(what: string, code: number): never {
    const errno = Math.abs(code) || this.lib.errno();
    const log = this.lib.takeLog().filter((l) => l.length > 0);
    const hint = errno === 1 || errno === 13 ? '; run as root (or with CAP_BPF and CAP_PERFMON)' : '';
    const detail = log.length > 0 ? ` (${log[log.length - 1]})` : '';
    throw new ProfileError(`${what} failed: errno ${errno}${hint}${detail}`, { exitCode: 1 });
  }

  private start(options: SessionOptions, onSeen: (event: SeenEvent) => void): void {
    const lib = this.lib;
    const object = readFileSync(options.objectPath ?? BPF_OBJECT);
    this.obj = lib.objectOpenMem(object);
    if (!this.obj) this.fail('opening the BPF object', 0);

    const map = (name: string): Pointer => lib.findMap(this.obj, name) ?? this.fail(`finding map ${name}`, ENOENT);
    const prog = (name: string): Pointer => lib.findProgram(this.obj, name) ?? this.fail(`finding program ${name}`, ENOENT);
    for (const set of SAMPLE_SETS) {
      lib.mapSetMaxEntries(map(set.stacks), options.stackStorageSize);
      lib.mapSetMaxEntries(map(set.fallbackStacks), Math.max(1, Math.floor(options.stackStorageSize / 4)));
      // Stacks walked by tables: only the processes with tables use it, and a harvest comes before
      // the stack maps are an eighth full, so half their size is room to spare; unused without tables.
      lib.mapSetMaxEntries(map(set.userStacks), options.unwindTables ? Math.max(1, Math.floor(options.stackStorageSize / 2)) : 1);
      lib.mapSetMaxEntries(map(set.counts), options.countsSize);
    }
    this.unwindRowCapacity = options.unwindTables ? Math.max(1, options.unwindRows ?? 1) : 1;
    lib.mapSetMaxEntries(map(MAPS.unwindRows), this.unwindRowCapacity);
    // A binary's index has at most rows / 2 + 2 entries (src/unwind/rows.ts buildRowIndex); the
    // slack is for the + 2 of each of a few thousand binaries.
    this.unwindBucketCapacity = options.unwindTables ? Math.ceil(this.unwindRowCapacity / 2) + 8192 : 1;
    lib.mapSetMaxEntries(map(MAPS.unwindBuckets), this.unwindBucketCapacity);

    const rodata = lib.mapInitialValue(map(MAPS.rodata));
    if (!rodata || rodata.length < CONFIG.size) this.fail('reading .rodata of the BPF object', 22);
    const config = new DataView(rodata.buffer, rodata.byteOffset, CONFIG.size);
    const filter = (options.pids?.length ?? 0) > 0 || options.filterByPid === true;
    config.setUint32(CONFIG.tid, options.tid ?? 0, true);
    config.setUint8(CONFIG.filter_tgids, filter ? 1 : 0);
    config.setUint8(CONFIG.follow_forks, options.followForks ? 1 : 0);
    config.setUint8(CONFIG.include_idle, options.includeIdle ? 1 : 0);
    config.setUint8(CONFIG.user_stacks, options.userStacks ? 1 : 0);
    config.setUint8(CONFIG.kernel_stacks, options.kernelStacks ? 1 : 0);
    config.setUint8(CONFIG.unwind_tables, options.unwindTables ? 1 : 0);
    // Following forks needs CO-RE (kernel BTF); leave it out otherwise so the rest loads anywhere.
    const fork = prog(PROGRAMS.fork);
    if (!options.followForks) lib.programSetAutoload(fork, false);

    const loaded = lib.objectLoad(this.obj);
    if (loaded < 0) this.fail('loading the BPF program', loaded);

    this.sets = SAMPLE_SETS.map((set) => ({
      stacks: lib.mapFd(map(set.stacks)),
      fallbackStacks: lib.mapFd(map(set.fallbackStacks)),
      userStacks: lib.mapFd(map(set.userStacks)),
      counts: lib.mapFd(map(set.counts)),
    }));
    this.fds.seen = lib.mapFd(map(MAPS.seen));
    this.fds.control = lib.mapFd(map(MAPS.bss));
    this.fds.grace = lib.mapFd(map(MAPS.grace));
    this.fds.graceInner = lib.mapFd(map(MAPS.graceInner));
    this.fds.counters = lib.mapFd(map(MAPS.counters));
    this.fds.targets = lib.mapFd(map(MAPS.targets));
    this.fds.unwindRows = lib.mapFd(map(MAPS.unwindRows));
    this.fds.unwindBuckets = lib.mapFd(map(MAPS.unwindBuckets));
    this.fds.processUnwind = lib.mapFd(map(MAPS.processUnwind));
    for (const pid of options.pids ?? []) this.addTarget(pid);

    const events = lib.mapFd(map(MAPS.events));
    this.rb = lib.ringBufferNew(events, (data) => {
      if (data.length < SEEN_EVENT.size) return;
      const unmapped = data.readUInt32LE(SEEN_EVENT.reason) === SEEN_REASON.UNMAPPED_PC;
      onSeen({
        tgid: data.readUInt32LE(SEEN_EVENT.tgid),
        pid: data.readUInt32LE(SEEN_EVENT.pid),
        start: u64(new DataView(data.buffer, data.byteOffset, data.length), SEEN_EVENT.start_time),
        comm: decodeComm(data.subarray(SEEN_EVENT.comm, SEEN_EVENT.comm + TASK_COMM_LEN)),
        unmappedPc: unmapped ? data.readBigUInt64LE(SEEN_EVENT.pc) : undefined,
        identity: unmapped
          ? undefined
          : { uid: data.readUInt32LE(SEEN_EVENT.uid), pidNsLevel: data.readUInt32LE(SEEN_EVENT.pid_ns_level), cgroupKey: data.readBigUInt64LE(SEEN_EVENT.cgroup_key) },
      });
    });
    if (!this.rb) this.fail('creating the ring buffer', 0);
    // Event-driven: no timer wakes this process while no new process shows up.
    this.unwatch = lib.ringBufferWatch(events, () => this.poll());

    const exec = lib.attach(prog(PROGRAMS.exec));
    if (!exec) this.fail('attaching to sched_process_exec', 0);
    this.tracing.push(exec);
    if (options.followForks) {
      const link = lib.attach(fork);
      if (!link) this.fail('attaching to sched_process_fork', 0);
      this.tracing.push(link);
    }

    const sample = prog(PROGRAMS.sample);
    this.verifiedInstructions = lib.verifiedInstructions(sample);
    for (const cpu of options.cpus ?? onlineCpus()) {
      const fd = openCpuClock(lib, cpu, options.frequency);
      this.perfFds.push(fd);
      const link = lib.attachPerfEvent(sample, fd);
      if (!link) this.fail(`attaching to the perf event on CPU ${cpu}`, 0);
      // The link owns the perf fd from here: bpf_link__destroy closes it.
      this.perfFds.pop();
      this.sampling.push(link);
    }
  }

  /** Adds a process to the `targets` set (only meaningful when filtering by pid). */
  addTarget(tgid: number): void {
    const key = u32Key(tgid);
    this.lib.updateElem(this.fds.targets, key, new Uint8Array([1]), Number(BPF_NOEXIST));
  }

  /** Forgets that `tgid` was announced, so a new process that reuses its pid is announced again. */
  forget(tgid: number): void {
    const key = u32Key(tgid);
    this.lib.deleteElem(this.fds.seen, key);
  }

  /** Writes `count` rows (UNWIND_ROW.size bytes each) into `unwind_rows` from index `first`. */
  writeUnwindRows(first: number, rows: Uint8Array, count: number): void {
    if (first + count > this.unwindRowCapacity) throw new ProfileError(`unwind rows ${first}+${count} beyond the ${this.unwindRowCapacity} allocated`);
    const rc = writeArrayEntries(this.lib, this.fds.unwindRows, first, rows, UNWIND_ROW.size, count);
    if (rc !== 0) this.fail('writing unwind rows', rc);
  }

  /** Writes a binary's row index (u32 entries) into `unwind_buckets` from index `first`. */
  writeUnwindBuckets(first: number, starts: Uint32Array): void {
    if (first + starts.length > this.unwindBucketCapacity) throw new ProfileError(`unwind buckets ${first}+${starts.length} beyond the ${this.unwindBucketCapacity} allocated`);
    const rc = writeArrayEntries(this.lib, this.fds.unwindBuckets, first, new Uint8Array(starts.buffer, starts.byteOffset, starts.byteLength), 4, starts.length);
    if (rc !== 0) this.fail('writing the unwind row index', rc);
  }

  /** Tells the walker which of `tgid`'s mappings have rows (at most UNWIND_MAX_MAPPINGS, sorted by start). */
  setProcessUnwind(tgid: number, startTime: number, mappings: readonly UnwindMappingEntry[], remapAfterNs: bigint): boolean {
    const value = encodeProcessUnwind(startTime, mappings, remapAfterNs);
    const key = u32Key(tgid);
    // Fails only when `process_unwind` is full (or memory is short): the caller makes room or walks it with frame pointers.
    return this.lib.updateElem(this.fds.processUnwind, key, value, 0) === 0;
  }

  /** Forgets `tgid`'s unwind mappings (it exited, or its pid went to another process). */
  deleteProcessUnwind(tgid: number): void {
    const key = u32Key(tgid);
    this.lib.deleteElem(this.fds.processUnwind, key);
  }

  /** Delivers pending process announcements to `onSeen`; never blocks. */
  poll(): number {
    return this.rb && !this.closed ? this.lib.ringBufferConsume(this.rb) : 0;
  }

  /** Detaches the sampling events (the counts stop moving); the maps stay readable. */
  stop(): void {
    for (const link of this.sampling.splice(0)) this.lib.linkDestroy(link);
  }

  /** The error and accounting counters, summed over CPUs (`counters` is a per-CPU array). */
  counters(): Record<CounterName, number> {
    const result = {} as Record<CounterName, number>;
    const cpus = this.lib.numPossibleCpus();
    if (cpus <= 0) throw new ProfileError(`libbpf cannot count the possible CPUs (${cpus})`);
    const key = new Uint8Array(4);
    const value = new Uint8Array(8 * cpus);
    const view = new DataView(value.buffer);
    COUNTERS.forEach((name, index) => {
      new DataView(key.buffer).setUint32(0, index, true);
      let sum = 0n;
      if (this.lib.lookupElem(this.fds.counters, key, value) === 0) for (let cpu = 0; cpu < cpus; cpu++) sum += view.getBigUint64(8 * cpu, true);
      result[name] = Number(sum);
    });
    return result;
  }

  /**
   * Switches the program to the other set and returns the old set's samples, leaving that set
   * empty. After `stop()`, `both` drains the two sets (the last one to fill included). The wait
   * for running programs happens on a worker thread and the reading yields to the event loop
   * every few hundred stacks: a process that lives 3 ms must still be captured meanwhile. One
   * harvest at a time.
   */
  async harvest(both = false): Promise<HarvestedCount[]> {
    const old = this.active;
    this.active = 1 - old;
    const control = new Uint8Array(CONTROL.size);
    new DataView(control.buffer).setUint32(CONTROL.active_set, this.active, true);
    if (this.lib.updateElem(this.fds.control, new Uint8Array(4), control, 0) !== 0) this.fail('switching the sample set', 0);
    await this.waitForPrograms();
    const result: HarvestedCount[] = [];
    await this.drain(this.sets[old]!, result);
    if (both) await this.drain(this.sets[this.active]!, result);
    return result;
  }

  /**
   * Resolves once every program run that started before the call has ended: re-storing the inner
   * map of `grace` makes the kernel wait for an RCU grace period (bpf/profile.bpf.c).
   */
  private async waitForPrograms(): Promise<void> {
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, this.fds.graceInner, true);
    const rc = await this.lib.updateElemAsync(this.fds.grace, new Uint8Array(4), value, 0);
    if (rc !== 0) this.fail('waiting for running BPF programs', rc);
  }

  /** Reads and deletes every counts entry of a quiescent set, then every stack it holds. */
  private async drain(set: SampleSetFds, into: HarvestedCount[]): Promise<void> {
    const keys = new Uint8Array(BATCH * SAMPLE_KEY.size);
    const values = new Uint8Array(BATCH * 8);
    const keyView = new DataView(keys.buffer);
    const valueView = new DataView(values.buffer);
    const counted: { tgid: number; pid: number; start: number; comm: string; kernelStackId: number; userStackId: number; userHash: string | undefined; count: number }[] = [];
    // For hash maps the batch token is a bucket index (u32); 8 bytes leaves room either way.
    let inBatch: Uint8Array | null = null;
    const outBatch = new Uint8Array(8);
    const count = new Uint32Array(1);
    for (;;) {
      count[0] = BATCH;
      const rc = this.lib.lookupAndDeleteBatch(set.counts, inBatch, outBatch, keys, values, count);
      const errno = rc < 0 ? -rc : 0;
      if (rc < 0 && errno !== ENOENT) this.fail('reading the counts map', rc);
      for (let i = 0; i < count[0]!; i++) {
        const at = i * SAMPLE_KEY.size;
        counted.push({
          tgid: keyView.getUint32(at + SAMPLE_KEY.tgid, true),
          pid: keyView.getUint32(at + SAMPLE_KEY.pid, true),
          start: u64(keyView, at + SAMPLE_KEY.start_time),
          comm: decodeComm(keys.subarray(at + SAMPLE_KEY.comm, at + SAMPLE_KEY.comm + TASK_COMM_LEN)),
          kernelStackId: keyView.getInt32(at + SAMPLE_KEY.kernel_stack_id, true),
          userStackId: keyView.getInt32(at + SAMPLE_KEY.user_stack_id, true),
          userHash: keyView.getBigUint64(at + SAMPLE_KEY.user_stack_hash, true) === 0n ? undefined : keys.subarray(at + SAMPLE_KEY.user_stack_hash, at + SAMPLE_KEY.user_stack_hash + 8).toString(),
          count: Number(valueView.getBigUint64(i * 8, true)),
        });
      }
      if (errno === ENOENT) break;
      inBatch = Uint8Array.from(outBatch);
    }
    const stacks = new Map<number, PackedStack>([[-1, NO_STACK]]);
    for (const entry of counted) {
      for (const stackId of [entry.kernelStackId, entry.userStackId]) {
        if (stacks.has(stackId)) continue;
        stacks.set(stackId, this.readStack(set, stackId));
        if (stacks.size % YIELD_EVERY === 0) await yieldToEventLoop();
      }
    }
    const walked = await this.drainUserStacks(set);
    for (const entry of counted) {
      const userStack = entry.userHash !== undefined ? (walked.get(entry.userHash) ?? NO_STACK) : (stacks.get(entry.userStackId) ?? NO_STACK);
      into.push({ tgid: entry.tgid, pid: entry.pid, start: entry.start, comm: entry.comm, kernelStack: stacks.get(entry.kernelStackId) ?? NO_STACK, userStack, count: entry.count });
    }
    const id = new Uint8Array(4);
    const idView = new DataView(id.buffer);
    let deleted = 0;
    for (const stackId of stacks.keys()) {
      if (stackId < 0) continue;
      idView.setUint32(0, stackId & ~FALLBACK_STACK_ID, true);
      this.lib.deleteElem((stackId & FALLBACK_STACK_ID) !== 0 ? set.fallbackStacks : set.stacks, id);
      if (++deleted % YIELD_EVERY === 0) await yieldToEventLoop();
    }
    // Stacks no counts entry refers to: stored for a sample that was then dropped.
    for (const fd of [set.stacks, set.fallbackStacks]) while (this.lib.getNextKey(fd, null, id) === 0) this.lib.deleteElem(fd, id);
  }

  /**
   * Reads and deletes every stack the walker stored in a quiescent set's `user_stacks_N`, by key
   * (its 8 bytes as the string `drain` makes of them), packed with the unwind marker at the root end.
   */
  private async drainUserStacks(set: SampleSetFds): Promise<Map<string, PackedStack>> {
    const result = new Map<string, PackedStack>();
    const batch = 256;
    const keys = new Uint8Array(batch * 8);
    const values = new Uint8Array(batch * USER_STACK.size);
    const view = new DataView(values.buffer);
    let inBatch: Uint8Array | null = null;
    const outBatch = new Uint8Array(8);
    const count = new Uint32Array(1);
    for (;;) {
      count[0] = batch;
      const rc = this.lib.lookupAndDeleteBatch(set.userStacks, inBatch, outBatch, keys, values, count);
      const errno = rc < 0 ? -rc : 0;
      if (rc < 0 && errno !== ENOENT) this.fail('reading the user stacks map', rc);
      for (let i = 0; i < count[0]!; i++) {
        const at = i * USER_STACK.size;
        const depth = Math.min(MAX_STACK_DEPTH, view.getUint32(at + USER_STACK.depth, true));
        const marker = Buffer.alloc(8);
        marker.writeBigUInt64LE(unwindMarker(values[at + USER_STACK.stop]!, values[at + USER_STACK.method]!));
        const frames = Buffer.from(values.buffer, values.byteOffset + at + USER_STACK.pcs, depth * 8);
        result.set(keys.subarray(i * 8, i * 8 + 8).toString(), Buffer.concat([frames, marker]).toString('latin1'));
      }
      if (errno === ENOENT) break;
      inBatch = Uint8Array.from(outBatch);
      await yieldToEventLoop();
    }
    return result;
  }

  private readonly stackValue = new Uint8Array(MAX_STACK_DEPTH * 8);
  private readonly stackKey = new Uint8Array(4);

  /**
   * The addresses of stack `id` of a set, leaf first, packed. The stack-trace map has no batch look-up
   * (ENOTSUPP), so this is one syscall per id.
   */
  private readStack(set: SampleSetFds, id: number): PackedStack {
    const fallback = (id & FALLBACK_STACK_ID) !== 0;
    new DataView(this.stackKey.buffer).setUint32(0, id & ~FALLBACK_STACK_ID, true);
    if (this.lib.lookupElem(fallback ? set.fallbackStacks : set.stacks, this.stackKey, this.stackValue) !== 0) return NO_STACK;
    const view = new DataView(this.stackValue.buffer);
    let depth = 0;
    while (depth < MAX_STACK_DEPTH && view.getBigUint64(depth * 8, true) !== 0n) depth++;
    return packBytes(this.stackValue, depth);
  }

  /** Releases every kernel object; safe to call more than once and after a failed open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    for (const link of this.tracing.splice(0)) this.lib.linkDestroy(link);
    for (const fd of this.perfFds.splice(0)) this.lib.close(fd);
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.rb) this.lib.ringBufferFree(this.rb);
    this.rb = null;
    if (this.obj) this.lib.objectClose(this.obj);
    this.obj = null;
  }
}

/** A u32 map key, little-endian. */
function u32Key(value: number): Uint8Array {
  return new Uint8Array(new Uint32Array([value]).buffer);
}
