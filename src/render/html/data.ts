import type { FrameKind, Profile, RunMetadata } from '../../profile/model.js';
import { buildFlameTree, type FlameNode } from '../tree.js';
import { KIND_LABELS, legendColour, MERGED_COLOUR, packedColour } from './colors.js';
import { MERGED_NAME, pruneTree } from './prune.js';
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
  /** Per kind: its label and a legend colour (0xRRGGBB). */
  readonly kinds: readonly { readonly label: string; readonly colour: number }[];
  readonly names: readonly string[];
  /** Fill colour (0xRRGGBB) per name index, from the palette and the kind the name was first seen with. */
  readonly colours: readonly number[];
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
  /** Hottest functions over the whole (unpruned) profile: [name index, kind index, self, total]. */
  readonly functions: [number, number, number, number][];
  /** Root frames (processes): [name index, kind index, total]. */
  readonly processes: [number, number, number][];
  /** Differential reports only: [name index, kind index, baseline total, total], biggest change first. */
  readonly changes?: [number, number, number, number][];
  readonly meta: [string, string][];
  readonly dropped: [string, number][];
  readonly notes: string[];
}

/** A differential input: a tree whose nodes carry `otherTotal`, and the baseline's total. */
export interface DiffInput {
  readonly tree: FlameNode;
  readonly otherTotal: number;
}

function kindOf(node: FlameNode): ReportKind {
  return node.frameId === -1 && node.name === MERGED_NAME ? 'merged' : node.kind;
}

