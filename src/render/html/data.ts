import type { Frame, FrameKind, Profile, RunMetadata } from '../../profile/model.js';
import { buildCallTree, childLists, functionStats, type CallTree } from '../calltree.js';
import { KIND_LABELS, legendColour, MERGED_COLOUR, packedColour } from './colors.js';
import { MERGED_NAME, pruneTree, type PruneResult } from './prune.js';
import type { HtmlOptions } from './options.js';
import type { PaletteOptions } from '../palette.js';

const KINDS = ['user', 'kernel', 'jit', 'inline', 'process', 'merged'] as const;
type ReportKind = (typeof KINDS)[number];
const KIND_INDEX = new Map<ReportKind, number>(KINDS.map((kind, index) => [kind, index]));

/**
 * Everything the page draws, as compact JSON: the call tree in preorder as parallel columns of
 * integers (a name index per frame instead of the name, children counts instead of nesting),
 * which keeps a 100k-frame tree to a few MB and parses in tens of milliseconds.
 */
export interface ReportData {
  readonly v: 1;
  readonly title: string;
  readonly subtitle: string;
  readonly unit: string;
  readonly inverted: boolean;
  /** Per kind: its key (`user`, `kernel`, `jit`, `inline`, `process`, `merged`), label and a legend colour (0xRRGGBB). */
  readonly kinds: readonly { readonly key: ReportKind; readonly label: string; readonly colour: number }[];
  readonly names: readonly string[];
  /** Fill colour (0xRRGGBB) per name index, from the palette and the kind the name was first seen with. */
  readonly colours: readonly number[];
  /** Where a name's code is, for names that know it: [name index, `file:line` or module]. */
  readonly locations: [number, string][];
  /** One line for the top of the page: samples, duration, frequency, processes, dropped samples and why. */
  readonly summary: string;
  /** Preorder columns: name index, kind index, total, self, number of children. */
  readonly tree: {
    readonly n: number[];
    readonly k: number[];
    readonly t: number[];
    readonly s: number[];
    readonly c: number[];
    /** Differential reports only: the other (baseline) side's total per frame. */
    readonly o?: number[];
  };
  readonly total: number;
  /** Differential reports only: the baseline's whole total. */
  readonly otherTotal?: number;
  /**
   * Hottest functions over the whole (unpruned) profile, hottest self first: [name index, kind
   * index, self, total]. Process frames and placeholders (`[unknown]`, `[libc.so.6]`) are left out.
   */
  readonly functions: [number, number, number, number][];
  /** Root frames (processes): [name index, kind index, total]. */
  readonly processes: [number, number, number][];
  /** Differential reports only: [name index, kind index, baseline total, total], biggest change first. */
  readonly changes?: [number, number, number, number][];
  readonly meta: [string, string][];
  readonly dropped: [string, number][];
  /**
   * How user stacks were walked, per binary (record's stack quality): [binary, samples, walked by
   * unwind tables, by frame pointers only, stopped early, where and why they stopped].
   */
  readonly stackQuality: [string, number, number, number, number, string][];
  readonly notes: string[];
}

/** A differential input: a tree with the other side's weights (`other`), and the baseline's total. */
export interface DiffInput {
  readonly tree: CallTree;
  readonly otherTotal: number;
}

class Names {
  readonly list: string[] = [];
  readonly colours: number[] = [];
  readonly locations: [number, string][] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly palette: PaletteOptions) {}
  /** Records where the code of a name is, once (the first frame seen with it wins). */
  locate(id: number, frame: Frame | undefined): void {
    if (!frame || this.located.has(id)) return;
    const where = frame.file ? (frame.line ? `${frame.file}:${frame.line}` : frame.file) : frame.module;
    if (where) {
      this.located.add(id);
      this.locations.push([id, where]);
    }
  }
  private readonly located = new Set<number>();
  id(name: string, kind: ReportKind): number {
    let id = this.index.get(name);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(name);
      this.colours.push(kind === 'merged' ? MERGED_COLOUR : packedColour(name, kind, this.palette));
      this.index.set(name, id);
    }
    return id;
  }
}

/** What the report says about the input besides the tree. */
export interface ReportSource {
  readonly metadata: RunMetadata;
  readonly totalWeight: number;
  readonly distinctStacks: number;
  readonly distinctFrames: number;
  /** The profile's frames, when the tree's frame ids point into them (for file:line). */
  readonly frames?: readonly Frame[];
}

