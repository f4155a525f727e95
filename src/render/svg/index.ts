// Reference: flamegraph.pl (https://github.com/brendangregg/FlameGraph) for the layout, the
// tooltip text and the pruning rule, so the same folded input draws the same frames.
import type { Readable } from 'node:stream';
import { ProfileError } from '../../errors.js';
import { Profile, type FrameKind } from '../../profile/model.js';
import type { Sink } from '../../io/sink.js';
import { background, diffColor, frameColor, isPalette, type PaletteOptions } from '../palette.js';
import { childLists, type CallTree } from '../calltree.js';
import { cssFontFamily, cut, xmlText } from './escape.js';
import { coord, countText, fixed } from './format.js';
import { minWeight, SVG_DEFAULTS, type SvgOptions } from './options.js';
import { foldedStacks, profileStacks, type Stacks } from './stacks.js';
import { svgTemplates } from './templates.js';

export { SVG_DEFAULTS, type SvgOptions } from './options.js';

const XPAD = 10;
const FRAME_PAD = 1;
// Output is handed to the sink in pieces of about this many characters: large enough that the
// per-write cost vanishes, small enough that a 200k-stack graph never exists as one string.
const CHUNK = 1 << 16;

/** FlameGraph's annotation suffixes (`_[k]` kernel, `_[j]` JIT, `_[i]` inline, `_[w]` waker) are shown without. */
const ANNOTATION = /_\[[kwij]\]$/;

interface Geometry {
  readonly width: number;
  readonly height: number;
  readonly ypad1: number;
  readonly ypad2: number;
  readonly ypad3: number;
  readonly widthPerWeight: number;
  readonly minWeight: number;
}

/** A frame to draw: weight units for position and width, depth 0 for the root. */
interface Drawn {
  readonly name: string;
  readonly kind: FrameKind;
  readonly depth: number;
  readonly start: number;
  readonly weight: number;
  /** Trees only: the node, for the other side's counts in a differential tree. */
  readonly node?: number;
}

/**
 * Writes an interactive SVG flame graph of `input` to `sink`, piece by piece. A profile is laid
 * out from its sorted stacks the way flamegraph.pl does (no tree in memory, only the frames wide
 * enough to draw); a call tree (src/diff's differential tree, with `other`) is drawn as given.
 */
export async function writeSvg(input: Profile | CallTree, sink: Sink, options: Partial<SvgOptions> = {}): Promise<void> {
  const opts: SvgOptions = { ...SVG_DEFAULTS, ...options };
  validate(opts);
  if (input instanceof Profile) {
    const stacks = profileStacks(input, opts);
    await render(sink, opts, stacks.total, (smallest) => flowLayout(stacks, smallest), {
      countName: opts.countName || input.metadata.unit || 'samples',
      title: opts.title || input.metadata.title || defaultTitle(opts, opts.flamechart),
    });
    return;
  }
  const tree = input;
  const diff = tree.other !== undefined ? new DiffScale(tree, opts.normalizeDiff) : undefined;
  await render(sink, opts, tree.total[0]!, (smallest) => treeLayout(tree, smallest), { countName: opts.countName || 'samples', title: opts.title || defaultTitle(opts, false), diff });
}

/**
 * The SVG of folded text read straight from `input` (`file` names it in errors): the fast path
 * for `profile render` of folded files, with no Profile in between. Same output as
 * `writeSvg(await readFolded(…))`; for a flame chart every line stays where it is.
 */
export async function writeSvgFromFolded(input: Readable, file: string, sink: Sink, options: Partial<SvgOptions> = {}): Promise<void> {
  const opts: SvgOptions = { ...SVG_DEFAULTS, ...options };
  validate(opts);
  const stacks = await foldedStacks(input, file, opts);
  await render(sink, opts, stacks.total, (smallest) => flowLayout(stacks, smallest), {
    countName: opts.countName || 'samples',
    title: opts.title || defaultTitle(opts, opts.flamechart),
  });
}

function defaultTitle(opts: SvgOptions, chart: boolean): string {
  return chart ? 'Flame Chart' : opts.inverted ? 'Icicle Graph' : 'Flame Graph';
}

