/**
 * `profile record --push URL` without --duration: the continuous agent. The recording is cut into
 * intervals (src/record: RecordHooks.intervals); each finished interval is named, split into one
 * series per service and encoded (src/agent/interval.ts), one at a time in order, and handed to
 * the push queue (src/agent/queue.ts), which sends it while the recording goes on and spools what
 * the server does not take. At the end (SIGTERM, Ctrl-C, --duration) the last, partial interval
 * is pushed like the others, what is still unsent goes to the spool, and a summary is printed.
 */
import { hostname } from 'node:os';
import { printable } from '../errors.js';
import { pushRequestOf, sendPush, type PushFormat, type PushOptions } from '../export/push.js';
import { collectAndTrim } from '../record/gc.js';
import type { RecordedInterval, RecordHooks, RecordResult } from '../record/index.js';
import { Symbolizer, type SymbolizeOptions } from '../symbolize/index.js';
import { encodeInterval, parseName, type SeriesOptions } from './interval.js';
import { PushQueue } from './queue.js';
import { labelValue } from './service.js';
import { Spool } from './spool.js';

export { defaultSpoolDirectory } from './spool.js';

export interface AgentOptions {
  readonly server: string;
  /** Credentials and retries of each push (token, tenant, spyName, retries). */
  readonly push: Partial<PushOptions>;
  /** --name: `APP` or `APP{key=value,…}`. */
  readonly name: string;
  readonly format: PushFormat;
  readonly intervalSeconds: number;
  readonly maxSeries: number;
  readonly spoolDirectory: string;
  readonly spoolBytes: number;
  /** Finished intervals held in memory before they go to the spool. */
  readonly memoryIntervals: number;
  /** A JSON line on stderr per interval and at the end. */
  readonly metrics: boolean;
  readonly frequencyHz: number;
  readonly symbolize: Partial<SymbolizeOptions>;
}

export interface AgentSummary {
  readonly intervals: number;
  readonly pushed: number;
  readonly retried: number;
  readonly spooled: number;
  readonly dropped: number;
  readonly leftInSpool: number;
  readonly samplesCollected: number;
  readonly samplesInIntervals: number;
  readonly seriesMergedIntoOther: number;
  readonly bytesSent: number;
  /** Exit code of the command recorded with `-- COMMAND`, when there was one. */
  readonly commandExitCode?: number;
}

type Run = (intervals: NonNullable<RecordHooks['intervals']>) => Promise<RecordResult>;

const rss = (): number => process.memoryUsage.rss();
/** Finished intervals waiting to be named and encoded before new ones are dropped. */
const MAX_WAITING_TO_ENCODE = 4;

