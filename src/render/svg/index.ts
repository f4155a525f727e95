// Reference: flamegraph.pl (https://github.com/brendangregg/FlameGraph) for the layout, the
// tooltip text and the pruning rule, so the same folded input draws the same frames.
import { ProfileError } from '../../errors.js';
import { Profile } from '../../profile/model.js';
import type { Sink } from '../../output/sink.js';
import { background, diffColor, frameColor, isPalette, type PaletteOptions } from '../palette.js';
import { buildFlameChart, buildFlameTree, profileChartStacks, type FlameNode } from '../tree.js';
import { cssFontFamily, cut, xmlText } from './escape.js';
import { coord, countText, fixed } from './format.js';
import { minWeight, SVG_DEFAULTS, type SvgOptions } from './options.js';
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

/**
 * Writes an interactive SVG flame graph of `input` (a profile, or a tree from `buildFlameTree` /
 * `buildFlameChart`, differential when its root has `otherTotal`) to `sink`, piece by piece.
 */
export async function writeSvg(input: Profile | FlameNode, sink: Sink, options: Partial<SvgOptions> = {}): Promise<void> {
  const opts: SvgOptions = { ...SVG_DEFAULTS, ...options };
  validate(opts);
  const profile = input instanceof Profile ? input : undefined;
  const root = profile
    ? opts.flamechart
      ? buildFlameChart(profileChartStacks(profile, { reverse: opts.reverse, processFrame: opts.processFrame }))
      : buildFlameTree(profile, { reverse: opts.reverse, processFrame: opts.processFrame })
    : (input as FlameNode);
  const chart = root.offset !== undefined;
  const countName = opts.countName || profile?.metadata.unit || 'samples';
  const title = opts.title || profile?.metadata.title || (chart ? 'Flame Chart' : opts.inverted ? 'Icicle Graph' : 'Flame Graph');
  const out = new Chunks(sink);

  const total = root.total;
  if (!(total > 0)) {
    await writeEmpty(out, opts, title);
    return;
  }
  const widthPerWeight = (opts.width - 2 * XPAD) / total;
  const smallest = minWeight(opts.minWidth, total, 1 / widthPerWeight);
  const diff = root.otherTotal !== undefined ? new DiffScale(root, opts.normalizeDiff) : undefined;
  const depthMax = measure(root, smallest, diff);
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
  await writeHeader(out, opts, geometry, title);
  await writeFrames(out, root, opts, geometry, countName, chart, diff);
  await out.write('</g>\n</svg>\n');
  await out.flush();
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
    root: FlameNode,
    readonly normalize: boolean,
  ) {
    this.total = root.total;
    this.otherTotal = root.otherTotal ?? 0;
  }

  delta(node: FlameNode): number {
    const other = node.otherTotal ?? 0;
    if (!this.normalize) return node.total - other;
    return node.total / this.total - (this.otherTotal > 0 ? other / this.otherTotal : 0);
  }

  /** The change shown in a tooltip: percentage points of share, or a signed count. */
  deltaText(node: FlameNode): string {
    const delta = this.delta(node);
    const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
    return this.normalize ? `${sign}${fixed(Math.abs(delta) * 100, 2)}%` : `${sign}${countText(Math.abs(delta))}`;
  }

  otherPercent(node: FlameNode): string {
    return this.otherTotal > 0 ? fixed((100 * (node.otherTotal ?? 0)) / this.otherTotal, 2) : '0.00';
  }
}

/** The deepest drawn depth; also finds the largest change for the differential colour scale. */
function measure(root: FlameNode, smallest: number, diff: DiffScale | undefined): number {
  let depthMax = 0;
  const nodes: FlameNode[] = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth > depthMax) depthMax = depth;
    if (diff && depth > 0) diff.maxDelta = Math.max(diff.maxDelta, Math.abs(diff.delta(node)));
    for (const child of node.children) {
      if (child.total < smallest || child.total <= 0) continue;
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
  return depthMax;
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

/** Children in the order flamegraph.pl draws them: its input lines sorted bytewise put `name;…` in `name` + ';' order. */
function ordered(children: readonly FlameNode[], chart: boolean): readonly FlameNode[] {
  if (chart || children.length < 2) return children;
  const keys = children.map((child, index) => ({ key: child.name + ';', kind: child.kind, index }));
  keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.index - b.index));
  return keys.map((k) => children[k.index]!);
}

