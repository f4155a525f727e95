// The call tree as the report embeds it (src/render/html/data.ts, packed by pack.ts): preorder
// columns of integers, read back into typed arrays with the structure the page walks (parent,
// depth, subtree size, self weight). The whole tree stays here; d3-flame-graph only ever gets the
// part of it a screen can show (lod.js).

// Integer columns come packed five bits to a character (src/render/html/pack.ts: the same two
// alphabets); a column holding other numbers (fractional weights) comes as a plain array.
const LAST = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';
const CONTINUE = 'ghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Int8Array(128).fill(-1);
for (let d = 0; d < 32; d++) {
  DIGIT[LAST.charCodeAt(d)] = d;
  DIGIT[CONTINUE.charCodeAt(d)] = 32 + d;
}

export function unpack(column, Type) {
  if (typeof column !== 'string') return Type.from(column);
  let count = 0;
  for (let i = 0; i < column.length; i++) if (DIGIT[column.charCodeAt(i)] < 32) count++;
  const out = new Type(count);
  let value = 0;
  for (let i = 0, j = 0; i < column.length; i++) {
    const d = DIGIT[column.charCodeAt(i)];
    if (d >= 32) value = value * 32 + (d - 32);
    else {
      out[j++] = value * 32 + d;
      value = 0;
    }
  }
  return out;
}

/** The tree of `data`: n (name index), k (kind index), t (total), o (other side's total, diff only), and the structure. */
export function readTree(data) {
  const n = unpack(data.tree.n, Int32Array);
  const t = unpack(data.tree.t, Float64Array);
  const o = data.tree.o === undefined ? undefined : unpack(data.tree.o, Float64Array);
  // Kind and child count travel as one number, `children * 8 + kind`.
  const kc = unpack(data.tree.kc, Float64Array);
  const k = new Int32Array(kc.length);
  const c = new Int32Array(kc.length);
  for (let i = 0; i < kc.length; i++) {
    k[i] = kc[i] % 8;
    c[i] = Math.floor(kc[i] / 8);
  }
  return { n, k, t, o, c, count: n.length, ...structure(c, t, n.length) };
}

// A function of its own (locals, not a closure's context slots): twice as fast on a 133k-frame tree.
function structure(children, weights, count) {
  const parent = new Int32Array(count);
  const depth = new Int32Array(count);
  const size = new Int32Array(count).fill(1);
  // Self weight: the total less the children's totals (not embedded, see src/render/html/pack.ts).
  const self = Float64Array.from(weights);
  let maxDepth = 0;
  // The open ancestors of the current frame: index and children still to come.
  const open = new Int32Array(count + 1);
  const remaining = new Int32Array(count + 1);
  let top = -1;
  parent[0] = -1;
  if (children[0] > 0) {
    top = 0;
    open[0] = 0;
    remaining[0] = children[0];
  }
  for (let i = 1; i < count; i++) {
    while (remaining[top] === 0) top--;
    const p = open[top];
    parent[i] = p;
    const d = depth[p] + 1;
    depth[i] = d;
    if (d > maxDepth) maxDepth = d;
    self[p] -= weights[i];
    remaining[top]--;
    if (children[i] > 0) {
      top++;
      open[top] = i;
      remaining[top] = children[i];
    }
  }
  for (let i = count - 1; i > 0; i--) size[parent[i]] += size[i];
  // Float sums of fractional weights can leave a residue where self is really zero.
  for (let i = 0; i < count; i++) if (Math.abs(self[i]) <= 1e-9 * weights[i]) self[i] = 0;
  return { parent, depth, size, self, maxDepth };
}