export async function runAgent(run: Run, options: AgentOptions, write: (line: string) => void): Promise<AgentSummary> {
  const { app, labels: named } = parseName(options.name);
  const labels = new Map([['hostname', labelValue(hostname())], ...named]);
  const pushOptions = { ...options.push, server: options.server };
  // A bad URL fails now, before any recording.
  pushRequestOf({ name: app, from: 0, until: 1, units: 'samples', format: options.format, body: new Uint8Array() }, pushOptions);
  const spool = new Spool(options.spoolDirectory, options.spoolBytes);
  if (spool.length > 0) write(`profile: ${spool.length} intervals left in ${printable(spool.directory)} by an earlier run are sent first`);
  const log = (message: string): void => write(`profile: ${printable(message)}`);
  const intervalMs = options.intervalSeconds * 1000;
  const queue = new PushQueue(
    spool,
    async (push, signal, retried) => {
      await sendPush(pushRequestOf(push, pushOptions), pushOptions, retried, signal);
    },
    { memoryIntervals: options.memoryIntervals, backoffMs: 1000, maxBackoffMs: Math.min(30_000, Math.max(1000, intervalMs)) },
    // One line per failed interval at most: the pusher's retries are only counted.
    log,
  );
  queue.start();
  const series: SeriesOptions = { app, labels, format: options.format, maxSeries: options.maxSeries, frequencyHz: options.frequencyHz, symbolize: options.symbolize };
  // One symbolizer for the whole run: an interval only reads what is new (binaries, DWARF, kallsyms).
  const symbolizer = Symbolizer.lasting(options.symbolize);
  let seq = spool.lastSeq + 1;
  let intervals = 0;
  let samplesInIntervals = 0;
  let mergedIntoOther = 0;
  let encoding = Promise.resolve();
  let waiting = 0;
  const counters = queue.counters;
  const onInterval = (interval: RecordedInterval): void => {
    const number = seq++;
    // Naming slower than recording (a starved machine): raw intervals would pile up without end,
    // so beyond a few waiting the newest is dropped, and counted like any other.
    if (waiting >= MAX_WAITING_TO_ENCODE) {
      counters.dropped++;
      log(`interval ${number} dropped: ${waiting} intervals still wait to be named`);
      return;
    }
    waiting++;
    encoding = encoding.then(async () => {
      try {
        const began = performance.now();
        const outcome = await encodeInterval(interval, number, series, symbolizer);
        const encodeMs = Math.round(performance.now() - began);
        intervals++;
        samplesInIntervals += outcome.encoded.samples;
        mergedIntoOther += outcome.mergedIntoOther;
        queue.add(outcome.encoded);
        // The interval's raw samples, profile and encoded bodies are garbage now: tens of MB that
        // V8 and malloc would otherwise keep until they see a reason to give them back.
        collectAndTrim();
        if (options.metrics) {
          write(
            JSON.stringify({
              type: 'interval',
              seq: number,
              from: new Date(interval.from).toISOString(),
              until: new Date(interval.until).toISOString(),
              samples: outcome.encoded.samples,
              series: outcome.encoded.series.length,
              bytes: outcome.encoded.series.reduce((sum, s) => sum + s.body.length, 0),
              mergedIntoOther: outcome.mergedIntoOther,
              encodeMs,
              pushed: counters.pushed,
              retried: counters.retried,
              spooled: counters.spooled,
              dropped: counters.dropped,
              queued: queue.inMemory,
              spoolBytes: spool.bytes,
              waitingToEncode: waiting - 1,
              samplesCollected: interval.counters.COLLECTED,
              rssBytes: rss(),
              symbolizer: symbolizer.held(),
              heapBytes: process.memoryUsage().heapUsed,
              externalBytes: process.memoryUsage().external,
            }),
          );
        }
      } catch (error) {
        counters.dropped++;
        log(`interval ${number} could not be encoded: ${(error as Error).message}`);
      } finally {
        waiting--;
      }
    });
  };
  let result: RecordResult;
  try {
    result = await run({ ms: intervalMs, onInterval });
  } finally {
    await encoding;
    symbolizer.close();
    // Long enough for a healthy server to take the last interval; what is left goes to the spool.
    await queue.close(Math.min(10_000, Math.max(2000, intervalMs)));
  }
  const summary: AgentSummary = {
    intervals,
    pushed: counters.pushed,
    retried: counters.retried,
    spooled: counters.spooled,
    dropped: counters.dropped,
    leftInSpool: spool.length,
    samplesCollected: result.counters.COLLECTED,
    samplesInIntervals,
    seriesMergedIntoOther: mergedIntoOther,
    bytesSent: counters.bytes,
    commandExitCode: result.commandExitCode,
  };
  if (options.metrics) write(JSON.stringify({ type: 'summary', ...summary, rssBytes: rss() }));
  write(
    `profile: ${summary.samplesCollected} samples in ${intervals} intervals; pushed ${summary.pushed} intervals ` +
      `(${counters.profiles} profiles, ${summary.bytesSent} bytes), ${summary.retried} retries, ${summary.spooled} spooled, ` +
      `${summary.dropped} dropped, ${summary.leftInSpool} left in the spool`,
  );
  return summary;
}