/** Builds the data of an HTML report; `diff` turns it into a differential report. */
export function prepareReport(profile: Profile, options: HtmlOptions, diff?: DiffInput): ReportData {
  const tree = diff ? diff.tree : buildCallTree(profile, { processFrame: options.processFrame, reverse: options.reverse });
  const source = { metadata: profile.metadata, totalWeight: profile.totalWeight, distinctStacks: profile.stacks.length, distinctFrames: profile.frames.length, frames: profile.frames };
  return reportFromTree(tree, source, options, diff?.otherTotal);
}

/** The report of a call tree (from a profile, folded text, or a differential tree with `other`). */
export function reportFromTree(full: CallTree, source: ReportSource, options: HtmlOptions, otherTotal?: number): ReportData {
  const pruned = pruneTree(full, options.minFraction, options.maxNodes);
  const names = new Names(options);
  const differential = full.other !== undefined && otherTotal !== undefined;
  const lists = childLists(full);
  const tree = emitPreorder(full, lists, pruned, names, differential);
  if (source.frames) {
    const frames = source.frames;
    for (let key = 0; key < full.names.length; key++) {
      const id = full.frameIds[key]!;
      if (id >= 0 && full.kinds[key] !== 'process') names.locate(names.id(full.names[key]!, full.kinds[key]!), frames[id]);
    }
  }

  const stats = full.functionSelf && full.functionTotal ? { self: full.functionSelf, total: full.functionTotal, other: undefined } : functionStats(full);
  const functions = functionRows(full, stats.self, stats.total, options.functions).map(
    ([key, self, total]): [number, number, number, number] => [names.id(full.names[key]!, full.kinds[key]!), KIND_INDEX.get(full.kinds[key]!)!, self, total],
  );
  const processes = Array.from(lists.list.subarray(lists.start[0], lists.start[1]))
    .sort((a, b) => full.total[b]! - full.total[a]!)
    .map((node): [number, number, number] => {
      const key = full.key[node]!;
      return [names.id(full.names[key]!, full.kinds[key]!), KIND_INDEX.get(full.kinds[key]!)!, full.total[node]!];
    });
  let changes: [number, number, number, number][] | undefined;
  if (differential) {
    const all = 'other' in stats && stats.other ? stats : functionStats(full);
    changes = biggestChanges(full, all.total, all.other!, otherTotal, options.functions).map(
      ([key, before, after]): [number, number, number, number] => [names.id(full.names[key]!, full.kinds[key]!), KIND_INDEX.get(full.kinds[key]!)!, before, after],
    );
  }

  const metadata = source.metadata;
  const meta = describeRun(source);
  meta.push(['Frames drawn', pruned.nodesAfter === pruned.nodesBefore
    ? `${pruned.nodesAfter.toLocaleString('en-US')} (all)`
    : `${pruned.nodesAfter.toLocaleString('en-US')} of ${pruned.nodesBefore.toLocaleString('en-US')}; frames under ${formatNumber(pruned.threshold)} ${metadata.unit ?? 'samples'} merged into "${MERGED_NAME}"`]);

  return {
    v: 1,
    title: options.title,
    subtitle: options.subtitle,
    unit: options.countName ?? metadata.unit ?? 'samples',
    inverted: options.inverted,
    kinds: KINDS.map((kind) => ({ key: kind, label: KIND_LABELS[kind], colour: legendColour(kind, options) })),
    names: names.list,
    colours: names.colours,
    locations: names.locations,
    summary: summaryLine(source, processes.length, options.countName ?? metadata.unit ?? 'samples'),
    tree,
    total: full.total[0]!,
    ...(differential ? { otherTotal } : {}),
    functions,
    processes,
    ...(changes ? { changes } : {}),
    meta,
    dropped: Object.entries(metadata.dropped ?? {}).filter(([, count]) => count > 0),
    stackQuality: stackQualityRows(metadata.extra?.stackQuality),
    notes: [...(metadata.notes ?? [])],
  };
}

/** The rows of `record`'s stack quality (src/symbolize/stack-quality.ts), read defensively: metadata may come from a file. */
function stackQualityRows(quality: unknown): ReportData['stackQuality'] {
  const binaries = (quality as { binaries?: unknown } | undefined)?.binaries;
  if (!Array.isArray(binaries)) return [];
  const number = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return binaries.slice(0, 50).map((b: Record<string, unknown>) => {
    const stopped = typeof b.stopped === 'object' && b.stopped !== null ? Object.entries(b.stopped as Record<string, unknown>) : [];
    const where = Array.isArray(b.stoppedIn) ? b.stoppedIn.filter((m): m is string => typeof m === 'string').slice(0, 3) : [];
    const why = stopped.map(([reason, n]) => `${reason} ${number(n)}`).join(', ');
    return [String(b.module ?? ''), number(b.samples), number(b.complete), number(b.framePointers), stopped.reduce((sum, [, n]) => sum + number(n), 0), why ? `${why}${where.length > 0 ? ` (in ${where.join(', ')})` : ''}` : ''];
  });
}

