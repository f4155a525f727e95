// The HTML report's browser side: a canvas flame graph over the preorder tree columns that
// src/render/html/data.ts embeds. Canvas, not SVG/DOM: on a 1M-sample / 200k-stack profile the
// DOM renderers (d3-flame-graph, even with narrow frames merged) took 0.7-0.9 s to paint and
// 0.3-0.6 s per zoom here, a canvas 0.26 s and ~30 ms (PLATFORM-FACTS.md).
// Names from the profiled system only ever reach the page through textContent and fillText.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('profile-data').textContent);

  // Integer columns come packed five bits to a character (src/render/html/pack.ts: the same two
  // alphabets); a column holding other numbers (fractional weights) comes as a plain array.
  const LAST = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';
  const CONTINUE = 'ghijklmnopqrstuvwxyz0123456789+/';
  const DIGIT = new Int8Array(128).fill(-1);
  for (let d = 0; d < 32; d++) { DIGIT[LAST.charCodeAt(d)] = d; DIGIT[CONTINUE.charCodeAt(d)] = 32 + d; }
  function unpack(column, Type) {
    if (typeof column !== 'string') return Type.from(column);
    let count = 0;
    for (let i = 0; i < column.length; i++) if (DIGIT[column.charCodeAt(i)] < 32) count++;
    const out = new Type(count);
    let value = 0;
    for (let i = 0, j = 0; i < column.length; i++) {
      const d = DIGIT[column.charCodeAt(i)];
      if (d >= 32) value = value * 32 + (d - 32);
      else { out[j++] = value * 32 + d; value = 0; }
    }
    return out;
  }
  const tree = {
    n: unpack(data.tree.n, Int32Array),
    t: unpack(data.tree.t, Float64Array),
    o: data.tree.o === undefined ? undefined : unpack(data.tree.o, Float64Array),
  };
  {
    // Kind and child count travel as one number, `children * 8 + kind`.
    const kc = unpack(data.tree.kc, Float64Array);
    tree.k = new Int32Array(kc.length);
    tree.c = new Int32Array(kc.length);
    for (let i = 0; i < kc.length; i++) { tree.k[i] = kc[i] % 8; tree.c[i] = Math.floor(kc[i] / 8); }
  }
  const names = data.names;
  const N = tree.n.length;
  const total = tree.t;
  const FRAME_HEIGHT = 18;
  const MIN_WIDTH = 0.5; // px: narrower frames (and their subtrees) are not drawn
  const MERGED_KIND = data.kinds.findIndex((k) => k.label.startsWith('merged'));
  const differential = tree.o !== undefined;
  const fmt = new Intl.NumberFormat('en-US');
  const pct = (part, whole) => (whole > 0 ? ((100 * part) / whole).toFixed(2) : '0.00') + '%';

  // Structure from the preorder columns: parent, depth, subtree size and the offset of each frame
  // from the root's left edge in weight units, so any zoom is one subtract and multiply per frame.
  const { parent, depth, size, offset, self, maxDepth } = structure(tree.c, total, N);
  tree.s = self;
  // A function of its own (locals, not the closure's context slots): twice as fast on a 133k-frame tree.
  function structure(children, weights, count) {
    const parent = new Int32Array(count);
    const depth = new Int32Array(count);
    const size = new Int32Array(count).fill(1);
    const offset = new Float64Array(count);
    // Self weight: the total less the children's totals (not embedded, see src/render/html/pack.ts).
    const self = Float64Array.from(weights);
    let maxDepth = 0;
    // The open ancestors of the current frame: index, children still to come, next child's offset.
    const open = new Int32Array(count + 1);
    const remaining = new Int32Array(count + 1);
    const next = new Float64Array(count + 1);
    let top = -1;
    parent[0] = -1;
    if (children[0] > 0) { top = 0; open[0] = 0; remaining[0] = children[0]; next[0] = 0; }
    for (let i = 1; i < count; i++) {
      while (remaining[top] === 0) top--;
      const p = open[top];
      parent[i] = p;
      const d = depth[p] + 1;
      depth[i] = d;
      if (d > maxDepth) maxDepth = d;
      offset[i] = next[top];
      next[top] += weights[i];
      self[p] -= weights[i];
      remaining[top]--;
      if (children[i] > 0) { top++; open[top] = i; remaining[top] = children[i]; next[top] = offset[i]; }
    }
    for (let i = count - 1; i > 0; i--) size[parent[i]] += size[i];
    // Float sums of fractional weights can leave a residue where self is really zero.
    for (let i = 0; i < count; i++) if (Math.abs(self[i]) <= 1e-9 * weights[i]) self[i] = 0;
    return { parent, depth, size, offset, self, maxDepth };
  }

  const $ = (id) => document.getElementById(id);
  const canvas = $('flame');
  const ctx = canvas.getContext('2d');
  const tooltip = $('tooltip');
  const details = $('details');
  const search = $('search');
  const matchedLabel = $('matched');
  const orientationButton = $('orientation');

  const state = { zoom: 0, inverted: !!data.inverted, width: 0, matchedName: null, matchedTotal: 0, hover: -1 };

  // Colours come precomputed per name from the SVG palettes (src/render/html/colors.ts).
  const css = (packed) => '#' + (packed >>> 0).toString(16).padStart(6, '0');
  const nameColour = Array.from(unpack(data.colours, Int32Array), css);
  // Differential colouring: red where a frame's share of its profile grew, blue where it shrank.
  let maxDelta = 0;
  const delta = differential ? new Float64Array(N) : null;
  if (differential) {
    const after = Math.max(1, data.total);
    const before = Math.max(1, data.otherTotal || 0);
    for (let i = 0; i < N; i++) {
      delta[i] = total[i] / after - tree.o[i] / before;
      if (Math.abs(delta[i]) > maxDelta) maxDelta = Math.abs(delta[i]);
    }
  }
  function colourOf(i) {
    if (state.matchedName && state.matchedName[tree.n[i]] && tree.k[i] !== MERGED_KIND) return 'rgb(230,0,230)';
    if (differential && tree.k[i] !== MERGED_KIND) {
      const v = maxDelta > 0 ? Math.min(1, Math.abs(delta[i]) / maxDelta) : 0;
      const fade = Math.round(245 - 190 * v);
      return delta[i] >= 0 ? `rgb(245,${fade},${fade})` : `rgb(${fade},${fade},245)`;
    }
    return tree.k[i] === MERGED_KIND ? css(data.kinds[MERGED_KIND].colour) : nameColour[tree.n[i]];
  }

  const FONT = '12px ui-monospace, "DejaVu Sans Mono", monospace';
  let charWidth = 7;

  function layoutCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.parentElement.clientWidth || 800;
    const height = (maxDepth + 1) * FRAME_HEIGHT + 2;
    state.width = width;
    canvas.style.height = height + 'px';
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.font = FONT;
    charWidth = ctx.measureText('abcdefghijklmnopqrstuvwxyz').width / 26 || 7;
  }

  function yOf(d) {
    return state.inverted ? d * FRAME_HEIGHT : (maxDepth - d) * FRAME_HEIGHT;
  }

  // The frames on screen for the current zoom: ancestors of the zoomed frame span the full width.
  function visit(callback) {
    const z = state.zoom;
    const W = state.width;
    for (let a = parent[z]; a >= 0; a = parent[a]) callback(a, 0, W);
    const scale = W / total[z];
    const base = offset[z];
    callback(z, 0, W);
    const end = z + size[z];
    for (let i = z + 1; i < end; ) {
      const w = total[i] * scale;
      if (w < MIN_WIDTH) { i += size[i]; continue; }
      callback(i, (offset[i] - base) * scale, w);
      i++;
    }
  }

  let lastDraw = null;
  function draw() {
    const started = performance.now();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    let drawn = 0;
    visit((i, x, w) => {
      const y = yOf(depth[i]);
      ctx.fillStyle = colourOf(i);
      ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), FRAME_HEIGHT - 1);
      if (i === state.hover) {
        ctx.strokeStyle = '#000';
        ctx.strokeRect(x + 0.5, y + 0.5, Math.max(w - 1.5, 0.5), FRAME_HEIGHT - 2);
      }
      if (w > 3 * charWidth + 6) {
        const name = names[tree.n[i]];
        const fits = Math.floor((w - 6) / charWidth);
        ctx.fillStyle = '#000';
        ctx.fillText(name.length <= fits ? name : name.slice(0, Math.max(fits - 2, 1)) + '..', x + 3, y + FRAME_HEIGHT / 2);
      }
      drawn++;
    });
    lastDraw = { frames: drawn, ms: performance.now() - started };
  }

  // The frame under a point: walk down from the zoomed frame, one level at a time.
  function frameAt(px, py) {
    const d = state.inverted ? Math.floor(py / FRAME_HEIGHT) : maxDepth - Math.floor(py / FRAME_HEIGHT);
    if (d < 0 || d > maxDepth || px < 0 || px > state.width) return -1;
    const z = state.zoom;
    if (d <= depth[z]) {
      let a = z;
      while (depth[a] > d) a = parent[a];
      return a;
    }
    const scale = state.width / total[z];
    let node = z;
    for (let level = depth[z] + 1; level <= d; level++) {
      let found = -1;
      const end = node + size[node];
      for (let j = node + 1; j < end; j += size[j]) {
        const x = (offset[j] - offset[z]) * scale;
        const w = total[j] * scale;
        if (px >= x && px < x + w) { found = j; break; }
      }
      if (found < 0 || total[found] * scale < MIN_WIDTH) return -1;
      node = found;
    }
    return node;
  }

  function pathOf(i) {
    const path = [];
    for (let a = i; a > 0; a = parent[a]) path.push(names[tree.n[a]]);
    return path.reverse();
  }

  function describe(i) {
    const lines = [names[tree.n[i]]];
    const kind = data.kinds[tree.k[i]].label;
    lines.push(`${kind} \u00b7 ${fmt.format(total[i])} ${data.unit} (${pct(total[i], data.total)} of all` +
      (state.zoom > 0 ? `, ${pct(total[i], total[state.zoom])} of zoom)` : ')'));
    if (tree.s[i] > 0 && tree.k[i] !== MERGED_KIND) lines.push(`self ${fmt.format(tree.s[i])} (${pct(tree.s[i], data.total)})`);
    if (differential) {
      lines.push(`before ${fmt.format(tree.o[i])} (${pct(tree.o[i], data.otherTotal)}) \u2192 after ${fmt.format(total[i])} (${pct(total[i], data.total)})`);
    }
    if (tree.k[i] === MERGED_KIND) lines.push('frames too small to draw, merged with their totals kept');
    return lines.join('\n');
  }

  function zoom(i) {
    state.zoom = i >= 0 && i < N ? i : 0;
    draw();
    details.textContent = state.zoom > 0 ? 'Zoomed: ' + pathOf(state.zoom).join(' \u2192 ') : '';
  }

  // Search: a regular expression over names; matched weight counts each stack once (a matched
  // frame's matched descendants are inside its total), so the share never exceeds 100 %.
  // The search is kept in the URL (`?s=`), as in the SVG, so a reload or a shared link shows it.
  function rememberSearch(pattern) {
    try {
      const params = new URLSearchParams(window.location.search);
      if (pattern) params.set('s', pattern); else params.delete('s');
      const query = params.toString();
      history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
    } catch (error) {
      // A sandboxed or file view may refuse to change its URL; the report works without it.
    }
  }

  function applySearch(pattern) {
    search.classList.remove('invalid');
    if (!pattern) {
      state.matchedName = null;
      state.matchedTotal = 0;
      matchedLabel.textContent = '';
      rememberSearch('');
      draw();
      return;
    }
    let regex;
    try { regex = new RegExp(pattern); } catch (error) {
      search.classList.add('invalid');
      matchedLabel.textContent = 'invalid regular expression';
      return;
    }
    const matchedName = new Uint8Array(names.length);
    for (let j = 0; j < names.length; j++) matchedName[j] = regex.test(names[j]) ? 1 : 0;
    let matched = 0;
    for (let i = 1; i < N; ) {
      if (matchedName[tree.n[i]] && tree.k[i] !== MERGED_KIND) { matched += total[i]; i += size[i]; } else i++;
    }
    state.matchedName = matchedName;
    state.matchedTotal = matched;
    matchedLabel.textContent = `Matched: ${pct(matched, data.total)} (${fmt.format(matched)} of ${fmt.format(data.total)} ${data.unit})`;
    rememberSearch(pattern);
    draw();
  }

  const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  function highlight(nameIndex) {
    search.value = '^' + escapeRegex(names[nameIndex]) + '$';
    applySearch(search.value);
  }

  function setInverted(inverted) {
    state.inverted = inverted;
    orientationButton.textContent = inverted ? 'Flame' : 'Icicle';
    orientationButton.setAttribute('aria-pressed', String(inverted));
    draw();
  }

  // --- tables ---------------------------------------------------------------------------------
  function cell(row, text, numeric) {
    const td = document.createElement('td');
    td.textContent = text;
    if (numeric) td.className = 'num';
    row.appendChild(td);
  }

  const functionsBody = $('functions').tBodies[0];
  const sort = { key: 'total', descending: true };
  function renderFunctions() {
    const rows = data.functions.slice();
    const value = {
      name: (r) => names[r[0]],
      kind: (r) => data.kinds[r[1]].label,
      self: (r) => r[2],
      total: (r) => r[3],
    }[sort.key];
    rows.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.descending ? -order : order;
    });
    const fragment = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.dataset.name = String(r[0]);
      cell(tr, names[r[0]]);
      cell(tr, data.kinds[r[1]].label);
      cell(tr, fmt.format(r[2]), true);
      cell(tr, pct(r[2], data.total), true);
      cell(tr, fmt.format(r[3]), true);
      cell(tr, pct(r[3], data.total), true);
      fragment.appendChild(tr);
    }
    functionsBody.replaceChildren(fragment);
    for (const th of $('functions').tHead.rows[0].cells) {
      if (th.dataset.key === sort.key) {
        th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
      } else th.removeAttribute('aria-sort');
    }
  }
  $('functions').tHead.addEventListener('click', (event) => {
    const th = event.target.closest('th');
    if (!th || !th.dataset.key) return;
    const key = th.dataset.key;
    if (sort.key === key) sort.descending = !sort.descending;
    else { sort.key = key; sort.descending = key === 'self' || key === 'total'; }
    renderFunctions();
  });
  function selectRow(body, tr) {
    for (const row of body.querySelectorAll('tr.selected')) row.classList.remove('selected');
    tr.classList.add('selected');
  }
  functionsBody.addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (!tr) return;
    selectRow(functionsBody, tr);
    highlight(Number(tr.dataset.name));
    canvas.scrollIntoView({ block: 'nearest' });
  });

  const processesBody = $('processes').tBodies[0];
  function renderProcesses() {
    const fragment = document.createDocumentFragment();
    for (const [name, , weight] of data.processes) {
      const tr = document.createElement('tr');
      tr.dataset.name = String(name);
      cell(tr, names[name]);
      cell(tr, fmt.format(weight), true);
      cell(tr, pct(weight, data.total), true);
      fragment.appendChild(tr);
    }
    processesBody.replaceChildren(fragment);
  }
  processesBody.addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (!tr) return;
    selectRow(processesBody, tr);
    const name = Number(tr.dataset.name);
    for (let j = 1; j < N; j += size[j]) {
      if (tree.n[j] === name) { zoom(j); break; }
    }
  });

  function renderChanges() {
    if (!data.changes) return;
    $('changes-section').hidden = false;
    const fragment = document.createDocumentFragment();
    for (const [name, kind, before, after] of data.changes) {
      const tr = document.createElement('tr');
      tr.dataset.name = String(name);
      cell(tr, names[name]);
      cell(tr, data.kinds[kind].label);
      cell(tr, `${fmt.format(before)} (${pct(before, data.otherTotal)})`, true);
      cell(tr, `${fmt.format(after)} (${pct(after, data.total)})`, true);
      const change = (100 * after) / Math.max(1, data.total) - (100 * before) / Math.max(1, data.otherTotal);
      cell(tr, (change >= 0 ? '+' : '') + change.toFixed(2) + ' pp', true);
      fragment.appendChild(tr);
    }
    $('changes').tBodies[0].replaceChildren(fragment);
  }
  if (data.changes) {
    const body = $('changes').tBodies[0];
    body.addEventListener('click', (event) => {
      const tr = event.target.closest('tr');
      if (!tr) return;
      selectRow(body, tr);
      highlight(Number(tr.dataset.name));
    });
  }

  // --- metadata, legend ----------------------------------------------------------------------
  $('title').textContent = data.title;
  $('subtitle').textContent = data.subtitle;
  const meta = $('meta');
  for (const [label, value] of data.meta) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    meta.append(dt, dd);
  }
  if (data.dropped.length > 0) {
    $('dropped-section').hidden = false;
    for (const [why, count] of data.dropped) {
      const tr = document.createElement('tr');
      cell(tr, why);
      cell(tr, fmt.format(count), true);
      $('dropped').tBodies[0].appendChild(tr);
    }
  }
  if (data.notes.length > 0) {
    $('notes-section').hidden = false;
    for (const note of data.notes) {
      const li = document.createElement('li');
      li.textContent = note;
      $('notes').appendChild(li);
    }
  }
  const used = new Set();
  for (let i = 0, seen = new Uint8Array(data.kinds.length); i < N; i++) if (!seen[tree.k[i]]) { seen[tree.k[i]] = 1; used.add(tree.k[i]); }
  const legend = $('legend');
  data.kinds.forEach((kind, index) => {
    if (!used.has(index) || differential) return;
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = css(kind.colour);
    li.append(swatch, document.createTextNode(kind.label));
    legend.appendChild(li);
  });
  if (differential) {
    for (const [label, colour] of [['grew', 'rgb(245,55,55)'], ['shrank', 'rgb(55,55,245)']]) {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour;
      li.append(swatch, document.createTextNode('share ' + label));
      legend.appendChild(li);
    }
  }

  // --- events ----------------------------------------------------------------------------------
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  };
  canvas.addEventListener('click', (event) => {
    const i = frameAt(...point(event));
    if (i >= 0) zoom(i);
  });
  canvas.addEventListener('mousemove', (event) => {
    const [x, y] = point(event);
    const i = frameAt(x, y);
    if (i !== state.hover) { state.hover = i; draw(); }
    if (i < 0) { tooltip.hidden = true; return; }
    tooltip.textContent = describe(i);
    tooltip.hidden = false;
    const left = Math.min(x + 12, Math.max(0, state.width - tooltip.offsetWidth - 4));
    tooltip.style.left = left + 'px';
    tooltip.style.top = y + 16 + 'px';
  });
  canvas.addEventListener('mouseleave', () => {
    tooltip.hidden = true;
    if (state.hover !== -1) { state.hover = -1; draw(); }
  });
  $('reset').addEventListener('click', () => {
    search.value = '';
    applySearch('');
    for (const row of document.querySelectorAll('tr.selected')) row.classList.remove('selected');
    zoom(0);
  });
  orientationButton.addEventListener('click', () => setInverted(!state.inverted));
  search.addEventListener('input', () => applySearch(search.value));
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 'f') { event.preventDefault(); search.focus(); search.select(); }
    else if (event.key === 'Escape' && document.activeElement === search) { search.value = ''; applySearch(''); }
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { layoutCanvas(); draw(); }, 100);
  });

  // A read-only view for tests and benchmarks: what is drawn where, and the current state.
  const report = {
    get lastDraw() { return lastDraw; },
    frames() {
      const out = [];
      visit((i, x, w) => out.push({ index: i, name: names[tree.n[i]], depth: depth[i], x, width: w, y: yOf(depth[i]), matched: !!(state.matchedName && state.matchedName[tree.n[i]] && tree.k[i] !== MERGED_KIND) }));
      return out;
    },
    state: () => ({ zoom: state.zoom, inverted: state.inverted, matchedTotal: state.matchedTotal, frameHeight: FRAME_HEIGHT, nodes: N }),
  };
  Object.defineProperty(window, 'profileReport', { value: Object.freeze(report), writable: false });

  // First paint before anything else: the tables wait until the graph is on screen (they are
  // below it, and the functions table alone is ~3,000 elements).
  layoutCanvas();
  const initialSearch = new URLSearchParams(window.location.search).get('s');
  state.inverted = !!data.inverted;
  orientationButton.textContent = state.inverted ? 'Flame' : 'Icicle';
  orientationButton.setAttribute('aria-pressed', String(state.inverted));
  if (initialSearch) {
    search.value = initialSearch;
    applySearch(initialSearch);
    if (!state.matchedName) draw(); // an invalid expression draws nothing itself
  } else draw();
  performance.mark('profile-drawn');
  // A timer set from an animation frame callback runs once that frame is painted; the second
  // timer covers pages that get no frames (a background tab).
  let filled = false;
  const fillTables = () => {
    if (filled) return;
    filled = true;
    performance.mark('profile-first-paint');
    renderFunctions();
    renderProcesses();
    renderChanges();
    document.documentElement.dataset.ready = 'true';
    performance.mark('profile-ready');
  };
  requestAnimationFrame(() => setTimeout(fillTables, 0));
  setTimeout(fillTables, 250);
})();
