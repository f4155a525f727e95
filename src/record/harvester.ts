/**
 * Harvests: the sample sets are switched and the inactive one read and emptied
 * (src/record/session.ts), asynchronously and one at a time, a failed one ending the recording.
 * Each harvest's counts enter the accumulator through the process generations; its new user
 * stacks go to `onStacks` (warming); at an interval boundary its samples are cut off as one
 * interval; and exited processes are folded by name to bound memory.
 */
import type { ProcessSnapshot, RawSample } from '../profile/raw.js';
import type { SampleAccumulator } from './accumulator.js';
import type { CounterName } from './abi.js';
import { collectGarbage } from './gc.js';
import { startTicksOf, type ProcessGenerations } from './generations.js';
import { unpack } from './packed-stack.js';
import type { HarvestedCount, RecordingSession } from './session.js';
import { processExists } from '../host/procfs.js';

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

/** Cuts a recording into intervals (the continuous agent). */
export interface IntervalHook {
  readonly ms: number;
  readonly onInterval: (interval: RecordedInterval) => void;
}

export type OnStacks = (snapshot: ProcessSnapshot, userStack: readonly bigint[]) => void;

export class Harvester {
  /** Harvests done. */
  count = 0;
  /** Set when an interval boundary is due: the next harvest cuts there. */
  cutDue = false;
  private running: Promise<void> | undefined;
  private failure: unknown;
  private lastCollection = Date.now();
  private intervalStart: number;

  constructor(
    private readonly session: RecordingSession,
    private readonly generations: ProcessGenerations,
    private readonly accumulated: SampleAccumulator,
    private readonly hooks: { readonly onStacks?: OnStacks; readonly intervals?: IntervalHook },
    started: number,
    /** Called when a harvest fails: the recording ends, and `settled()` throws the failure. */
    private readonly onFailure: () => void,
  ) {
    this.intervalStart = started;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Starts a harvest; `fold` folds the exited processes' samples by name once it is in. */
  start(fold: boolean): void {
    const cut = this.cutDue;
    this.cutDue = false;
    const processes = this.generations.snapshots;
    // Gone before the harvest, so all their samples are in user space after it. At a cut they
    // are folded once the interval has taken their samples: only their snapshots go, so a long
    // run holds the snapshots of live processes and of one interval's exited ones.
    const exited = fold || cut ? [...new Set([...this.accumulated.processes(), ...processes.keys()])].filter((pid) => !processExists(pid)) : [];
    const number = this.generations.harvestStarted();
    // The switch of sample sets is the boundary: samples before it are in the harvested set.
    const boundary = Date.now();
    this.running = this.session
      .harvest()
      .then((counts) => {
        this.add(counts, number);
        if (this.hooks.onStacks) this.report(counts, this.hooks.onStacks);
        if (cut) this.cut(boundary, false);
        const folded = fold || cut ? this.accumulated.fold(exited, processes).folded : [];
        for (const pid of folded) {
          this.generations.folded(pid);
          this.session.forget(pid);
        }
        // What a fold released, and the churn of harvests, is garbage V8 is in no hurry to
        // collect: without this a fork-heavy 600 s run went from 131 to 296 MB RSS, with it
        // 126 to 200 MB while its live heap stayed under 25 MB (src/record/gc.ts). Intervals
        // are collected by their consumer once each is named (the agent): a second forced
        // collection here would double the cost (30–120 ms each on a fork-heavy host).
        const now = Date.now();
        if (!this.hooks.intervals && now - this.lastCollection >= (folded.length > 0 ? 10_000 : 60_000)) {
          this.lastCollection = now;
          collectGarbage();
        }
      })
      .catch((error: unknown) => {
        this.failure = error;
        this.onFailure();
      })
      .finally(() => (this.running = undefined));
  }

  /** Waits for the harvest under way; throws what made one fail. */
  async settled(): Promise<void> {
    await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  /** The last harvest, of both sets, once sampling has stopped at `stoppedAt`; cuts the last interval. */
  async last(stoppedAt: number): Promise<void> {
    const number = this.generations.harvestStarted();
    this.add(await this.session.harvest(true), number);
    if (this.hooks.intervals) this.cut(stoppedAt, true);
  }

  /** Processes whose announcement was lost (a full ring buffer) or not read yet show up here. */
  private add(counts: readonly HarvestedCount[], number: number): void {
    this.count++;
    for (const entry of counts) this.generations.add(entry);
    this.generations.harvestDone(number);
  }

  private report(counts: readonly HarvestedCount[], onStacks: OnStacks): void {
    const processes = this.generations.snapshots;
    const reported = new Set<string>();
    for (const entry of counts) {
      const snapshot = processes.get(entry.tgid);
      if (!snapshot || entry.userStack.length === 0 || (snapshot.startTicks !== undefined && snapshot.startTicks !== startTicksOf(entry.start))) continue;
      const key = `${entry.tgid} ${entry.userStack}`;
      if (reported.has(key)) continue;
      reported.add(key);
      onStacks(snapshot, unpack(entry.userStack));
    }
  }

  private cut(until: number, final: boolean): void {
    const { samples, spaces } = this.accumulated.take();
    const snapshots = new Map(this.generations.snapshots);
    for (const space of spaces) snapshots.set(space.pid, space);
    this.hooks.intervals!.onInterval({ from: this.intervalStart, until, samples, processes: snapshots, counters: this.session.counters(), final });
    this.intervalStart = until;
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