class Names {
  readonly list: string[] = [];
  readonly colours: number[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly palette: PaletteOptions) {}
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

const byName = (a: FlameNode, b: FlameNode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Builds the data of an HTML report; `diff` turns it into a differential report. */
export function prepareReport(profile: Profile, options: HtmlOptions, diff?: DiffInput): ReportData {
  const full = diff?.tree ?? buildFlameTree(profile, { processFrame: options.processFrame, reverse: options.reverse });
  const pruned = pruneTree(full, options.minFraction, options.maxNodes);
  const names = new Names(options);
  const differential = diff !== undefined;
  const tree = { n: [] as number[], k: [] as number[], t: [] as number[], s: [] as number[], c: [] as number[], o: differential ? ([] as number[]) : undefined };
  // Iterative preorder: real stacks can be thousands of frames deep.
  const pending: FlameNode[] = [pruned.root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    const kind = kindOf(node);
    tree.n.push(names.id(node.name, kind));
    tree.k.push(KIND_INDEX.get(kind)!);
    tree.t.push(node.total);
    tree.s.push(node.self);
    tree.c.push(node.children.length);
    tree.o?.push(node.otherTotal ?? 0);
    const children = node.children.slice().sort(byName);
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!);
  }

  const functions = hottestFunctions(profile, options.functions).map(
    ([name, kind, self, total]): [number, number, number, number] => [names.id(name, kind), KIND_INDEX.get(kind)!, self, total],
  );
  const processes = full.children
    .slice()
    .sort((a, b) => b.total - a.total)
    .map((node): [number, number, number] => [names.id(node.name, kindOf(node)), KIND_INDEX.get(kindOf(node))!, node.total]);
  const changes = differential ? biggestChanges(full, options.functions).map(
    ([name, kind, before, after]): [number, number, number, number] => [names.id(name, kind), KIND_INDEX.get(kind)!, before, after],
  ) : undefined;

  const metadata = profile.metadata;
  const meta = describeRun(profile, metadata);
  meta.push(['Frames drawn', pruned.nodesAfter === pruned.nodesBefore
    ? `${pruned.nodesAfter.toLocaleString('en-US')} (all)`
    : `${pruned.nodesAfter.toLocaleString('en-US')} of ${pruned.nodesBefore.toLocaleString('en-US')}; frames under ${formatNumber(pruned.threshold)} ${metadata.unit ?? 'samples'} merged into "${MERGED_NAME}"`]);

  return {
    v: 1,
    title: options.title,
    subtitle: options.subtitle,
    unit: options.countName ?? metadata.unit ?? 'samples',
    inverted: options.inverted,
    kinds: KINDS.map((kind) => ({ label: KIND_LABELS[kind], colour: legendColour(kind, options) })),
    names: names.list,
    colours: names.colours,
    tree: tree.o ? tree : { n: tree.n, k: tree.k, t: tree.t, s: tree.s, c: tree.c },
    total: full.total,
    ...(differential ? { otherTotal: diff.otherTotal } : {}),
    functions,
    processes,
    ...(changes ? { changes } : {}),
    meta,
    dropped: Object.entries(metadata.dropped ?? {}).filter(([, count]) => count > 0),
    notes: [...(metadata.notes ?? [])],
  };
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(3);
}

function describeRun(profile: Profile, metadata: RunMetadata): [string, string][] {
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
  add(`Total (${metadata.unit ?? 'samples'})`, formatNumber(profile.totalWeight));
  const dropped = Object.values(metadata.dropped ?? {}).reduce((sum, n) => sum + n, 0);
  add('Dropped samples', metadata.dropped === undefined ? undefined : formatNumber(dropped));
  add('Distinct stacks', formatNumber(profile.stacks.length));
  add('Distinct frames', formatNumber(profile.frames.length));
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
  const keyOfFrame: number[] = [];
  const keys = new Map<string, number>();
  const rows: FunctionRow[] = [];
  profile.frames.forEach((frame, id) => {
    const key = `${frame.kind}\0${frame.name}`;
    let index = keys.get(key);
    if (index === undefined) {
      index = rows.length;
      keys.set(key, index);
      rows.push([frame.name, frame.kind, 0, 0]);
    }
    keyOfFrame[id] = index;
  });
  const lastStack = new Int32Array(rows.length).fill(-1);
  profile.stacks.forEach((stack, stackIndex) => {
    const frames = stack.frames;
    for (const id of frames) {
      const index = keyOfFrame[id]!;
      if (lastStack[index] === stackIndex) continue;
      lastStack[index] = stackIndex;
      rows[index]![3] += stack.weight;
    }
    if (frames.length > 0) rows[keyOfFrame[frames[frames.length - 1]!]!]![2] += stack.weight;
  });
  return topUnion(rows.filter((row) => row[3] > 0), limit, (row) => row[2], (row) => row[3]);
}

function topUnion<T>(rows: T[], limit: number, a: (row: T) => number, b: (row: T) => number): T[] {
  const chosen = new Set<T>();
  for (const key of [a, b]) {
    for (const row of rows.slice().sort((x, y) => key(y) - key(x)).slice(0, limit)) chosen.add(row);
  }
  return [...chosen].sort((x, y) => b(y) - b(x));
}

/** Per function, both sides' totals (once per path, like `hottestFunctions`), biggest change in share first. */
function biggestChanges(root: FlameNode, limit: number): FunctionRow[] {
  const rows = new Map<string, FunctionRow>();
  const onPath = new Map<string, number>();
  const visit = (node: FlameNode): void => {
    const key = `${node.kind}\0${node.name}`;
    const outermost = !onPath.get(key);
    if (outermost && node !== root && node.frameId !== -1) {
      let row = rows.get(key);
      if (!row) rows.set(key, (row = [node.name, node.kind, 0, 0]));
      row[2] += node.otherTotal ?? 0;
      row[3] += node.total;
    }
    onPath.set(key, (onPath.get(key) ?? 0) + 1);
    for (const child of node.children) visit(child);
    onPath.set(key, onPath.get(key)! - 1);
  };
  visit(root);
  const before = Math.max(1, root.otherTotal ?? 0);
  const after = Math.max(1, root.total);
  const change = (row: FunctionRow): number => Math.abs(row[3] / after - row[2] / before);
  return [...rows.values()].sort((x, y) => change(y) - change(x)).slice(0, limit);
}