async function render(
  sink: Sink,
  opts: SvgOptions,
  total: number,
  layout: (smallest: number) => Drawn[],
  text: { readonly countName: string; readonly title: string; readonly diff?: DiffScale },
): Promise<void> {
  const out = new Chunks(sink);
  if (!(total > 0)) {
    await writeEmpty(out, opts, text.title);
    return;
  }
  const widthPerWeight = (opts.width - 2 * XPAD) / total;
  const smallest = minWeight(opts.minWidth, total, 1 / widthPerWeight);
  const frames = layout(smallest);
  let depthMax = 0;
  for (const frame of frames) {
    if (frame.depth > depthMax) depthMax = frame.depth;
    if (text.diff && frame.node !== undefined && frame.depth > 0) text.diff.maxDelta = Math.max(text.diff.maxDelta, Math.abs(text.diff.delta(frame.node)));
  }
  const ypad1 = opts.fontSize * 3;
  const ypad2 = opts.fontSize * 2 + 10;
  const ypad3 = opts.subtitle ? opts.fontSize * 2 : 0;
  const geometry: Geometry = {
    width: opts.width,
    height: (depthMax + 1) * opts.frameHeight + ypad1 + ypad2 + ypad3,
    ypad1,
    ypad2,
    ypad3,
    widthPerWeight,
    minWeight: smallest,
  };
  await writeHeader(out, opts, geometry, text.title);
  await writeFrames(out, frames, total, opts, geometry, text.countName, text.diff);
  await out.write('</g>\n</svg>\n');
  await out.flush();
}

/**
 * flamegraph.pl's layout: walk the stacks in order, a frame starts where a stack first reaches
 * it and ends where the next stack leaves it. Only frames at least `smallest` wide are kept;
 * they come out parents first (children right to left), as the browser script expects.
 */
function flowLayout(stacks: Stacks, smallest: number): Drawn[] {
  const drawn: Drawn[] = [];
  const { pool, offsets, names, kinds } = stacks;
  // The frames of the previous stack, as positions in pool, and when each started.
  let previous = 0;
  let previousLength = 0;
  const starts: number[] = [];
  let time = 0;
  const close = (from: number): void => {
    for (let i = previousLength - 1; i >= from; i--) {
      const weight = time - starts[i]!;
      const id = pool[previous + i]!;
      if (weight >= smallest && weight > 0) drawn.push({ name: names[id]!, kind: kinds[id]!, depth: i + 1, start: starts[i]!, weight });
    }
  };
  for (const s of stacks.order) {
    const begin = offsets[s]!;
    const length = offsets[s + 1]! - begin;
    let same = 0;
    while (same < previousLength && same < length && pool[previous + same] === pool[begin + same]) same++;
    close(same);
    for (let i = same; i < length; i++) starts[i] = time;
    time += stacks.weights[s]!;
    previous = begin;
    previousLength = length;
  }
  close(0);
  drawn.push({ name: 'all', kind: 'user', depth: 0, start: 0, weight: stacks.total });
  return drawn.reverse();
}

/** Children in flamegraph.pl's order (`name;` sorted, see stacks.ts), so the frames line up with its graphs. */
function ordered(tree: CallTree, children: Int32Array): Int32Array {
  if (children.length < 2) return children;
  const keys = Array.from(children, (child, index) => ({ key: tree.names[tree.key[child]!]! + ';', kind: tree.kinds[tree.key[child]!]!, index }));
  keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.index - b.index));
  return Int32Array.from(keys, (k) => children[k.index]!);
}

/** The frames of a tree wide enough to draw, parents first. */
function treeLayout(tree: CallTree, smallest: number): Drawn[] {
  const drawn: Drawn[] = [];
  const { start: first, list } = childLists(tree);
  const pending: { node: number; start: number; depth: number }[] = [{ node: 0, start: 0, depth: 0 }];
  while (pending.length > 0) {
    const { node, start, depth } = pending.pop()!;
    const key = tree.key[node]!;
    drawn.push({ name: depth === 0 ? 'all' : tree.names[key]!, kind: depth === 0 ? 'user' : tree.kinds[key]!, depth, start, weight: tree.total[node]!, node });
    const next: { node: number; start: number; depth: number }[] = [];
    let offset = start + tree.self[node]!;
    for (const child of ordered(tree, list.subarray(first[node], first[node + 1]))) {
      const total = tree.total[child]!;
      const childStart = offset;
      offset += total;
      if (total >= smallest && total > 0) next.push({ node: child, start: childStart, depth: depth + 1 });
    }
    // Reversed so that the leftmost child is written first.
    for (let i = next.length - 1; i >= 0; i--) pending.push(next[i]!);
  }
  return drawn;
}

