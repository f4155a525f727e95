/**
 * One interval of the agent's recording → the profiles it pushes: the samples are named (by the
 * agent's lasting symbolizer, which keeps the binaries still mapped loaded from one interval to
 * the next), split into one series per
 * service (src/agent/service.ts) and encoded for the ingest API, each series under
 * `APP{service_name=…,hostname=…,<--name labels>}` with the interval's from/until.
 */
import { ProfileError } from '../errors.js';
import { encodeForPush, type EncodedPush, type PushFormat } from '../export/push.js';
import { Profile, type WeightedStack } from '../profile/model.js';
import type { RawSample } from '../profile/raw.js';
import type { RecordedInterval } from '../record/index.js';
import { ProfileBuilder } from '../profile/builder.js';
import { symbolizeWithReport, type Symbolizer, type SymbolizeOptions } from '../symbolize/index.js';
import { labelValue, splitByService } from './service.js';

export interface SeriesOptions {
  /** Application name, the part of --name before `{`. */
  readonly app: string;
  /** Labels of every series after service_name: hostname, then --name's (which may replace it). */
  readonly labels: ReadonlyMap<string, string>;
  readonly format: PushFormat;
  readonly maxSeries: number;
  readonly frequencyHz: number;
  readonly symbolize: Partial<SymbolizeOptions>;
}

/** A finished interval, encoded: what the queue holds and the spool stores. */
export interface EncodedInterval {
  /** Order of the intervals, across restarts (the spool continues it). */
  readonly seq: number;
  /** Boundaries, ms since the epoch. */
  readonly from: number;
  readonly until: number;
  readonly samples: number;
  readonly series: readonly EncodedPush[];
}

/**
 * `--name` split into the application and its labels: `web{env=prod,region=eu}` → `web`,
 * {env: prod, region: eu}. Label names must be identifiers; values are reduced as label values are.
 */
export function parseName(name: string): { app: string; labels: Map<string, string> } {
  const match = /^([^{}]*)(?:\{([^{}]*)\})?$/.exec(name.trim());
  if (!match) throw new ProfileError(`--name: expected APP or APP{key=value,…}, not ${JSON.stringify(name)}`);
  const labels = new Map<string, string>();
  for (const pair of (match[2] ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key, ...rest] = pair.split('=');
    const k = key!.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(k) || rest.length === 0) throw new ProfileError(`--name: label ${JSON.stringify(pair)} is not key=value`);
    labels.set(k, labelValue(rest.join('=').trim()));
  }
  return { app: match[1]!.trim() === '' ? 'profile' : labelValue(match[1]!.trim()), labels };
}

/** The series name: `app{service_name=…,hostname=…,…}`. */
export function seriesName(app: string, service: string, labels: ReadonlyMap<string, string>): string {
  const all = [`service_name=${service}`, ...[...labels].filter(([k]) => k !== 'service_name').map(([k, v]) => `${k}=${v}`)];
  return `${app}{${all.join(',')}}`;
}

/** UNIX seconds of a boundary: the same boundary always rounds the same way, so intervals stay contiguous. */
export const boundarySeconds = (ms: number): number => Math.round(ms / 1000);

export interface IntervalOutcome {
  readonly encoded: EncodedInterval;
  /** Services merged into `other` in this interval. */
  readonly mergedIntoOther: number;
}

/** `symbolizer`: a lasting one (Symbolizer.lasting) to name with; without it, one of its own. */
export async function encodeInterval(interval: RecordedInterval, seq: number, options: SeriesOptions, symbolizer?: Symbolizer): Promise<IntervalOutcome> {
  const total = interval.samples.reduce((sum, s) => sum + s.count, 0);
  const from = boundarySeconds(interval.from);
  // A last interval shorter than half a second would end where it starts: the API wants until > from.
  const until = Math.max(from + 1, boundarySeconds(interval.until));
  if (interval.samples.length === 0) return { encoded: { seq, from: interval.from, until: interval.until, samples: 0, series: [] }, mergedIntoOther: 0 };
  const split = splitByService(interval.samples, interval.processes, options.maxSeries);
  const groups = new Map<RawSample, string>();
  interval.samples.forEach((sample, i) => groups.set(sample, split.serviceOfSample[i]!));
  const metadata = {
    frequencyHz: options.frequencyHz,
    unit: 'samples',
    startTime: new Date(interval.from).toISOString(),
    durationSeconds: (interval.until - interval.from) / 1000,
    samples: total,
  };
  const raw = { samples: interval.samples, processes: interval.processes, metadata };
  symbolizer?.nextRun(new ProfileBuilder(), interval.processes);
  const { profile } = await symbolizeWithReport(raw, options.symbolize, symbolizer, (sample) => groups.get(sample)!);
  const byService = new Map<string, WeightedStack[]>();
  for (const stack of profile.stacks) {
    const service = stack.thread?.group ?? 'other';
    let list = byService.get(service);
    if (!list) byService.set(service, (list = []));
    list.push(stack);
  }
  const series: EncodedPush[] = [];
  for (const service of split.services) {
    const stacks = byService.get(service);
    if (!stacks) continue;
    const part = new Profile(profile.frames, stacks, { ...metadata, samples: stacks.reduce((sum, s) => sum + s.weight, 0) });
    series.push(encodeForPush(part, { name: seriesName(options.app, service, options.labels), format: options.format }, { from, until }));
  }
  return { encoded: { seq, from: interval.from, until: interval.until, samples: total, series }, mergedIntoOther: split.mergedIntoOther };
}
