import type { FrameKind } from '../../profile/model.js';
import { frameColor, type PaletteOptions } from '../palette.js';

/**
 * Frame colours of the HTML report come from the SVG's palettes (src/render/palette.ts), so
 * `--colors`, `--hash` and the kind colours read the same in both. They are computed here, once
 * per distinct name, and shipped as 24-bit integers: the page never needs the palette code.
 */
export function packedColour(name: string, kind: FrameKind, palette: PaletteOptions): number {
  const match = /rgb\((\d+),(\d+),(\d+)\)/.exec(frameColor(name, kind, palette));
  if (!match) return 0xdddddd;
  return (Number(match[1]) << 16) | (Number(match[2]) << 8) | Number(match[3]);
}

/** Merged frames (too narrow to draw) are grey whatever the palette. */
export const MERGED_COLOUR = 0xd4d4d4;

export const KIND_LABELS: Readonly<Record<FrameKind | 'merged', string>> = Object.freeze({
  user: 'user',
  kernel: 'kernel',
  jit: 'JIT',
  inline: 'inlined',
  process: 'process',
  merged: 'merged (too narrow to draw)',
});

/** A representative colour per kind for the legend. */
export function legendColour(kind: FrameKind | 'merged', palette: PaletteOptions): number {
  return kind === 'merged' ? MERGED_COLOUR : packedColour(`${kind}-legend`, kind, palette);
}