/**
 * The kept frames in preorder, children sorted by name (a parent's `(merged)` frame among them),
 * as the page's columns. Names are ranked once, so sorting siblings compares integers.
 */
function emitPreorder(full: CallTree, lists: ReturnType<typeof childLists>, pruned: PruneResult, names: Names, differential: boolean): ReportData['tree'] {
  const order = Array.from(full.names.keys()).sort((a, b) => compareNames(full.names[a]!, full.names[b]!));
  const rank = new Float64Array(full.names.length);
  order.forEach((key, r) => (rank[key] = r));
  // Stable sort put `(merged)`, appended last, after any sibling of the same name.
  let mergedRank = order.length - 0.5;
  for (let r = 0; r < order.length; r++) {
    if (compareNames(full.names[order[r]!]!, MERGED_NAME) > 0) {
      mergedRank = r - 0.5;
      break;
    }
  }
  const { start, list } = lists;
  const { keep, merged, mergedOther, hasMerged } = pruned;
  const n: number[] = [];
  const k: number[] = [];
  const t: number[] = [];
  const s: number[] = [];
  const c: number[] = [];
  const o: number[] | undefined = differential ? [] : undefined;
  const mergedKind = KIND_INDEX.get('merged')!;
  const nameOfKey = new Int32Array(full.names.length).fill(-1);
  const kindOfKey = Int32Array.from(full.kinds, (kind) => KIND_INDEX.get(kind)!);
  const rankOf = (entry: number): number => (entry < 0 ? mergedRank : rank[full.key[entry]!]!);
  // Entries: a node index, or -(parent + 1) for a parent's merged frame. Iterative: real stacks
  // can be thousands of frames deep.
  const pending: number[] = [0];
  const children: number[] = [];
  while (pending.length > 0) {
    const entry = pending.pop()!;
    if (entry < 0) {
      const parent = -entry - 1;
      n.push(names.id(MERGED_NAME, 'merged'));
      k.push(mergedKind);
      t.push(merged[parent]!);
      s.push(merged[parent]!);
      c.push(0);
      o?.push(mergedOther?.[parent] ?? 0);
      continue;
    }
    children.length = 0;
    for (let j = start[entry]!; j < start[entry + 1]!; j++) if (keep[list[j]!] === 1) children.push(list[j]!);
    if (hasMerged[entry] === 1) children.push(-entry - 1);
    if (children.length > 1) children.sort((a, b) => rankOf(a) - rankOf(b));
    if (entry === 0) {
      n.push(names.id('all', 'process'));
      k.push(KIND_INDEX.get('process')!);
    } else {
      const key = full.key[entry]!;
      if (nameOfKey[key] === -1) nameOfKey[key] = names.id(full.names[key]!, full.kinds[key]!);
      n.push(nameOfKey[key]!);
      k.push(kindOfKey[key]!);
    }
    t.push(full.total[entry]!);
    s.push(full.self[entry]!);
    c.push(children.length);
    o?.push(full.other?.[entry] ?? 0);
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!);
  }
  return o ? { n, k, t, s, c, o } : { n, k, t, s, c };
}

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(3);
}

/** `61 samples · 30.0 s at 99 Hz · 3 processes · 3 dropped (kernel-stack-collision 2, …)` */
function summaryLine(source: ReportSource, processes: number, unit: string): string {
  const metadata = source.metadata;
  const parts: string[] = [];
  const samples = metadata.samples ?? (unit === 'samples' ? source.totalWeight : undefined);
  if (samples !== undefined) parts.push(`${formatNumber(samples)} samples`);
  if (unit !== 'samples') parts.push(`${formatNumber(source.totalWeight)} ${unit}`);
  const duration = metadata.durationSeconds === undefined ? undefined : `${metadata.durationSeconds.toFixed(1)} s`;
  const frequency = metadata.frequencyHz === undefined ? undefined : `${metadata.frequencyHz} Hz`;
  if (duration && frequency) parts.push(`${duration} at ${frequency}`);
  else if (duration ?? frequency) parts.push((duration ?? frequency)!);
  parts.push(`${processes.toLocaleString('en-US')} ${processes === 1 ? 'process' : 'processes'}`);
  const dropped = Object.entries(metadata.dropped ?? {}).filter(([, count]) => count > 0);
  if (dropped.length > 0) {
    const count = dropped.reduce((sum, [, n]) => sum + n, 0);
    parts.push(`${formatNumber(count)} dropped (${dropped.map(([why, n]) => `${why} ${formatNumber(n)}`).join(', ')})`);
  } else if (metadata.dropped !== undefined) parts.push('none dropped');
  return parts.join(' \u00b7 ');
}

