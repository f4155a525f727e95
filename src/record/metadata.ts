/**
 * What a recording says of itself beside its samples: the host, the run, its exact accounting
 * (every firing filtered, collected or dropped by reason) and how its user stacks were walked.
 */
import { hostname, release } from 'node:os';
import type { DroppedSamples, RunMetadata } from '../profile/model.js';
import type { LoaderStats } from '../unwind/loader.js';
import { COUNTERS, DROP_REASONS, type CounterName } from './abi.js';
import type { ProcessGenerations } from './generations.js';

type Counters = Readonly<Record<CounterName, number>>;

export interface RunFacts {
  /** The recording's options, those the metadata repeats. */
  readonly options: {
    readonly frequency: number;
    readonly commandLine?: string;
    readonly title?: string;
    readonly command?: readonly string[];
  };
  /** When sampling started, ms since the epoch. */
  readonly started: number;
  readonly durationSeconds: number;
  readonly counters: Counters;
  readonly foldedProcesses: number;
  readonly generations: ProcessGenerations;
  readonly harvests: number;
  readonly loader: LoaderStats | undefined;
  /** Why unwind tables were not used though asked for (`auto` on a kernel without the walker's needs). */
  readonly fallbackReason: string | undefined;
  readonly commandExitCode: number | undefined;
}

export function runMetadata(run: RunFacts): RunMetadata {
  const { options, counters, generations } = run;
  return {
    host: hostname(),
    kernel: release(),
    commandLine: options.commandLine,
    frequencyHz: options.frequency,
    durationSeconds: run.durationSeconds,
    samples: counters.COLLECTED,
    dropped: droppedByReason(counters),
    unit: 'samples',
    title: options.title,
    startTime: new Date(run.started).toISOString(),
    notes:
      run.foldedProcesses > 0
        ? [`${run.foldedProcesses} exited processes kept by name without pid and tid, to bound memory (their frames are named as before)`]
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
      harvests: run.harvests,
      foldedProcesses: run.foldedProcesses,
      unwind: unwindSummary(counters, run.loader, run.fallbackReason),
      ...(options.command ? { command: options.command.join(' '), commandExitCode: run.commandExitCode } : {}),
    },
  };
}

export function droppedByReason(counters: Counters): DroppedSamples {
  const dropped: Record<string, number> = {};
  for (const name of COUNTERS) {
    const reason = DROP_REASONS[name];
    if (reason !== undefined && counters[name] > 0) dropped[reason] = counters[name];
  }
  return dropped;
}

/** What the profile's metadata says of the walk: counts by outcome and the kernel tables' use. */
function unwindSummary(counters: Counters, loader: LoaderStats | undefined, fallbackReason: string | undefined): Record<string, unknown> {
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
          tableRowsPeak: loader.peakRows,
          idleBinaries: loader.idleBinaries,
          idleRows: loader.idleRows,
          binariesEvicted: loader.evictedBinaries,
          tableRowsEvicted: loader.evictedRows,
          binariesPlacedAfterWaiting: loader.placedAfterWaiting,
          freeRowBlocks: loader.freeRowBlocks,
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
