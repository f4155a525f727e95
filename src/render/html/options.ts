import type { ProcessFrameStyle } from '../../profile/folded.js';
import { isPalette, PALETTE_DEFAULTS, type PaletteOptions } from '../palette.js';

/** Palette options (`palette`, `hash`, `colorByKind`) are shared with the SVG (src/render/palette.ts). */
export interface HtmlOptions extends PaletteOptions {
  /** Page and graph title. Default `Flame Graph`. */
  readonly title: string;
  /** Second line under the title. Default empty. */
  readonly subtitle: string;
  /** Start as an icicle (root on top) instead of a flame. Default false. */
  readonly inverted: boolean;
  /** Merge stacks from the leaves (FlameGraph's `--reverse`). Default false. */
  readonly reverse: boolean;
  /** What a unit of weight is called; default the profile's unit, else `samples`. */
  readonly countName?: string;
  /**
   * Frames smaller than this fraction of the whole are merged into one `(merged)` frame per
   * parent before they reach the page. Default 1e-5 (10 samples in a million): invisible even
   * zoomed in 50× on a 2,000 px screen, and it keeps a 200k-stack profile well under 10 MB.
   */
  readonly minFraction: number;
  /** Upper bound on frames embedded; the merge threshold doubles until it holds. Default 150,000. */
  readonly maxNodes: number;
  /** Rows of the hottest-functions table (by self and by total, merged). Default 500. */
  readonly functions: number;
  /** Root frame per process for stacks that know their thread. Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
}

export const HTML_DEFAULTS: HtmlOptions = Object.freeze({
  title: 'Flame Graph',
  subtitle: '',
  inverted: false,
  reverse: false,
  minFraction: 1e-5,
  maxNodes: 150_000,
  functions: 500,
  processFrame: 'comm',
  ...PALETTE_DEFAULTS,
});

/** Picks the HTML report's options out of the shared `render` section of the write options. */
export function htmlOptionsFrom(render: Readonly<Record<string, unknown>> = {}): HtmlOptions {
  const pick = <K extends keyof HtmlOptions>(key: K, type: string): Partial<HtmlOptions> =>
    typeof render[key] === type ? { [key]: render[key] } : {};
  return {
    ...HTML_DEFAULTS,
    ...(typeof render.title === 'string' && render.title !== '' ? { title: render.title } : {}),
    ...pick('subtitle', 'string'),
    ...pick('inverted', 'boolean'),
    ...(typeof render.countName === 'string' && render.countName !== '' ? { countName: render.countName } : {}),
    ...pick('reverse', 'boolean'),
    ...pick('minFraction', 'number'),
    ...pick('maxNodes', 'number'),
    ...pick('functions', 'number'),
    ...pick('processFrame', 'string'),
    ...pick('hash', 'boolean'),
    ...pick('colorByKind', 'boolean'),
    ...(typeof render.palette === 'string' && isPalette(render.palette) ? { palette: render.palette } : {}),
  };
}