function validate(opts: SvgOptions): void {
  const positive = (name: string, value: number): void => {
    if (!(Number.isFinite(value) && value > 0)) throw new ProfileError(`${name} must be a positive number, not ${value}`);
  };
  positive('width', opts.width);
  positive('frame height', opts.frameHeight);
  positive('font size', opts.fontSize);
  positive('font width', opts.fontWidth);
  if (opts.width <= 2 * XPAD) throw new ProfileError(`width must be more than ${2 * XPAD} pixels`);
  if (!isPalette(opts.palette)) throw new ProfileError(`unknown palette ${JSON.stringify(opts.palette)}`);
}

/** Collects small strings and hands them to the sink in large pieces, awaiting back-pressure. */
class Chunks {
  private parts: string[] = [];
  private length = 0;
  constructor(private readonly sink: Sink) {}

  /** Queues `text`; resolves at once unless a piece is due. */
  write(text: string): Promise<void> | void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= CHUNK) return this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.length = 0;
    await this.sink.write(text);
  }
}

/** How a differential tree is coloured: by change in share of each side's total, or in raw counts. */
class DiffScale {
  maxDelta = 0;
  private readonly total: number;
  private readonly otherTotal: number;
  constructor(
    private readonly tree: CallTree,
    readonly normalize: boolean,
  ) {
    this.total = tree.total[0]!;
    this.otherTotal = tree.other?.[0] ?? 0;
  }

  /** The other side's total at `node`. */
  other(node: number): number {
    return this.tree.other?.[node] ?? 0;
  }

  delta(node: number): number {
    const other = this.other(node);
    const total = this.tree.total[node]!;
    if (!this.normalize) return total - other;
    return total / this.total - (this.otherTotal > 0 ? other / this.otherTotal : 0);
  }

  /** The change shown in a tooltip: percentage points of share, or a signed count. */
  deltaText(node: number): string {
    const delta = this.delta(node);
    const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
    return this.normalize ? `${sign}${fixed(Math.abs(delta) * 100, 2)}%` : `${sign}${countText(Math.abs(delta))}`;
  }

  otherPercent(node: number): string {
    return this.otherTotal > 0 ? fixed((100 * this.other(node)) / this.otherTotal, 2) : '0.00';
  }
}

async function writeEmpty(out: Chunks, opts: SvgOptions, title: string): Promise<void> {
  const height = opts.fontSize * 5;
  await out.write(
    `<?xml version="1.0" standalone="no"?>\n` +
      `<svg version="1.1" width="${opts.width}" height="${height}" viewBox="0 0 ${opts.width} ${height}" xmlns="http://www.w3.org/2000/svg">\n` +
      `<text x="${coord(opts.width / 2)}" y="${coord(opts.fontSize * 2)}" text-anchor="middle" font-family="${cssFontFamily(opts.fontType)}" font-size="${opts.fontSize + 5}">${xmlText(title)}</text>\n` +
      `<text x="${coord(opts.width / 2)}" y="${coord(opts.fontSize * 4)}" text-anchor="middle" font-family="${cssFontFamily(opts.fontType)}" font-size="${opts.fontSize}">No samples to draw</text>\n` +
      `</svg>\n`,
  );
  await out.flush();
}