async function writeFrames(out: Chunks, root: FlameNode, opts: SvgOptions, g: Geometry, countName: string, chart: boolean, diff: DiffScale | undefined): Promise<void> {
  const palette: PaletteOptions = { palette: opts.palette, colorByKind: opts.colorByKind, hash: opts.hash };
  const unit = xmlText(countName);
  const total = root.total;
  const charWidth = opts.fontSize * opts.fontWidth;
  const rectHeight = coord(opts.frameHeight - FRAME_PAD);
  const colors = new Map<string, string>();
  // Depth-first, parents before children: the browser script rebuilds the tree from this order.
  const nodes: FlameNode[] = [root];
  const starts: number[] = [0];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const start = starts.pop()!;
    const depth = depths.pop()!;
    const x1 = XPAD + start * g.widthPerWeight;
    const x2 = XPAD + (start + node.total) * g.widthPerWeight;
    const y1 = opts.inverted
      ? g.ypad1 + g.ypad3 + depth * opts.frameHeight
      : g.height - g.ypad2 - (depth + 1) * opts.frameHeight + FRAME_PAD;
    const isRoot = depth === 0;
    const shown = isRoot ? 'all' : node.name.replace(ANNOTATION, '');
    const name = xmlText(shown);
    let info: string;
    if (isRoot) {
      info = `all (${countText(node.total)} ${unit}, 100%)`;
    } else {
      // flamegraph.pl computes the percentage from the rounded count it shows.
      const rounded = Number(fixed(node.total, 0));
      info = `${name} (${countText(node.total)} ${unit}, ${fixed((100 * rounded) / total, 2)}%`;
      info += diff ? `; before ${countText(node.otherTotal ?? 0)} ${unit}, ${diff.otherPercent(node)}%; change ${diff.deltaText(node)})` : ')';
    }
    let fill: string;
    if (diff) {
      fill = diffColor(diff.delta(node), diff.maxDelta);
    } else {
      const key = `${node.kind}\0${node.name}`;
      fill = colors.get(key) ?? frameColor(node.name, isRoot ? 'user' : node.kind, palette);
      colors.set(key, fill);
    }
    const chars = Math.floor((x2 - x1) / charWidth);
    let label = '';
    if (chars >= 3) label = xmlText(chars < shown.length ? cut(shown, chars - 2) + '..' : shown);
    const w = out.write(
      `<g><title>${info}</title><rect x="${coord(x1)}" y="${coord(y1)}" width="${coord(x2 - x1)}" height="${rectHeight}" fill="${fill}" rx="2" ry="2"/>` +
        `<text x="${coord(x1 + 3)}" y="${coord(y1 + 3 + (opts.frameHeight - FRAME_PAD) / 2)}">${label}</text></g>\n`,
    );
    if (w) await w;
    const children = ordered(node.children, chart);
    let next = start + node.self;
    const pending: number[] = [];
    for (const child of children) {
      const childStart = chart ? start + (child.offset ?? 0) : next;
      next += child.total;
      if (child.total < g.minWeight || child.total <= 0) continue;
      pending.push(childStart);
    }
    // Pushed in reverse so that the leftmost child is written first.
    let p = pending.length - 1;
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i]!;
      if (child.total < g.minWeight || child.total <= 0) continue;
      nodes.push(child);
      starts.push(pending[p--]!);
      depths.push(depth + 1);
    }
  }
}

/** The `svg` entry of src/output's writers: `WriteOptions.render` holds `Partial<SvgOptions>`. */
export const svgWriter = (profile: Profile, sink: Sink, options: { readonly render?: Readonly<Record<string, unknown>> }): Promise<void> =>
  writeSvg(profile, sink, options.render as Partial<SvgOptions> | undefined);
