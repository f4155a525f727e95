/**
 * `record`: runs a BPF recording session until the duration ends, the caller aborts (Ctrl-C,
 * SIGTERM) or the launched command exits, capturing each sampled process while it is alive, and
 * returns a RawProfile (addresses + process snapshots) for the symbolizer.
 */
import { processExists } from '../host/procfs.js';
import { hostname, release } from 'node:os';
import type { DroppedSamples, RunMetadata } from '../profile/model.js';
import type { ProcessSnapshot, RawProfile, RawSample } from '../profile/raw.js';
import { ProfileError } from '../errors.js';
import { COUNTERS, DROP_REASONS, type CounterName } from './abi.js';
import { launchCommand, type LaunchedCommand } from './launch.js';
import { SampleAccumulator } from './accumulator.js';
import { DEFAULTS as RECORD_DEFAULTS } from './defaults.js';
import { ProcessGenerations, startTicksOf } from './generations.js';
import { unpack } from './packed-stack.js';
import { collectGarbage } from './gc.js';
import { RecordingSession, type HarvestedCount, type SeenEvent } from './session.js';
import { UnwindLoader, type Compile, type LoaderStats } from '../unwind/loader.js';

export interface RecordOptions {
  /** Seconds; undefined = until aborted or the command exits. */
  readonly durationSeconds?: number;
  /** Samples per second per CPU. Default 99 (off the 100 Hz of timer-driven work). */
  readonly frequency: number;
  /** Only these processes. Default: all. */
  readonly pids: readonly number[];
  readonly tid?: number;
  /** Only these CPUs. Default: all online. */
  readonly cpus?: readonly number[];
  /** Only user stacks. Default false. */
  readonly userOnly: boolean;
  /** Only kernel stacks. Default false. */
  readonly kernelOnly: boolean;
  /** Keep the idle task's samples. Default false. */
  readonly includeIdle: boolean;
  /**
   * Entries in each of the two stack-trace maps (one per distinct stack), plus a quarter of it
   * for stacks whose bucket is taken. Default 8192 (~20 MB of kernel memory in all, allocated at
   * load): the maps are emptied whenever they could be an eighth full, which keeps hash
   * collisions rare (see bpf/profile.bpf.c).
   */
  readonly stackStorageSize: number;
  /** Entries in each of the two counts hashes (distinct thread+stack pairs). Default 65536. */
  readonly countsSize: number;
  /**
   * Distinct (thread, stack) entries held (a process snapshot counts as 25) before the samples of
   * exited processes are folded by name to bound memory (src/record/accumulator.ts). Default 50000.
   */
  readonly foldBudget?: number;
  /** Start this command and profile it and its children until it exits. */
  readonly command?: readonly string[];
  /** Where the command's standard output goes. Default `inherit`. */
  readonly commandStdout: 'inherit' | 'stderr';
  readonly title?: string;
  readonly commandLine?: string;
  /**
   * How user stacks are walked: `auto` (default) and `tables` walk each process with its binaries'
   * unwind tables (.eh_frame) where they have them and frame pointers elsewhere; `fp` uses frame
   * pointers only, as BCC and bpftrace do. `tables` differs from `auto` only in refusing to start
   * when the kernel cannot run the walker, where `auto` falls back to `fp` and says so.
   */
  readonly unwind: UnwindMode;
  /** Rows of unwind tables the kernel holds for all binaries together (12 bytes each). Default 1,048,576 (12 MiB): node, python3, libc and a few dozen other binaries. */
  readonly unwindRows: number;
}

export type UnwindMode = 'auto' | 'tables' | 'fp';

/** Every option's default (src/record/defaults.ts, typed here). */
export const DEFAULTS: RecordOptions = RECORD_DEFAULTS;

export interface Progress {
  readonly elapsedSeconds: number;
  readonly remainingSeconds?: number;
  readonly samples: number;
  readonly processes: number;
}

