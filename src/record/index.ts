/**
 * `record`: runs a BPF recording session until the duration ends, the caller aborts (Ctrl-C,
 * SIGTERM) or the launched command exits, capturing each sampled process while it is alive, and
 * returns a RawProfile (addresses + process snapshots) for the symbolizer.
 */
import { processExists } from '../host/procfs.js';
import type { ProcessAnnouncement, ProcessSnapshot, RawProfile } from '../profile/raw.js';
import { ProfileError } from '../errors.js';
import type { CounterName } from './abi.js';
import { runMetadata } from './metadata.js';
import { Harvester, HarvestSchedule, type IntervalHook, type OnStacks } from './harvester.js';
import { AnnouncementQueue } from './announcements.js';
import { launchCommand, type LaunchedCommand } from './launch.js';
import { SampleAccumulator } from './accumulator.js';
import { RECORD_DEFAULTS as UNTYPED_DEFAULTS } from './defaults.js';
import { ProcessGenerations } from './generations.js';
import { RecordingSession, type SeenEvent } from './session.js';
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
  /** Rows of unwind tables the kernel holds for all binaries together (12 bytes each). Default 2,097,152 (24 MiB): gcc's cc1, node, python3 and the libraries they map, at once (docs/unwinding.md). */
  readonly unwindRows: number;
}

export type UnwindMode = 'auto' | 'tables' | 'fp';
export { droppedByReason } from './metadata.js';
export { HarvestSchedule, type RecordedInterval } from './harvester.js';

/** Every option's default (src/record/defaults.ts, typed here). */
export const RECORD_DEFAULTS: RecordOptions = UNTYPED_DEFAULTS;

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
  readonly onStacks?: OnStacks;
  /**
   * Snapshots a live process (src/host), named `comm` when sampled, `announced` what the recorder
   * knows of it already; undefined when it is gone, unreadable, or not the process announced.
   */
  readonly captureProcess?: (pid: number, comm: string, announced?: ProcessAnnouncement) => ProcessSnapshot | undefined;
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
  readonly intervals?: IntervalHook;
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
  const announcements = new AnnouncementQueue(generations);

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
    else announcements.announce(event.tgid, event.comm, event.start, event.identity);
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
  let stop: (reason: StopReason) => void = () => undefined;
  const harvester = new Harvester(session, generations, accumulated, hooks, started, () => stop('aborted'));
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
        if (!harvester.busy && (fold || next === 0 || harvester.cutDue)) harvester.start(fold);
        checkTimer = setTimeout(check, next === 0 || harvester.cutDue ? harvests.soonestMs : next);
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
          harvester.cutDue = true;
          if (!harvester.busy) harvester.start(false);
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
    await harvester.settled();
    session.poll();
    announcements.drainAll();
    const stoppedAt = Date.now();
    const durationSeconds = (stoppedAt - started) / 1000;
    await harvester.last(stoppedAt);
    const counters = session.counters();
    const samples = accumulated.samples();
    for (const space of accumulated.sharedSpaces()) processes.set(space.pid, space);
    const commandExitCode = launched ? await endCommand(launched) : undefined;
    const metadata = runMetadata({
      options,
      started,
      durationSeconds,
      counters,
      foldedProcesses: accumulated.foldedProcesses,
      generations,
      harvests: harvester.count,
      loader: loader?.stats(),
      fallbackReason,
      commandExitCode,
    });
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
