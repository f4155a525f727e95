import type { FrameKind } from '../../profile/model.js';
import { frameColor, type PaletteName, type PaletteOptions } from '../palette.js';

/**
 * Hue family per frame kind in the HTML report, when frames are coloured by kind: user (native)
 * code keeps the palette's warm red-to-yellow, and every other kind gets a family of its own, far
 * from it and from each other (flamegraph.pl's orange kernel frames are hard to tell from the warm
 * user frames beside them).
 */
const KIND_FAMILY: Partial<Record<FrameKind, PaletteName>> = { kernel: 'blue', jit: 'green', inline: 'aqua', process: 'purple' };

/**
 * Frame colours come from the SVG's palettes (src/render/palette.ts), so `--colors` and `--hash`
 * read the same in both. They are computed here, once per distinct name, and shipped as 24-bit
 * integers: the page never needs the palette code.
 */
export function packedColour(name: string, kind: FrameKind, palette: PaletteOptions): number {
  const family = palette.colorByKind ? KIND_FAMILY[kind] : undefined;
  const colour = family ? frameColor(name, kind, { ...palette, palette: family, colorByKind: false }) : frameColor(name, kind, palette);
  const match = /rgb\((\d+),(\d+),(\d+)\)/.exec(colour);
  if (!match) return 0xdddddd;
  return (Number(match[1]) << 16) | (Number(match[2]) << 8) | Number(match[3]);
}

/** Merged frames (too narrow to draw) are grey whatever the palette. */
export const MERGED_COLOUR = 0xc8c8c8;

export const KIND_LABELS: Readonly<Record<FrameKind | 'merged', string>> = Object.freeze({
  user: 'user (native)',
  kernel: 'kernel',
  jit: 'JIT / JavaScript',
  inline: 'inlined',
  process: 'process',
  merged: 'merged small frames',
});

/** A representative colour per kind for the legend. */
export function legendColour(kind: FrameKind | 'merged', palette: PaletteOptions): number {
  return kind === 'merged' ? MERGED_COLOUR : packedColour(`${kind}-legend`, kind, palette);
}