export interface RecordHooks {
  /** Aborting stops the recording normally (the profile is still read and returned). */
  readonly signal?: AbortSignal;
  /** Called about once a second. */
  readonly onProgress?: (progress: Progress) => void;
  /**
   * Called while recording with the user stacks (leaf first) of each harvest's entries whose
   * process has a snapshot, e.g. to warm a symbolizer (src/symbolize/warmup.ts).
   */
  readonly onStacks?: (snapshot: ProcessSnapshot, userStack: readonly bigint[]) => void;
  /** Snapshots a live process (src/host), named `comm` when sampled; undefined when it is gone or unreadable. */
  readonly captureProcess?: (pid: number, comm: string) => ProcessSnapshot | undefined;
  /** Where unwind tables come from (src/unwind); without it every stack is walked with frame pointers. */
  readonly unwindTables?: {
    /** Builds a binary's table (src/unwind/compiler.ts: on a worker thread). */
    readonly compile: Compile;
    /** Binaries most processes map (libc, the dynamic loader, `[vdso]`), placed first. */
    readonly preload?: readonly string[];
  };
  /**
   * Cuts the recording into contiguous intervals of about `ms` (the continuous agent, src/agent):
   * at each boundary a harvest switches the sample sets, and everything harvested up to that
   * switch goes to `onInterval` and is forgotten, so each sample is in exactly one interval. The
   * last, partial interval comes when the recording stops; the returned profile then has no samples.
   */
  readonly intervals?: { readonly ms: number; readonly onInterval: (interval: RecordedInterval) => void };
}

/** One interval of a cut recording: its samples and the snapshots that name them. */
export interface RecordedInterval {
  /** The boundaries, ms since the epoch: the sample-set switches (the start of sampling for the first). */
  readonly from: number;
  readonly until: number;
  readonly samples: readonly RawSample[];
  /** Snapshots by pid as at the cut, the shared spaces of folded processes included. */
  readonly processes: ReadonlyMap<number, ProcessSnapshot>;
  /** The recorder's counters at the cut (totals since the start). */
  readonly counters: Readonly<Record<CounterName, number>>;
  /** The one the recording's end cut. */
  readonly final: boolean;
}

export type StopReason = 'duration' | 'aborted' | 'command-exit';

export interface RecordResult {
  readonly raw: RawProfile;
  readonly counters: Readonly<Record<CounterName, number>>;
  readonly stoppedBy: StopReason;
  /** Exit code of the launched command (128 + signal when it was killed). */
  readonly commandExitCode?: number;
  /** How user stacks were walked: `fp` when unwind tables were not used at all. */
  readonly unwind: { readonly mode: 'tables' | 'fp'; readonly fallbackReason?: string; readonly loader?: LoaderStats };
}

function validate(options: RecordOptions): void {
  if (!(options.frequency >= 1 && options.frequency <= 100_000 && Number.isInteger(options.frequency))) {
    throw new ProfileError(`--frequency must be an integer from 1 to 100000, not ${options.frequency}`);
  }
  if (options.userOnly && options.kernelOnly) throw new ProfileError('--user-only and --kernel-only exclude each other');
  if (options.durationSeconds !== undefined && !(options.durationSeconds > 0)) throw new ProfileError('--duration must be a positive number of seconds');
  if (!(options.stackStorageSize >= 1)) throw new ProfileError('--stack-storage-size must be at least 1');
  if (options.command && options.pids.length > 0) throw new ProfileError('give either -p/--pid or a command after --, not both');
}

export function droppedByReason(counters: Readonly<Record<CounterName, number>>): DroppedSamples {
  const dropped: Record<string, number> = {};
  for (const name of COUNTERS) {
    const reason = DROP_REASONS[name];
    if (reason !== undefined && counters[name] > 0) dropped[reason] = counters[name];
  }
  return dropped;
}

