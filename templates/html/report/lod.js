// Level of detail: what d3-flame-graph is handed. Frames narrower than MIN_PX at the current zoom
// are merged, per parent, into one "(N small frames)" frame carrying their summed weight, so the
// number of SVG elements is bounded by the screen (each level holds at most one frame per pixel
// plus one merged frame per parent), not by the profile. The tree is rebuilt for whatever a click
// zooms into, and a merged frame can itself be zoomed into, so no detail is lost.

export const MIN_PX = 1;

export const smallFramesName = (count) => `(${count} small frame${count === 1 ? '' : 's'})`;

/**
 * The tree for `focus` (`{ node }`, or `{ node: parent, members }` for a merged frame) at `width`
 * pixels: the focus's ancestors as faded frames spanning the width (d3-flame-graph's own look for
 * a zoomed graph), then the focus and what of its subtree is at least MIN_PX wide.
 * Nodes: { name, value, i (column index, -1 for a merged frame), k (kind index, -1 merged),
 * g and p (a merged frame's members and their parent), d (differential: change of weight), fade }.
 */
export function lodTree(tree, names, focus, width, delta) {
  const { n, k, t, size, parent } = tree;
  let count = 0;
  const make = (i, fade) => {
    count++;
    const node = { name: names[n[i]], value: t[i], i, k: k[i], children: [] };
    if (fade) node.fade = true;
    if (delta) node.d = delta[i];
    return node;
  };
  const group = (members, parentIndex, sum) => {
    count++;
    const node = { name: smallFramesName(members.length), value: sum, i: -1, k: -1, g: members, p: parentIndex, children: [] };
    if (delta) node.d = members.reduce((s, m) => s + delta[m], 0);
    return node;
  };

  const chain = [];
  for (let a = focus.members ? focus.node : parent[focus.node]; a >= 0; a = parent[a]) chain.push(a);
  chain.reverse();
  let root = null;
  let tip = null;
  for (const a of chain) {
    const node = make(a, true);
    if (tip) tip.children.push(node);
    else root = node;
    tip = node;
  }

  // Pending: [column index, its node]; a merged focus expands its members like a frame's children.
  const pending = [];
  let focusNode;
  let scale;
  const addChildren = (node, children) => {
    const small = [];
    let smallSum = 0;
    for (const j of children) {
      if (!(t[j] > 0)) continue;
      if (t[j] * scale >= MIN_PX) {
        const child = make(j, false);
        node.children.push(child);
        pending.push(j, child);
      } else {
        small.push(j);
        smallSum += t[j];
      }
    }
    if (small.length > 0) node.children.push(group(small, node.i >= 0 ? node.i : node.p, smallSum));
  };
  if (focus.members) {
    const sum = focus.members.reduce((s, m) => s + t[m], 0);
    focusNode = group(focus.members, focus.node, sum);
    scale = sum > 0 ? width / sum : 0;
    addChildren(focusNode, focus.members);
  } else {
    focusNode = make(focus.node, false);
    scale = t[focus.node] > 0 ? width / t[focus.node] : 0;
    pending.push(focus.node, focusNode);
  }
  if (tip) tip.children.push(focusNode);
  else root = focusNode;

  const children = [];
  while (pending.length > 0) {
    const node = pending.pop();
    const i = pending.pop();
    children.length = 0;
    for (let j = i + 1, end = i + size[i]; j < end; j += size[j]) children.push(j);
    addChildren(node, children);
  }
  return { root, count };
}
