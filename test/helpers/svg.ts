/** Reading flame-graph SVGs back in tests: ours and flamegraph.pl's share the frame markup. */

export interface SvgFrame {
  readonly title: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly fill: string;
}

const FRAME = /<g[^>]*>\s*<title>([^<]*)<\/title>\s*<rect x="([^"]*)" y="([^"]*)" width="([^"]*)" height="[^"]*" fill="([^"]*)"/g;

/** Every frame (`<g><title/><rect/>…`) of a flame-graph SVG, in document order; titles stay XML-escaped. */
export function svgFrames(svg: string): SvgFrame[] {
  return [...svg.matchAll(FRAME)].map((m) => ({ title: m[1]!, x: Number(m[2]), y: Number(m[3]), width: Number(m[4]), fill: m[5]! }));
}

/** Compares with a golden file; see ./golden.ts. */
export { golden } from './golden.js';