export async function record(options: RecordOptions, hooks: RecordHooks = {}): Promise<RecordResult> {
  validate(options);
  const started = Date.now();
  const accumulated = new SampleAccumulator(options.foldBudget);
  let loader: UnwindLoader | undefined;
  const generations = new ProcessGenerations(accumulated, hooks.captureProcess, started, {
    captured: (snapshot, start) => loader?.loadProcess(snapshot, start),
    gone: (pid) => loader?.forgetProcess(pid),
    remapped: (snapshot, start, changed) => loader?.remapped(snapshot, start, changed),
  });
  const processes = generations.snapshots;
  // Announcements that arrive together are captured a few milliseconds' worth per turn of the event
  // loop: at the start of a system-wide run hundreds arrive at once, and capturing them in one go
  // kept signals (a second Ctrl-C) and timers waiting for a second or more.
  const announced: { readonly pid: number; readonly comm: string; readonly start: number }[] = [];
  let draining = false;
  const drainOne = (): void => {
    // A few milliseconds' worth per turn: a fork-heavy host announces hundreds of 3 ms processes a
    // second, and one capture per turn left one in eight to exit first.
    const until = performance.now() + 2;
    for (let next = announced.shift(); next !== undefined; next = announced.shift()) {
      generations.capture(next.pid, next.comm, next.start);
      if (performance.now() >= until) break;
    }
    if (announced.length > 0) setImmediate(drainOne);
    else draining = false;
  };
  const announce = (pid: number, comm: string, start: number): void => {
    if (!generations.announced(pid, start)) return;
    // Nothing waiting: captured at once, before a short-lived process can exit.
    if (!draining) {
      generations.capture(pid, comm, start);
      draining = true;
      setImmediate(() => (announced.length > 0 ? drainOne() : (draining = false)));
      return;
    }
    announced.push({ pid, comm, start });
  };
  const drainAll = (): void => {
    for (let next = announced.shift(); next !== undefined; next = announced.shift()) generations.capture(next.pid, next.comm, next.start);
  };

  const useTables = options.unwind !== 'fp' && !options.kernelOnly && hooks.unwindTables !== undefined;
  const sessionOptions = {
      frequency: options.frequency,
      cpus: options.cpus,
      pids: options.pids,
      filterByPid: options.command !== undefined,
      followForks: options.command !== undefined,
      tid: options.tid,
      includeIdle: options.includeIdle,
      userStacks: !options.kernelOnly,
      kernelStacks: !options.userOnly,
      stackStorageSize: options.stackStorageSize,
      countsSize: options.countsSize,
      unwindTables: useTables,
      unwindRows: options.unwindRows,
  };
  const onSeen = (event: SeenEvent): void => {
    // After the process's capture, which a remap request cannot come before.
    if (event.unmappedPc !== undefined) setImmediate(() => generations.remap(event.tgid, event.comm, event.start, event.unmappedPc!));
    else announce(event.tgid, event.comm, event.start);
  };
  let session: RecordingSession;
  let fallbackReason: string | undefined;
  try {
    session = RecordingSession.open(sessionOptions, onSeen);
  } catch (error) {
    // A kernel without what the walker needs (bpf_loop, bpf_task_pt_regs: 5.17+) still records with frame pointers.
    if (!useTables || options.unwind === 'tables') throw error;
    fallbackReason = (error as Error).message;
    session = RecordingSession.open({ ...sessionOptions, unwindTables: false }, onSeen);
  }
  if (useTables && fallbackReason === undefined) {
    loader = new UnwindLoader(session, hooks.unwindTables!.compile, processExists);
    loader.preload(hooks.unwindTables!.preload ?? []);
  }
  const harvests = new HarvestSchedule(options.stackStorageSize, options.countsSize);
  // Processes whose announcement was lost (a full ring buffer) or not read yet show up here.
  let harvestCount = 0;
  const harvest = (counts: readonly HarvestedCount[], number: number): void => {
    harvestCount++;
    for (const entry of counts) generations.add(entry);
    generations.harvestDone(number);
  };
  const reportStacks = (counts: readonly HarvestedCount[], onStacks: NonNullable<RecordHooks['onStacks']>): void => {
    const reported = new Set<string>();
    for (const entry of counts) {
      const snapshot = processes.get(entry.tgid);
      if (!snapshot || entry.userStack.length === 0 || (snapshot.startTicks !== undefined && snapshot.startTicks !== startTicksOf(entry.start))) continue;
      const key = `${entry.tgid} ${entry.userStack}`;
      if (reported.has(key)) continue;
      reported.add(key);
      onStacks(snapshot, unpack(entry.userStack));
    }
  };
  let intervalStart = started;
  const cutInterval = (until: number, final: boolean): void => {
    const { samples, spaces } = accumulated.take();
    const snapshots = new Map(processes);
    for (const space of spaces) snapshots.set(space.pid, space);
    hooks.intervals!.onInterval({ from: intervalStart, until, samples, processes: snapshots, counters: session.counters(), final });
    intervalStart = until;
  };
  let launched: LaunchedCommand | undefined;
  const timers: NodeJS.Timeout[] = [];
  let checkTimer: NodeJS.Timeout | undefined;
  let boundaryTimer: NodeJS.Timeout | undefined;
  try {
    if (options.command) {
      launched = launchCommand(options.command, options.commandStdout);
      if (launched.pid > 0) session.addTarget(launched.pid);
      launched.release();
    }
    // Harvests run asynchronously (src/record/session.ts), one at a time; a failed one ends the recording.
    let harvesting: Promise<void> | undefined;
    let lastCollection = Date.now();
    let harvestFailure: unknown;
    let stop: (reason: StopReason) => void = () => undefined;
    /** Set when an interval boundary is due: the next harvest cuts there. */
    let cutDue = false;
    const startHarvest = (fold: boolean): void => {
      const cut = cutDue;
      cutDue = false;
      // Gone before the harvest, so all their samples are in user space after it. At a cut they
      // are folded once the interval has taken their samples: only their snapshots go, so a long
      // run holds the snapshots of live processes and of one interval's exited ones.
      const exited = fold || cut ? [...new Set([...accumulated.processes(), ...processes.keys()])].filter((pid) => !processExists(pid)) : [];
      const number = generations.harvestStarted();
      // The switch of sample sets is the boundary: samples before it are in the harvested set.
      const boundary = Date.now();
      harvesting = session
        .harvest()
        .then((counts) => {
          harvest(counts, number);
          if (hooks.onStacks) reportStacks(counts, hooks.onStacks);
          if (cut) cutInterval(boundary, false);
          const folded = fold || cut ? accumulated.fold(exited, processes).folded : [];
          for (const pid of folded) {
            generations.folded(pid);
            session.forget(pid);
          }
          // What a fold released, and the churn of harvests, is garbage V8 is in no hurry to
          // collect: without this a fork-heavy 600 s run went from 131 to 296 MB RSS, with it
          // 126 to 200 MB while its live heap stayed under 25 MB (src/record/gc.ts).
          const now = Date.now();
          if (now - lastCollection >= (folded.length > 0 ? 10_000 : 60_000)) {
            lastCollection = now;
            collectGarbage();
          }
        })
        .catch((error: unknown) => {
          harvestFailure = error;
          stop('aborted');
        })
        .finally(() => (harvesting = undefined));
    };
    const stoppedBy = await new Promise<StopReason>((resolve) => {
      stop = resolve;
      if (options.durationSeconds !== undefined) timers.push(setTimeout(() => resolve('duration'), options.durationSeconds * 1000));
      if (hooks.signal?.aborted) resolve('aborted');
      hooks.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      launched?.exited.then(() => resolve('command-exit'));
      const check = (): void => {
        session.poll(); // a safety net: announcements normally arrive through the watch
        const counters = session.counters();
        const next = harvests.due(counters);
        const fold = accumulated.overBudget(processes.size);
        if (harvesting === undefined && (fold || next === 0 || cutDue)) startHarvest(fold);
        checkTimer = setTimeout(check, next === 0 || cutDue ? harvests.soonestMs : next);
        const now = Date.now();
        if (now - lastProgress >= 1000) {
          lastProgress = now;
          const elapsed = (now - started) / 1000;
          hooks.onProgress?.({
            elapsedSeconds: elapsed,
            remainingSeconds: options.durationSeconds === undefined ? undefined : Math.max(0, options.durationSeconds - elapsed),
            samples: counters.COLLECTED,
            processes: generations.seen,
          });
        }
      };
      let lastProgress = Date.now();
      checkTimer = setTimeout(check, harvests.soonestMs);
      if (hooks.intervals) {
        // Boundaries on a fixed grid from the start, so late cuts do not add up.
        let boundaries = 0;
        const next = (): void => {
          boundaryTimer = setTimeout(due, Math.max(0, started + ++boundaries * hooks.intervals!.ms - Date.now()));
        };
        const due = (): void => {
          cutDue = true;
          if (harvesting === undefined) startHarvest(false);
          next();
        };
        next();
      }
    });
    for (const timer of timers) clearTimeout(timer);
    clearTimeout(checkTimer);
    clearTimeout(boundaryTimer);
    loader?.stop();
    session.stop();
    await harvesting;
    if (harvestFailure !== undefined) throw harvestFailure;
    session.poll();
    drainAll();
    const stoppedAt = Date.now();
    const durationSeconds = (stoppedAt - started) / 1000;
    const last = generations.harvestStarted();
    harvest(await session.harvest(true), last);
    if (hooks.intervals) cutInterval(stoppedAt, true);
    const counters = session.counters();
    const samples = accumulated.samples();
    for (const space of accumulated.sharedSpaces()) processes.set(space.pid, space);
    const commandExitCode = launched ? await endCommand(launched) : undefined;
    const metadata: RunMetadata = {
      host: hostname(),
      kernel: release(),
      commandLine: options.commandLine,
      frequencyHz: options.frequency,
      durationSeconds,
      samples: counters.COLLECTED,
      dropped: droppedByReason(counters),
      unit: 'samples',
      title: options.title,
      startTime: new Date(started).toISOString(),
      notes:
        accumulated.foldedProcesses > 0
          ? [`${accumulated.foldedProcesses} exited processes kept by name without pid and tid, to bound memory (their frames are named as before)`]
          : undefined,
      extra: {
        probeFirings: counters.PROBE_FIRINGS,
        filtered: counters.FILTERED,
        samplesWithoutUserStack: counters.INFO_NO_USER_STACK,
        processAnnouncementsLost: counters.INFO_EVENTS_LOST,
        processesSeen: generations.seen,
        processesCaptured: generations.captured,
        reusedPids: generations.reusedPids,
        processesRemapped: generations.remaps,
        harvests: harvestCount,
        foldedProcesses: accumulated.foldedProcesses,
        unwind: unwindSummary(counters, loader?.stats(), fallbackReason),
        ...(options.command ? { command: options.command.join(' '), commandExitCode } : {}),
      },
    };
    const unwind = { mode: loader ? ('tables' as const) : ('fp' as const), fallbackReason, loader: loader?.stats() };
    return { raw: { samples, processes, metadata }, counters, stoppedBy, commandExitCode, unwind };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    clearTimeout(checkTimer);
    clearTimeout(boundaryTimer);
    loader?.stop();
    session.close();
  }
}

