/**
 * Numbers formatted as flamegraph.pl's Perl `sprintf` does, so tooltips match its output exactly:
 * C's printf rounds an exact tie to even, JavaScript's toFixed rounds it up.
 */

/** `sprintf("%.Nf", x)` for N = 0 or 2. */
export function fixed(x: number, digits: 0 | 2): string {
  // A tie at N decimals needs x·10^N + ½ to be exact: only multiples of 1/2 (N = 0) or 1/8 (N = 2).
  const scale = digits === 0 ? 2 : 8;
  const scaled = x * scale;
  if (Number.isInteger(scaled) && Math.abs(scaled) % 2 === 1) {
    const units = digits === 0 ? x : x * 100;
    const down = Math.floor(units);
    const even = down % 2 === 0 ? down : down + 1;
    return digits === 0 ? even.toFixed(0) : (even / 100).toFixed(2);
  }
  return x.toFixed(digits);
}

/** A count as flamegraph.pl shows it: rounded to an integer, thousands separated by commas. */
export function countText(count: number): string {
  const text = fixed(count, 0);
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A coordinate: at most two decimals, no trailing zeros (stable across runs, compact). */
export function coord(x: number): string {
  return String(Math.round(x * 100) / 100);
}
