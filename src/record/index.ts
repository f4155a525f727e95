/**
 * `record`: runs a BPF recording session until the duration ends, the caller aborts (Ctrl-C,
 * SIGTERM) or the launched command exits, capturing each sampled process while it is alive, and
 * returns a RawProfile (addresses + process snapshots) for the symbolizer.
 */
import { hostname, release } from 'node:os';
import type { DroppedSamples, RunMetadata } from '../profile/model.js';
import type { ProcessSnapshot, RawProfile, RawSample } from '../profile/raw.js';
import { ProfileError } from '../errors.js';
import { COUNTERS, DROP_REASONS, type CounterName } from './abi.js';
import { launchCommand, type LaunchedCommand } from './command.js';
import { RecordingSession, type SampleCount } from './session.js';

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
   * Entries in the stack-trace map (one per distinct stack), plus a quarter of it for stacks whose
   * bucket is taken. Default 16384 (~20 MB of kernel memory in all, allocated at load, as
   * BCC's default): the fallback map keeps collisions rare (see bpf/profile.bpf.c).
   */
  readonly stackStorageSize: number;
  /** Entries in the counts hash (distinct thread+stack pairs). Default 65536. */
  readonly countsSize: number;
  /** Start this command and profile it and its children until it exits. */
  readonly command?: readonly string[];
  /** Where the command's standard output goes. Default `inherit`. */
  readonly commandStdout: 'inherit' | 'stderr';
  readonly title?: string;
  readonly commandLine?: string;
}

export const DEFAULTS: RecordOptions = Object.freeze({
  frequency: 99,
  pids: [],
  userOnly: false,
  kernelOnly: false,
  includeIdle: false,
  stackStorageSize: 16384,
  countsSize: 65536,
  commandStdout: 'inherit',
});

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
  /** Snapshots a live process (src/host); undefined when it is gone or unreadable. */
  readonly captureProcess?: (pid: number) => ProcessSnapshot | undefined;
}

export type StopReason = 'duration' | 'aborted' | 'command-exit';

export interface RecordResult {
  readonly raw: RawProfile;
  readonly counters: Readonly<Record<CounterName, number>>;
  readonly stoppedBy: StopReason;
  /** Exit code of the launched command (128 + signal when it was killed). */
  readonly commandExitCode?: number;
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
  const processes = new Map<number, ProcessSnapshot>();
  const seen = new Set<number>();
  const started = Date.now();
  const capture = (pid: number): void => {
    seen.add(pid);
    const snapshot = hooks.captureProcess?.(pid);
    // After an exec the newest image replaces the old one: most of its samples are the new image's.
    if (snapshot) processes.set(pid, { ...snapshot, capturedAtMs: snapshot.capturedAtMs ?? Date.now() - started });
  };
  // Announcements are captured one per turn of the event loop: at the start of a system-wide run
  // hundreds arrive at once, and capturing them in one go kept signals (a second Ctrl-C) and
  // timers waiting for a second or more.
  const announced: number[] = [];
  let draining = false;
  const drainOne = (): void => {
    const pid = announced.shift();
    if (pid !== undefined) capture(pid);
    if (announced.length > 0) setImmediate(drainOne);
    else draining = false;
  };
  const announce = (pid: number): void => {
    seen.add(pid);
    announced.push(pid);
    if (!draining) {
      draining = true;
      setImmediate(drainOne);
    }
  };
  const drainAll = (): void => {
    for (let pid = announced.shift(); pid !== undefined; pid = announced.shift()) capture(pid);
  };

  const session = RecordingSession.open(
    {
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
    },
    (event) => announce(event.tgid),
  );
  let launched: LaunchedCommand | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    if (options.command) {
      launched = launchCommand(options.command, options.commandStdout);
      if (launched.pid > 0) session.addTarget(launched.pid);
      launched.release();
    }
    const stoppedBy = await new Promise<StopReason>((resolve) => {
      if (options.durationSeconds !== undefined) timers.push(setTimeout(() => resolve('duration'), options.durationSeconds * 1000));
      if (hooks.signal?.aborted) resolve('aborted');
      hooks.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      launched?.exited.then(() => resolve('command-exit'));
      let lost = 0;
      timers.push(
        setInterval(() => {
          session.poll(); // a safety net: announcements normally arrive through the watch
          const counters = session.counters();
          // Announcements lost to a full ring buffer: find the unseen processes in the counts.
          if (counters.INFO_EVENTS_LOST > lost) {
            lost = counters.INFO_EVENTS_LOST;
            for (const entry of session.readCounts()) if (!seen.has(entry.tgid)) capture(entry.tgid);
          }
          const elapsed = (Date.now() - started) / 1000;
          hooks.onProgress?.({
            elapsedSeconds: elapsed,
            remainingSeconds: options.durationSeconds === undefined ? undefined : Math.max(0, options.durationSeconds - elapsed),
            samples: counters.COLLECTED,
            processes: seen.size,
          });
        }, 1000),
      );
    });
    for (const timer of timers) clearInterval(timer);
    session.stop();
    session.poll();
    drainAll();
    const durationSeconds = (Date.now() - started) / 1000;
    const counters = session.counters();
    const counts = session.readCounts();
    // Processes sampled in the last moments, whose announcement was not read yet.
    for (const entry of counts) if (!seen.has(entry.tgid)) capture(entry.tgid);
    const samples = toSamples(session, counts);
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
      extra: {
        probeFirings: counters.PROBE_FIRINGS,
        filtered: counters.FILTERED,
        samplesWithoutUserStack: counters.INFO_NO_USER_STACK,
        processAnnouncementsLost: counters.INFO_EVENTS_LOST,
        processesSeen: seen.size,
        processesCaptured: processes.size,
        ...(options.command ? { command: options.command.join(' '), commandExitCode } : {}),
      },
    };
    return { raw: { samples, processes, metadata }, counters, stoppedBy, commandExitCode };
  } finally {
    for (const timer of timers) clearInterval(timer);
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

function toSamples(session: RecordingSession, counts: readonly SampleCount[]): RawSample[] {
  const stacks = new Map<number, readonly bigint[]>();
  const stack = (id: number): readonly bigint[] => {
    let addresses = stacks.get(id);
    if (addresses === undefined) stacks.set(id, (addresses = session.readStack(id)));
    return addresses;
  };
  return counts.map((entry) => ({
    pid: entry.tgid,
    tid: entry.pid,
    comm: entry.comm,
    kernelStack: stack(entry.kernelStackId),
    userStack: stack(entry.userStackId),
    count: entry.count,
  }));
}
