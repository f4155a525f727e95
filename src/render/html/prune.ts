import type { CallTree } from '../calltree.js';

/** What pruning kept and dropped, shown in the report so nothing disappears silently. */
export interface PruneResult {
  /** Per node: 1 when it is drawn on its own. The root always is. */
  readonly keep: Uint8Array;
  /** Per node: the summed totals of its children that were not kept (its `(merged)` child), or 0. */
  readonly merged: Float64Array;
  /** Per node, differential trees only: the other side's totals of those children. */
  readonly mergedOther?: Float64Array;
  /** Whether node i has a `(merged)` child (its merged total may be 0 in a differential tree). */
  readonly hasMerged: Uint8Array;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Smallest total a frame needed to be kept on its own. */
  readonly threshold: number;
}

export const MERGED_NAME = '(merged)';

/**
 * Frames drawn at `threshold`, a `(merged)` frame counted for each parent that loses children.
 * Parents come before their children in a CallTree, so one pass in index order suffices.
 */
function countNodes(tree: CallTree, threshold: number, keep: Uint8Array, hasMerged: Uint8Array): number {
  keep.fill(0, 0, tree.size);
  hasMerged.fill(0, 0, tree.size);
  keep[0] = 1;
  let count = 1;
  for (let i = 1; i < tree.size; i++) {
    const parent = tree.parent[i]!;
    if (keep[parent] === 0) continue;
    if (tree.total[i]! >= threshold) {
      keep[i] = 1;
      count++;
    } else if (hasMerged[parent] === 0) {
      hasMerged[parent] = 1;
      count++;
    }
  }
  return count;
}

/**
 * Which frames of `tree` the page gets: the children of each frame that are smaller than
 * `minFraction` of the whole are replaced by one `(merged)` frame carrying their summed totals,
 * so the widths of everything kept stay exact. If that still leaves more than `maxNodes` frames
 * the threshold is doubled until it does not: the page must stay small and fast whatever the
 * profile looks like.
 */
export function pruneTree(tree: CallTree, minFraction: number, maxNodes: number): PruneResult {
  const keep = new Uint8Array(tree.size);
  const hasMerged = new Uint8Array(tree.size);
  const nodesBefore = tree.size;
  const rootTotal = tree.total[0]!;
  let threshold = minFraction <= 0 ? 0 : Math.max(Number.MIN_VALUE, rootTotal * minFraction);
  let nodesAfter = countNodes(tree, threshold, keep, hasMerged);
  while (nodesAfter > maxNodes && threshold < rootTotal) {
    threshold = threshold > 0 ? threshold * 2 : 1;
    nodesAfter = countNodes(tree, threshold, keep, hasMerged);
  }
  const merged = new Float64Array(tree.size);
  const mergedOther = tree.other ? new Float64Array(tree.size) : undefined;
  for (let i = 1; i < tree.size; i++) {
    const parent = tree.parent[i]!;
    if (keep[i] === 1 || keep[parent] === 0) continue;
    merged[parent] += tree.total[i]!;
    if (mergedOther) mergedOther[parent] += tree.other![i]!;
  }
  return { keep, merged, ...(mergedOther ? { mergedOther } : {}), hasMerged, nodesBefore, nodesAfter, threshold };
}