async function writeHeader(out: Chunks, opts: SvgOptions, g: Geometry, title: string): Promise<void> {
  const { width, height } = g;
  const [top, bottom] = background(opts.palette);
  const { script, style } = svgTemplates();
  const font = cssFontFamily(opts.fontType);
  const parts = [
    `<?xml version="1.0" standalone="no"?>\n`,
    `<svg version="1.1" width="${width}" height="${coord(height)}" viewBox="0 0 ${width} ${coord(height)}" xmlns="http://www.w3.org/2000/svg">\n`,
    `<!-- Flame graph drawn by profile. Layout and colours follow FlameGraph's flamegraph.pl; click a frame to zoom, Ctrl-F to search. -->\n`,
    `<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0"><stop stop-color="${top}" offset="5%"/><stop stop-color="${bottom}" offset="95%"/></linearGradient></defs>\n`,
    `<style type="text/css"><![CDATA[\ntext { font-family: ${font}; font-size: ${opts.fontSize}px; fill: rgb(0,0,0); }\n#title { font-size: ${opts.fontSize + 5}px; }\n${style}]]></style>\n`,
  ];
  if (!opts.deterministic) parts.push(`<script type="text/ecmascript"><![CDATA[\n${script}]]></script>\n`);
  parts.push(
    `<rect x="0" y="0" width="${width}" height="${coord(height)}" fill="url(#background)"/>\n`,
    `<text id="title" x="${coord(width / 2)}" y="${coord(opts.fontSize * 2)}">${xmlText(title)}</text>\n`,
  );
  if (opts.subtitle) parts.push(`<text id="subtitle" x="${coord(width / 2)}" y="${coord(opts.fontSize * 4)}">${xmlText(opts.subtitle)}</text>\n`);
  if (!opts.deterministic) {
    const bottomLine = coord(height - g.ypad2 / 2);
    parts.push(
      `<text id="details" x="${XPAD}" y="${bottomLine}"> </text>\n`,
      `<text id="unzoom" class="hide" x="${XPAD}" y="${coord(opts.fontSize * 2)}">Reset Zoom</text>\n`,
      `<text id="search" x="${width - XPAD - 100}" y="${coord(opts.fontSize * 2)}">Search</text>\n`,
      `<text id="ignorecase" x="${width - XPAD - 16}" y="${coord(opts.fontSize * 2)}">ic</text>\n`,
      `<text id="matched" x="${width - XPAD - 100}" y="${bottomLine}"> </text>\n`,
    );
  }
  parts.push(
    `<g id="frames" data-inverted="${opts.inverted ? 1 : 0}" data-font-size="${opts.fontSize}" data-font-width="${opts.fontWidth}" data-xpad="${XPAD}" data-name-type="${xmlText(opts.nameType)}">\n`,
  );
  for (const part of parts) await out.write(part);
}

async function writeFrames(out: Chunks, frames: readonly Drawn[], total: number, opts: SvgOptions, g: Geometry, countName: string, diff: DiffScale | undefined): Promise<void> {
  const palette: PaletteOptions = { palette: opts.palette, colorByKind: opts.colorByKind, hash: opts.hash };
  const unit = xmlText(countName);
  const charWidth = opts.fontSize * opts.fontWidth;
  const rectHeight = coord(opts.frameHeight - FRAME_PAD);
  const colors = new Map<string, string>();
  for (const frame of frames) {
    const x1 = XPAD + frame.start * g.widthPerWeight;
    const width = frame.weight * g.widthPerWeight;
    const y1 = opts.inverted
      ? g.ypad1 + g.ypad3 + frame.depth * opts.frameHeight
      : g.height - g.ypad2 - (frame.depth + 1) * opts.frameHeight + FRAME_PAD;
    const shown = frame.name.replace(ANNOTATION, '');
    const name = xmlText(shown);
    let info: string;
    if (frame.depth === 0) {
      info = `all (${countText(frame.weight)} ${unit}, 100%)`;
    } else {
      // flamegraph.pl computes the percentage from the rounded count it shows.
      const rounded = Number(fixed(frame.weight, 0));
      info = `${name} (${countText(frame.weight)} ${unit}, ${fixed((100 * rounded) / total, 2)}%`;
      const node = frame.node;
      info += diff && node !== undefined ? `; before ${countText(diff.other(node))} ${unit}, ${diff.otherPercent(node)}%; change ${diff.deltaText(node)})` : ')';
    }
    let fill: string;
    if (diff && frame.node !== undefined) {
      fill = diffColor(diff.delta(frame.node), diff.maxDelta);
    } else {
      const key = `${frame.kind}\0${frame.name}`;
      fill = colors.get(key) ?? frameColor(frame.name, frame.kind, palette);
      colors.set(key, fill);
    }
    const chars = Math.floor(width / charWidth);
    let label = '';
    if (chars >= 3) label = xmlText(chars < shown.length ? cut(shown, chars - 2) + '..' : shown);
    const pending = out.write(
      `<g><title>${info}</title><rect x="${coord(x1)}" y="${coord(y1)}" width="${coord(width)}" height="${rectHeight}" fill="${fill}" rx="2" ry="2"/>` +
        `<text x="${coord(x1 + 3)}" y="${coord(y1 + 3 + (opts.frameHeight - FRAME_PAD) / 2)}">${label}</text></g>\n`,
    );
    if (pending) await pending;
  }
}

/** The `svg` entry of src/output's writers: `WriteOptions.render` holds `Partial<SvgOptions>`. */
export const svgWriter = (profile: Profile, sink: Sink, options: { readonly render?: Readonly<Record<string, unknown>> }): Promise<void> =>
  writeSvg(profile, sink, options.render as Partial<SvgOptions> | undefined);