function describeRun(source: ReportSource): [string, string][] {
  const metadata = source.metadata;
  const rows: [string, string][] = [];
  const add = (label: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '') rows.push([label, String(value)]);
  };
  add('Host', metadata.host);
  add('Kernel', metadata.kernel);
  add('Command line', metadata.commandLine);
  add('Started', metadata.startTime);
  add('Frequency', metadata.frequencyHz === undefined ? undefined : `${metadata.frequencyHz} Hz`);
  add('Duration', metadata.durationSeconds === undefined ? undefined : `${metadata.durationSeconds.toFixed(1)} s`);
  add('Samples', metadata.samples === undefined ? undefined : formatNumber(metadata.samples));
  add(`Total (${metadata.unit ?? 'samples'})`, formatNumber(source.totalWeight));
  const dropped = Object.values(metadata.dropped ?? {}).reduce((sum, n) => sum + n, 0);
  add('Dropped samples', metadata.dropped === undefined ? undefined : formatNumber(dropped));
  add('Distinct stacks', formatNumber(source.distinctStacks));
  add('Distinct frames', formatNumber(source.distinctFrames));
  const inputFormat = metadata.extra?.inputFormat;
  add('Input format', typeof inputFormat === 'string' ? inputFormat : undefined);
  return rows;
}

type FunctionRow = [string, FrameKind, number, number];

/**
 * Self and total weight per function (name and kind) over every stack. A function counts once
 * per stack however often it recurses, so its total never exceeds 100 %. Returned: the union of
 * the `limit` hottest by self and by total, so the page can sort by either.
 */
export function hottestFunctions(profile: Profile, limit: number): FunctionRow[] {
  const tree = buildCallTree(profile);
  return functionRows(tree, tree.functionSelf!, tree.functionTotal!, limit).map(([key, self, total]) => [tree.names[key]!, tree.kinds[key]!, self, total]);
}

/**
 * Names that stand for a frame that could not be named (`[unknown]`, `[libc.so.6]`,
 * `[process not captured]`) or separate stacks (`-`, `--`): not functions one could optimise.
 */
export function isPlaceholder(name: string): boolean {
  return /^\[[^\]]*\]$/.test(name) || name === '-' || name === '--' || name === MERGED_NAME;
}

/** [key, self, total] of the hottest functions (process frames and placeholders left out), hottest self first. */
function functionRows(tree: CallTree, self: Float64Array, total: Float64Array, limit: number): [number, number, number][] {
  const rows: [number, number, number][] = [];
  for (let key = 0; key < tree.names.length; key++) {
    if (tree.kinds[key] !== 'process' && total[key]! > 0 && !isPlaceholder(tree.names[key]!)) rows.push([key, self[key]!, total[key]!]);
  }
  return topUnion(rows, limit, (row) => row[2], (row) => row[1]);
}

function topUnion<T>(rows: T[], limit: number, a: (row: T) => number, b: (row: T) => number): T[] {
  const chosen = new Set<T>();
  for (const key of [a, b]) {
    for (const row of rows.slice().sort((x, y) => key(y) - key(x)).slice(0, limit)) chosen.add(row);
  }
  return [...chosen].sort((x, y) => b(y) - b(x));
}

/** [key, baseline total, total] per function (once per path), biggest change in share first. */
function biggestChanges(tree: CallTree, total: Float64Array, other: Float64Array, otherTotal: number, limit: number): [number, number, number][] {
  const rows: [number, number, number][] = [];
  for (let key = 0; key < tree.names.length; key++) {
    if (tree.kinds[key] !== 'process' && (total[key]! > 0 || other[key]! > 0)) rows.push([key, other[key]!, total[key]!]);
  }
  const before = Math.max(1, otherTotal);
  const after = Math.max(1, tree.total[0]!);
  const change = (row: [number, number, number]): number => Math.abs(row[2] / after - row[1] / before);
  return rows.sort((x, y) => change(y) - change(x)).slice(0, limit);
}
