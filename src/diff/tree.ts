import { CallTreeBuilder, childLists, type CallTree } from '../render/calltree.js';

/**
 * The differential tree: shaped like `shape` (its totals and self weights), with `other`'s on
 * every node that matches by name and kind along the same path (`other`, `otherSelf`; 0 where
 * the other side lacks the frame). Frames only in `other` are added with total 0, so tables count
 * them but graphs give them no width. Nodes are numbered in preorder, a node's children being
 * `shape`'s in their order, then `other`'s own in theirs.
 */
export function mergeCallTrees(shape: CallTree, other: CallTree): CallTree {
  const builder = new CallTreeBuilder();
  const otherTotal: number[] = [other.total[0]!];
  const otherSelf: number[] = [other.self[0]!];
  builder.total[0] = shape.total[0]!;
  builder.self[0] = shape.self[0]!;
  const shapeChildren = childLists(shape);
  const otherChildren = childLists(other);
  const keyOf = (tree: CallTree, node: number): string => `${tree.kinds[tree.key[node]!]}\0${tree.names[tree.key[node]!]}`;
  // Pending pairs (shape node or -1, other node or -1) under a merged parent; a stack, because
  // real stacks can be thousands of frames deep.
  const pending: [number, number, number][] = [];
  const expand = (s: number, o: number, parent: number): void => {
    const unmatched = new Map<string, number>();
    if (o >= 0) for (let j = otherChildren.start[o]!; j < otherChildren.start[o + 1]!; j++) unmatched.set(keyOf(other, otherChildren.list[j]!), otherChildren.list[j]!);
    const pairs: [number, number][] = [];
    if (s >= 0) {
      for (let j = shapeChildren.start[s]!; j < shapeChildren.start[s + 1]!; j++) {
        const child = shapeChildren.list[j]!;
        const key = keyOf(shape, child);
        pairs.push([child, unmatched.get(key) ?? -1]);
        unmatched.delete(key);
      }
    }
    for (const rest of unmatched.values()) pairs.push([-1, rest]);
    for (let i = pairs.length - 1; i >= 0; i--) pending.push([pairs[i]![0], pairs[i]![1], parent]);
  };
  expand(0, 0, 0);
  while (pending.length > 0) {
    const [s, o, parent] = pending.pop()!;
    const [tree, node] = s >= 0 ? [shape, s] : [other, o];
    const key = tree.key[node]!;
    const id = builder.child(parent, builder.keyOf(tree.names[key]!, tree.kinds[key]!, tree.frameIds[key]!));
    if (s >= 0) {
      builder.total[id] += shape.total[s]!;
      builder.self[id] += shape.self[s]!;
    }
    otherTotal[id] = (otherTotal[id] ?? 0) + (o >= 0 ? other.total[o]! : 0);
    otherSelf[id] = (otherSelf[id] ?? 0) + (o >= 0 ? other.self[o]! : 0);
    expand(s, o, id);
  }
  const tree = builder.build();
  let stacks = 0;
  for (let i = 0; i < tree.size; i++) if (tree.self[i]! > 0) stacks++;
  return {
    size: tree.size,
    names: tree.names,
    kinds: tree.kinds,
    frameIds: tree.frameIds,
    key: tree.key,
    parent: tree.parent,
    total: tree.total,
    self: tree.self,
    other: Float64Array.from(otherTotal),
    otherSelf: Float64Array.from(otherSelf),
    stacks,
  };
}
