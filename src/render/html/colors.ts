import type { FrameKind } from '../../profile/model.js';

/**
 * Frame colours of the HTML report, per kind: a hue range the page picks from by hashing the
 * name, so neighbouring frames differ while a kind keeps one family of colours. Kept in this one
 * place so the report can follow src/render/palette.ts when the SVG palettes land.
 * Each entry is [hue from, hue to, saturation %, lightness from %, lightness to %].
 */
export type ColourRange = readonly [number, number, number, number, number];

export const KIND_COLOURS: Readonly<Record<FrameKind | 'merged', ColourRange>> = Object.freeze({
  // FlameGraph's "java" palette convention: kernel orange, user red-yellow, JIT green, inline aqua.
  kernel: [28, 42, 90, 50, 60],
  user: [0, 18, 75, 58, 70],
  jit: [95, 130, 55, 45, 58],
  inline: [175, 195, 60, 48, 60],
  process: [220, 240, 30, 70, 80],
  merged: [0, 0, 0, 80, 86],
});

export const KIND_LABELS: Readonly<Record<FrameKind | 'merged', string>> = Object.freeze({
  kernel: 'kernel',
  user: 'user',
  jit: 'JIT',
  inline: 'inlined',
  process: 'process',
  merged: 'merged (too narrow to draw)',
});