/** What the profile's metadata says of the walk: counts by outcome and the kernel tables' use. */
function unwindSummary(counters: Readonly<Record<CounterName, number>>, loader: LoaderStats | undefined, fallbackReason: string | undefined): Record<string, unknown> {
  return {
    mode: loader ? 'tables' : 'fp',
    ...(fallbackReason ? { fallbackReason } : {}),
    samplesWalkedByTables: counters.INFO_UNWIND_TABLES,
    stoppedAtDepthLimit: counters.INFO_UNWIND_DEPTH,
    stoppedWithoutUnwindInfo: counters.INFO_UNWIND_NO_TABLE,
    stoppedAtReadFault: counters.INFO_UNWIND_READ_FAULT,
    stoppedAtUnsupportedRule: counters.INFO_UNWIND_BAD_ROW,
    ...(loader
      ? {
          binariesWithTables: loader.binaries,
          tableRows: loader.rows,
          tableRowCapacity: loader.rowCapacity,
          tableKernelBytes: loader.rowCapacity * 12,
          remapRequestsAnswered: loader.remapsAnswered,
          processesWithTables: loader.processes,
          processesWithoutRoom: loader.processesWithoutRoom,
          binariesWithoutTables: Object.fromEntries(loader.unplaced),
          tableMs: Math.round(loader.tableMs),
        }
      : {}),
  };
}

