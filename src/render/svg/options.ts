import type { ProcessFrameStyle } from '../../profile/folded.js';
import { ProfileError } from '../../errors.js';
import { PALETTE_DEFAULTS, type PaletteName } from '../palette.js';

/** Options of the SVG flame graph; names follow flamegraph.pl's flags. */
export interface SvgOptions {
  /** Title; empty picks "Flame Graph", "Icicle Graph" or "Flame Chart", or the profile's own title. Default ''. */
  readonly title: string;
  /** Second line under the title; empty for none. Default ''. */
  readonly subtitle: string;
  /** Image width in pixels. Default 1200. */
  readonly width: number;
  /** Height of one frame in pixels (flamegraph.pl `--height`). Default 16. */
  readonly frameHeight: number;
  /**
   * Frames narrower than this are left out (their weight stays in their parents): pixels as a
   * number or numeric string, or a percentage of the total as `"0.5%"`. Default 0.1.
   */
  readonly minWidth: number | string;
  /** Font family. Default "Verdana". */
  readonly fontType: string;
  /** Font size in pixels. Default 12. */
  readonly fontSize: number;
  /** Average glyph width relative to the font size, used to fit labels. Default 0.59. */
  readonly fontWidth: number;
  /** Colour scheme. Default `hot`. */
  readonly palette: PaletteName;
  /** Kernel, JIT, inline and process frames in their own colours. Default true. */
  readonly colorByKind: boolean;
  /** Colours by name prefix, stable across graphs (`--hash`). Default false. */
  readonly hash: boolean;
  /** Icicle graph: root at the top. Default false. */
  readonly inverted: boolean;
  /** Merge stacks from the leaves (`--reverse`); applies when a Profile is given. Default false. */
  readonly reverse: boolean;
  /** Flame chart: stacks in their given order, only neighbours merged. Applies when a Profile is given. Default false. */
  readonly flamechart: boolean;
  /** What a count is; empty uses the profile's `metadata.unit`, else "samples". Default ''. */
  readonly countName: string;
  /** Label in front of the hovered frame's name. Default "Function:". */
  readonly nameType: string;
  /** Root frame per process for stacks that know their thread (Profile input). Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
  /** Differential trees (a CallTree with `other`): compare shares of each side's total rather than raw counts. Default true. */
  readonly normalizeDiff: boolean;
  /** Deterministic output for golden tests: no script, no interactive controls. Default false. */
  readonly deterministic: boolean;
}

export const SVG_DEFAULTS: SvgOptions = Object.freeze({
  title: '',
  subtitle: '',
  width: 1200,
  frameHeight: 16,
  minWidth: 0.1,
  fontType: 'Verdana',
  fontSize: 12,
  fontWidth: 0.59,
  palette: PALETTE_DEFAULTS.palette,
  colorByKind: PALETTE_DEFAULTS.colorByKind,
  hash: PALETTE_DEFAULTS.hash,
  inverted: false,
  reverse: false,
  flamechart: false,
  countName: '',
  nameType: 'Function:',
  processFrame: 'comm',
  normalizeDiff: true,
  deterministic: false,
});

/** The smallest weight drawn, from `minWidth` (pixels or "N%"). */
export function minWeight(minWidth: number | string, total: number, weightPerPixel: number): number {
  const text = String(minWidth).trim();
  const match = /^([0-9]*\.?[0-9]+)(%?)$/.exec(text);
  if (!match) throw new ProfileError(`minwidth must be pixels or a percentage such as 0.5%, not ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  return match[2] === '%' ? (total * value) / 100 : value * weightPerPixel;
}
