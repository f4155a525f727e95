import type { FlameNode } from '../tree.js';

/** What pruning kept and dropped, shown in the report so nothing disappears silently. */
export interface PruneResult {
  readonly root: FlameNode;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Smallest total a frame needed to be kept on its own. */
  readonly threshold: number;
}

export const MERGED_NAME = '(merged)';

function countNodes(node: FlameNode, threshold: number): number {
  let count = 1;
  let merged = false;
  for (const child of node.children) {
    if (child.total >= threshold) count += countNodes(child, threshold);
    else merged = true;
  }
  return merged ? count + 1 : count;
}

/**
 * A copy of `root` where the children of each frame that are smaller than `minFraction` of the
 * whole are replaced by one `(merged)` frame carrying their summed totals, so the widths of
 * everything kept stay exact. If that still leaves more than `maxNodes` frames the threshold is
 * doubled until it does not: the page must stay small and fast whatever the profile looks like.
 */
export function pruneTree(root: FlameNode, minFraction: number, maxNodes: number): PruneResult {
  const nodesBefore = countNodes(root, 0);
  let threshold = Math.max(Number.MIN_VALUE, root.total * minFraction);
  if (minFraction <= 0) threshold = 0;
  let nodesAfter = countNodes(root, threshold);
  while (nodesAfter > maxNodes && threshold < root.total) {
    threshold = threshold > 0 ? threshold * 2 : 1;
    nodesAfter = countNodes(root, threshold);
  }
  return { root: copy(root, threshold), nodesBefore, nodesAfter, threshold };
}

function copy(node: FlameNode, threshold: number): FlameNode {
  const children: FlameNode[] = [];
  let merged: FlameNode | undefined;
  for (const child of node.children) {
    if (child.total >= threshold) {
      children.push(copy(child, threshold));
      continue;
    }
    if (!merged) {
      merged = { name: MERGED_NAME, kind: 'user', frameId: -1, total: 0, self: 0, children: [] };
      if (node.otherTotal !== undefined) merged.otherTotal = merged.otherSelf = 0;
    }
    merged.total += child.total;
    merged.self += child.total;
    if (merged.otherTotal !== undefined) {
      merged.otherTotal += child.otherTotal ?? 0;
      merged.otherSelf! += child.otherTotal ?? 0;
    }
  }
  if (merged) children.push(merged);
  const result: FlameNode = { ...node, children };
  return result;
}