/** The command's exit code; a command still running when the recording ends gets SIGTERM, then SIGKILL. */
async function endCommand(launched: LaunchedCommand): Promise<number> {
  if (launched.child.exitCode === null && launched.child.signalCode === null) launched.child.kill('SIGTERM');
  const timeout = setTimeout(() => launched.child.kill('SIGKILL'), 2000);
  try {
    return await launched.exited;
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * When to harvest: before the active set's stack maps can be an eighth full (a new counts key
 * brings at most two new stacks; a dropped sample may leave one) or its counts hash half full,
 * and at least every `staleMs` while new keys arrive, so that naming can start on them while the
 * recording runs (src/symbolize/warmup.ts); a quiet machine costs a small harvest after 1 s, then every 5 s.
 * Checks come sooner while stacks arrive fast, and at most once a second while they do not.
 */
export class HarvestSchedule {
  readonly soonestMs = 100;
  private readonly latestMs = 1000;
  private readonly staleMs = 5000;
  private readonly firstStaleMs = 1000;
  private harvests = 0;
  private readonly stackBudget: number;
  private readonly keyBudget: number;
  private lastUsage = 0;
  private lastKeys = 0;
  private lastLost = 0;
  private lastAt = Date.now();
  private rate = 0; // stack entries per ms, at the last check

  constructor(stackStorageSize: number, countsSize: number) {
    this.stackBudget = Math.max(1, Math.floor(stackStorageSize / 8));
    this.keyBudget = Math.max(1, Math.floor(countsSize / 2));
  }

  /** 0: harvest now; otherwise the ms until the next check. */
  due(counters: Readonly<Record<CounterName, number>>): number {
    const usage = 2 * counters.INFO_NEW_KEYS + counters.DROP_USER_STACK_COLLISION + counters.DROP_USER_STACK_FULL + counters.DROP_USER_STACK_ERROR + counters.DROP_COUNTS_FULL;
    const now = Date.now();
    const fill = usage - this.lastUsage;
    if (now > this.lastAt) this.rate = fill / (now - this.lastAt);
    const newKeys = counters.INFO_NEW_KEYS - this.lastKeys;
    // The first one soon: most new stacks show up at the start, and warming can begin on them.
    const stale = newKeys > 0 && now - this.lastAt >= (this.harvests === 0 ? this.firstStaleMs : this.staleMs);
    if (fill >= this.stackBudget || newKeys >= this.keyBudget || counters.INFO_EVENTS_LOST > this.lastLost || stale) {
      this.lastUsage = usage;
      this.lastLost = counters.INFO_EVENTS_LOST;
      this.lastKeys = counters.INFO_NEW_KEYS;
      this.lastAt = now;
      this.harvests++;
      return 0;
    }
    const left = this.stackBudget - fill;
    return Math.round(Math.min(this.latestMs, Math.max(this.soonestMs, this.rate > 0 ? left / this.rate / 2 : this.latestMs)));
  }
}
