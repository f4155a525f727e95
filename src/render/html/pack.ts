import type { ReportData } from './data.js';

/**
 * Integer columns travel as text with five bits per character: a number is its 5-bit groups,
 * most significant first, every group but the last from CONTINUE and the last from LAST. Most
 * values are small (kinds, child counts, self weights of 0), so this is about half the size of
 * JSON's digits and commas, and the page's HTML parser, the larger part of its start-up on a
 * 2 MB report, has half as much to read. No character needs escaping in JSON or in a script
 * element (no quote, backslash, `<`, `>` or `&`).
 */
export const LAST = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';
export const CONTINUE = 'ghijklmnopqrstuvwxyz0123456789+/';

const LAST_CODES = Buffer.from(LAST, 'latin1');
const CONTINUE_CODES = Buffer.from(CONTINUE, 'latin1');

/** A column as packed text, or the column itself when it holds anything but safe non-negative integers. */
export function packColumn(values: readonly number[]): string | readonly number[] {
  // Written as bytes: building a string per value took ~300 ms for a 133k-frame report.
  let bytes = Buffer.allocUnsafe(Math.max(16, values.length * 2));
  let used = 0;
  const groups = new Uint8Array(11); // 2^53 needs 11 groups of five bits
  for (const value of values) {
    if (!(Number.isSafeInteger(value) && value >= 0)) return values;
    let count = 0;
    let rest = value;
    do {
      groups[count++] = rest % 32;
      rest = Math.floor(rest / 32);
    } while (rest > 0);
    if (used + count > bytes.length) {
      const grown = Buffer.allocUnsafe(bytes.length * 2 + count);
      bytes.copy(grown, 0, 0, used);
      bytes = grown;
    }
    for (let i = count - 1; i > 0; i--) bytes[used++] = CONTINUE_CODES[groups[i]!]!;
    bytes[used++] = LAST_CODES[groups[0]!]!;
  }
  return bytes.toString('latin1', 0, used);
}

/**
 * What the page embeds: the report with its tree columns and colours packed. Self weights are
 * left out: every frame's self is its total less its children's, which the page works out while
 * it reads the tree anyway (10 % of the bytes of a large report).
 */
export function packReport(data: ReportData): unknown {
  const { s: _self, k: kinds, c: children, ...columns } = data.tree;
  // Kind (under 8) and child count share one number, `c * 8 + k`: one character for nearly
  // every frame (most have at most three children) instead of two.
  if (data.kinds.length > 8) throw new Error('more than 8 frame kinds cannot share a column with child counts');
  const kc = children.map((count, i) => count * 8 + kinds[i]!);
  const tree = Object.fromEntries([...Object.entries(columns), ['kc', kc]].map(([name, column]) => [name, packColumn(column as number[])]));
  return { ...data, v: 2, tree, colours: packColumn(data.colours) };
}
