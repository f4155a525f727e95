// The sandwich view of one function (as speedscope's and Pyroscope's): its callers above it and
// its callees below, each merged across every place the function is called from. Built from the
// report's whole tree, restricted to the frames under `base` (a process, or everything).

import { MIN_PX, smallFramesName } from './lod.js';

const trie = (key, kind) => ({ key, kind, value: 0, children: new Map() });

/**
 * Callers and callees of name index `name` under column `base`. Only outermost calls count (a
 * recursive function's inner calls are inside their outer call's weight), so the function's
 * total never exceeds its share of the profile.
 */
export function sandwichTrees(tree, name, base) {
  const { n, k, t, parent, size, self } = tree;
  const occurrences = [];
  let selfTotal = 0;
  const end = base + size[base];
  // In preorder, skipping a match's subtree leaves exactly the outermost matches.
  for (let i = base; i < end; ) {
    if (n[i] === name) {
      occurrences.push(i);
      for (let j = i; j < i + size[i]; j++) if (n[j] === name) selfTotal += self[j];
      i += size[i];
    } else i++;
  }
  const kind = occurrences.length > 0 ? k[occurrences[0]] : 0;
  const callers = trie(name, kind);
  const callees = trie(name, kind);
  for (const i of occurrences) {
    callers.value += t[i];
    callees.value += t[i];
    // Callers: the path up to (not including) the report's root `all`.
    let node = callers;
    for (let a = parent[i]; a > 0; a = parent[a]) {
      let child = node.children.get(n[a]);
      if (!child) node.children.set(n[a], (child = trie(n[a], k[a])));
      child.value += t[i];
      node = child;
    }
    // Callees: the whole subtree, merged by name into the others.
    const pending = [i, callees];
    while (pending.length > 0) {
      const into = pending.pop();
      const j = pending.pop();
      for (let c = j + 1, stop = j + size[j]; c < stop; c += size[c]) {
        let child = into.children.get(n[c]);
        if (!child) into.children.set(n[c], (child = trie(n[c], k[c])));
        child.value += t[c];
        pending.push(c, child);
      }
    }
  }
  return { callers, callees, total: callers.value, self: selfTotal, calls: occurrences.length };
}

/**
 * A trie as d3-flame-graph data at `width` pixels, children by name, those under MIN_PX merged.
 * Nodes: { name, value, ni (name index, -1 merged), k (kind index, -1 merged), self }; not `n`,
 * which d3-flame-graph would take for the name.
 */
export function trieData(root, names, width) {
  const scale = root.value > 0 ? width / root.value : 0;
  let count = 0;
  const convert = (node) => {
    count++;
    return { name: names[node.key], value: node.value, ni: node.key, k: node.kind, self: node.value, children: [] };
  };
  const top = convert(root);
  const pending = [root, top];
  while (pending.length > 0) {
    const out = pending.pop();
    const node = pending.pop();
    const kids = [...node.children.values()].sort((a, b) => (names[a.key] < names[b.key] ? -1 : names[a.key] > names[b.key] ? 1 : 0));
    let small = 0;
    let smallSum = 0;
    for (const child of kids) {
      out.self -= child.value;
      if (child.value * scale >= MIN_PX) {
        const converted = convert(child);
        out.children.push(converted);
        pending.push(child, converted);
      } else {
        small++;
        smallSum += child.value;
      }
    }
    if (small > 0) {
      count++;
      out.children.push({ name: smallFramesName(small), value: smallSum, ni: -1, k: -1, self: 0, children: [] });
    }
    if (Math.abs(out.self) <= 1e-9 * out.value) out.self = 0;
  }
  return { root: top, count };
}
