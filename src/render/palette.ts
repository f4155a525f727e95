// Reference: the palettes of flamegraph.pl (https://github.com/brendangregg/FlameGraph), so that a
// graph drawn here reads like one drawn there: same hues, same meaning of kernel/JIT/inline colours.
import type { FrameKind } from '../profile/model.js';

export const PALETTES = ['hot', 'mem', 'io', 'java', 'js', 'perl', 'red', 'green', 'blue', 'aqua', 'yellow', 'purple', 'orange'] as const;
export type PaletteName = (typeof PALETTES)[number];

export interface PaletteOptions {
  /** Colour scheme. Default `hot`. */
  readonly palette: PaletteName;
  /** Colour kernel, JIT, inline and process frames apart from user frames whatever the palette. Default true. */
  readonly colorByKind: boolean;
  /** Colours from the name's leading characters, so similar names get similar colours (flamegraph.pl `--hash`). Default false: a pseudo-random colour seeded by the whole name. */
  readonly hash: boolean;
}

export const PALETTE_DEFAULTS: PaletteOptions = Object.freeze({ palette: 'hot', colorByKind: true, hash: false });

/** The two stops of the background gradient the palette is drawn on. */
export function background(palette: PaletteName): readonly [string, string] {
  switch (palette) {
    case 'hot':
    case 'java':
    case 'js':
    case 'perl':
      return ['#eeeeee', '#eeeeb0'];
    case 'mem':
      return ['#eeeeee', '#e0e0ff'];
    case 'io':
      return ['#f8f8f8', '#e8e8e8'];
    default:
      return ['#f8f8f8', '#e8e8e8'];
  }
}

type Hue = 'red' | 'green' | 'blue' | 'aqua' | 'yellow' | 'purple' | 'orange';

const KIND_HUE: Partial<Record<FrameKind, Hue>> = { kernel: 'orange', jit: 'green', inline: 'aqua', process: 'purple' };

const ANNOTATED = /_\[([kij])\]$/;

/** 32-bit FNV-1a: stable across runs and machines, cheap per name. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Three values in [0, 1) that depend on the whole name but look random. */
function seeded(name: string): [number, number, number] {
  const a = fnv1a(name);
  const b = fnv1a(name, a ^ 0x9e3779b9);
  const c = fnv1a(name, b ^ 0x85ebca6b);
  return [a / 2 ** 32, b / 2 ** 32, c / 2 ** 32];
}

/**
 * A value in [0, 1) weighted towards the first characters, so that `ext4_read` and `ext4_write`
 * land close together. Module prefixes (`libc.so.6\`memcpy`) are skipped.
 */
function nameWeight(name: string): number {
  const tick = name.indexOf('`');
  const text = tick >= 0 ? name.slice(tick + 1) : name;
  let value = 0;
  let weight = 1;
  let max = 1;
  for (let i = 0, mod = 10; i < Math.min(3, text.length); i++, mod++) {
    value += (text.charCodeAt(i) % mod) / (mod - 1) * weight;
    max += weight;
    weight *= 0.7;
  }
  return 1 - value / max;
}

function hashed(name: string): [number, number, number] {
  const v1 = nameWeight(name);
  const v2 = nameWeight([...name].reverse().join(''));
  return [v1, v2, v2];
}

function hue(h: Hue, v: number): string {
  const n = (base: number, range: number): number => base + Math.floor(range * v);
  switch (h) {
    case 'red':
      return `rgb(${n(200, 55)},${n(50, 80)},${n(50, 80)})`;
    case 'green':
      return `rgb(${n(50, 60)},${n(200, 55)},${n(50, 60)})`;
    case 'blue':
      return `rgb(${n(80, 60)},${n(80, 60)},${n(205, 50)})`;
    case 'yellow':
      return `rgb(${n(175, 55)},${n(175, 55)},${n(50, 20)})`;
    case 'purple':
      return `rgb(${n(190, 65)},${n(80, 60)},${n(190, 65)})`;
    case 'aqua':
      return `rgb(${n(50, 60)},${n(165, 55)},${n(165, 55)})`;
    case 'orange':
      return `rgb(${n(190, 65)},${n(90, 65)},0)`;
  }
}

/** Which hue a multi-language palette gives a name, from its annotation or its shape. */
function languageHue(palette: 'java' | 'js' | 'perl', name: string, kind: FrameKind): Hue {
  const annotation = ANNOTATED.exec(name)?.[1];
  const isKernel = kind === 'kernel' || annotation === 'k';
  const isJit = kind === 'jit' || annotation === 'j';
  const isInline = kind === 'inline' || annotation === 'i';
  switch (palette) {
    case 'java':
      if (isJit) return 'green';
      if (isInline) return 'aqua';
      if (/^L?(java|javax|jdk|net|org|com|io|sun)\//.test(name) || name.includes(':::')) return 'green';
      if (name.includes('::')) return 'yellow';
      return isKernel ? 'orange' : 'red';
    case 'js':
      if (isJit) return name.includes('/') ? 'green' : 'aqua';
      if (name.includes('::')) return 'yellow';
      if (/\/.*\.js/.test(name)) return 'green';
      if (name.includes(':')) return 'aqua';
      if (name === ' ') return 'green';
      return isKernel ? 'orange' : 'red';
    case 'perl':
      if (name.includes('::')) return 'yellow';
      if (name.includes('Perl') || name.includes('.pl')) return 'green';
      return isKernel ? 'orange' : 'red';
  }
}

/** The fill colour (`rgb(r,g,b)`) of a frame. */
export function frameColor(name: string, kind: FrameKind, options: PaletteOptions = PALETTE_DEFAULTS): string {
  // flamegraph.pl draws separator frames grey: `-` between user and kernel stacks, `--` in chain graphs.
  if (name === '--') return 'rgb(160,160,160)';
  if (name === '-') return 'rgb(200,200,200)';
  const [v1, v2, v3] = options.hash ? hashed(name) : seeded(name);
  const palette = options.palette;
  if (options.colorByKind && palette !== 'java' && palette !== 'js' && palette !== 'perl') {
    const kindHue = KIND_HUE[kind];
    if (kindHue) return hue(kindHue, v1);
  }
  switch (palette) {
    case 'hot':
      return `rgb(${205 + Math.floor(50 * v3)},${Math.floor(230 * v1)},${Math.floor(55 * v2)})`;
    case 'mem':
      return `rgb(0,${190 + Math.floor(50 * v2)},${Math.floor(210 * v1)})`;
    case 'io': {
      const rg = 80 + Math.floor(60 * v1);
      return `rgb(${rg},${rg},${190 + Math.floor(55 * v2)})`;
    }
    case 'java':
    case 'js':
    case 'perl':
      return hue(languageHue(palette, name, kind), v1);
    default:
      return hue(palette, v1);
  }
}

/**
 * The colour of a frame in a differential graph: red where `delta` > 0 (grew), blue where it
 * shrank, white where nothing changed; saturation follows |delta| / `maxDelta`.
 */
export function diffColor(delta: number, maxDelta: number): string {
  if (!(maxDelta > 0) || delta === 0) return 'rgb(250,250,250)';
  const strength = Math.min(1, Math.abs(delta) / maxDelta);
  const fade = Math.round(210 * (1 - strength));
  return delta > 0 ? `rgb(255,${fade},${fade})` : `rgb(${fade},${fade},255)`;
}

export function isPalette(name: string): name is PaletteName {
  return (PALETTES as readonly string[]).includes(name);
}
