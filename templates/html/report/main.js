// The HTML report's browser side. d3-flame-graph draws the graph (SVG, transitions off); the page
// keeps the whole call tree in columns (columns.js) and hands it a level-of-detail tree (lod.js)
// rebuilt for whatever is zoomed into, so its element count is bounded by the screen. Names from
// the profiled system only ever reach the page through textContent (ours and d3's `.text()`).
import { select } from 'd3-selection';
import flamegraph, { colorMapper } from 'd3-flame-graph';
import { readTree, unpack } from './columns.js';
import { framesIn, keepLabelsOfWideFrames, makeTooltip } from './graph-dom.js';
import { makeTransitionsInstant } from './instant-transitions.js';
import { lodTree } from './lod.js';
import { sandwichTrees, trieData } from './sandwich.js';
import { fillChanges, fillLegend, fillProcesses, fillRun, fmt, functionsTable, functionsUnder, pct, selectRow } from './tables.js';

const $ = (id) => document.getElementById(id);
makeTransitionsInstant();
const started = performance.now();
const data = JSON.parse($('profile-data').textContent);
const names = data.names;
const tree = readTree(data);
/** Where the page's time goes (ms), for the benchmark: reading the data, the last level-of-detail tree and d3 update. */
const timings = { read: performance.now() - started, lod: 0, draw: 0, search: 0 };
const N = tree.count;
const FRAME_HEIGHT = 18;
const HIGHLIGHT = 'rgb(230,0,230)';
const kindIndex = Object.fromEntries(data.kinds.map((kind, index) => [kind.key, index]));
const MERGED_KIND = kindIndex.merged;
const differential = tree.o !== undefined;
const css = (packed) => '#' + (packed >>> 0).toString(16).padStart(6, '0');
const nameColour = Array.from(unpack(data.colours, Int32Array), css);
const mergedColour = css(data.kinds[MERGED_KIND].colour);
const locations = new Map(data.locations);

// Differential reports: each frame's change of weight with BEFORE scaled to AFTER's total, so a
// longer run does not look hotter (d3-flame-graph's differential colours: red grew, blue shrank).
const delta = differential ? new Float64Array(N) : undefined;
if (delta) {
  const ratio = data.otherTotal > 0 ? data.total / data.otherTotal : 1;
  for (let i = 0; i < N; i++) delta[i] = tree.t[i] - tree.o[i] * ratio;
}

const graph = $('graph');
const flameElement = $('flame');
const tooltip = $('tooltip');
const details = $('details');
const search = $('search');
const matchedLabel = $('matched');
const orientationButton = $('orientation');
const processSelect = $('process');

const state = {
  base: 0, // the process shown (its root frame), or 0 for all
  focus: { node: 0 }, // what is zoomed into
  inverted: !!data.inverted,
  pattern: '',
  matchedName: null,
  matchedTotal: 0,
  lodNodes: 0,
};

const isMatched = (node) => {
  if (!state.matchedName) return false;
  const n = node.i >= 0 ? tree.n[node.i] : node.ni;
  return n !== undefined && n >= 0 && state.matchedName[n] === 1 && node.k !== MERGED_KIND;
};

function fillOf(d, original) {
  const node = d.data;
  if (d.highlight || isMatched(node)) return HIGHLIGHT;
  if (differential && node.i !== undefined) return colorMapper.differentialColorMapper(d, original);
  if (node.k < 0 || node.k === MERGED_KIND) return mergedColour;
  const n = node.i !== undefined ? tree.n[node.i] : node.ni;
  return nameColour[n] ?? mergedColour;
}

const kindLabel = (k) => (k >= 0 ? data.kinds[k].label : 'merged');
const focusTotal = () => (state.focus.members ? state.focus.members.reduce((s, m) => s + tree.t[m], 0) : tree.t[state.focus.node]);

function describeFrame(d) {
  const node = d.data;
  const value = node.value;
  const lines = [node.name];
  if (node.i < 0) {
    lines.push(`${node.g.length} frames narrower than a pixel here, merged; click to zoom into them`);
  } else {
    const where = locations.get(tree.n[node.i]);
    lines.push(kindLabel(node.k) + (where ? ` \u00b7 ${where}` : ''));
    if (node.k === MERGED_KIND) lines.push('frames under the embedding threshold, merged when the report was written');
  }
  const zoomed = focusTotal();
  lines.push(`${fmt.format(value)} ${data.unit} \u00b7 ${pct(value, data.total)} of all` + (zoomed !== data.total ? ` \u00b7 ${pct(value, zoomed)} of the zoomed frame` : ''));
  if (node.i >= 0) lines.push(`self ${fmt.format(tree.self[node.i])} ${data.unit} (${pct(tree.self[node.i], data.total)})`);
  if (differential && node.i >= 0) {
    lines.push(`before ${fmt.format(tree.o[node.i])} (${pct(tree.o[node.i], data.otherTotal)}) \u2192 after ${fmt.format(value)} (${pct(value, data.total)})`);
  }
  return lines;
}

// --- the graph -------------------------------------------------------------------------------
const chart = flamegraph()
  .cellHeight(FRAME_HEIGHT)
  .transitionDuration(0)
  .minFrameSize(0)
  .sort(false)
  .inverted(state.inverted)
  .resetHeightOnZoom(true)
  .tooltip(makeTooltip(tooltip, describeFrame))
  .setColorMapper(fillOf)
  .setDetailsElement(details)
  .setDetailsHandler((label) => {
    details.textContent = label ?? zoomPath();
  })
  .label((d) => `${d.data.name} (${pct(d.data.value, data.total)}, ${fmt.format(d.data.value)} ${data.unit})`);

const pathOf = (i) => {
  const path = [];
  for (let a = i; a > 0; a = tree.parent[a]) path.push(names[tree.n[a]]);
  return path.reverse();
};
function zoomPath() {
  if (state.focus.node === 0 && !state.focus.members) return '';
  const path = pathOf(state.focus.node);
  if (state.focus.members) path.push(`(${state.focus.members.length} small frames)`);
  return 'Zoomed: ' + path.join(' \u2192 ');
}

let drawn = false;
// `?labels=all` keeps d3-flame-graph's labels on every frame (for comparing their cost).
const trimLabels = !/[?&]labels=all\b/.test(window.location.search);


function graphWidth() {
  return Math.max(200, graph.clientWidth);
}

/** Redraws the graph for the current focus; `scroll` puts the root (or the focus) back in view. */
function render(scroll) {
  const width = graphWidth();
  const t0 = performance.now();
  const { root, count } = lodTree(tree, names, state.focus, width, delta);
  const t1 = performance.now();
  state.lodNodes = count;
  chart.width(width).minHeight(graph.clientHeight - 2).inverted(state.inverted);
  if (!drawn) {
    select(flameElement).datum(root).call(chart);
    drawn = true;
  } else chart.update(root);
  if (trimLabels) keepLabelsOfWideFrames(flameElement, FRAME_HEIGHT);
  timings.lod = t1 - t0;
  timings.draw = performance.now() - t1;
  // The details line first: writing it after the scroll, which lays the page out, would lay it out again.
  details.textContent = zoomPath();
  if (scroll) graph.scrollTop = state.inverted ? 0 : graph.scrollHeight;
}

function zoomTo(focus) {
  state.focus = focus;
  tooltip.hidden = true;
  render(true);
}

// d3-flame-graph would zoom within the tree it was given; the click is taken before it reaches
// its handler, and the tree is rebuilt at full detail for what was clicked instead.
flameElement.addEventListener('click', (event) => {
  const g = event.target.closest('g');
  const d = g && g.__data__;
  if (!d || !d.data) return;
  event.stopPropagation();
  const node = d.data;
  zoomTo(node.i >= 0 ? { node: node.i } : { node: node.p, members: node.g });
}, true);

// --- search ----------------------------------------------------------------------------------
// A regular expression over names; the matched weight counts each stack once (a matched frame's
// matched descendants are inside its total), so the share never exceeds 100 %. It is computed on
// the whole tree under the shown process, not on what is drawn. Kept in the URL (`?s=`).
// history.replaceState costs tens of milliseconds: the URL follows the search box once typing pauses.
let rememberTimer = 0;
function rememberSearch(pattern) {
  clearTimeout(rememberTimer);
  rememberTimer = setTimeout(() => {
    try {
      const params = new URLSearchParams(window.location.search);
      if (pattern) params.set('s', pattern);
      else params.delete('s');
      const query = params.toString();
      history.replaceState(null, '', window.location.pathname + (query ? '?' + query : '') + window.location.hash);
    } catch {
      // A sandboxed or file view may refuse to change its URL; the report works without it.
    }
  }, 200);
}

/**
 * Highlights what the search matches. d3-flame-graph's own `search` marks the matches and then
 * re-runs its whole update (layout and every attribute of every frame); only colours change, so
 * the frames' fills are set through its colour mapper directly.
 */
function paintMatches() {
  if (!drawn) return;
  select(flameElement).selectAll('g').select('rect').attr('fill', (d) => fillOf(d));
}

function applySearch(pattern) {
  search.classList.remove('invalid');
  state.pattern = pattern;
  if (!pattern) {
    state.matchedName = null;
    state.matchedTotal = 0;
    matchedLabel.textContent = '';
    rememberSearch('');
    paintMatches();
    return;
  }
  let regex;
  try {
    regex = new RegExp(pattern);
  } catch {
    search.classList.add('invalid');
    matchedLabel.textContent = 'invalid regular expression';
    return;
  }
  const matchedName = new Uint8Array(names.length);
  for (let j = 0; j < names.length; j++) matchedName[j] = regex.test(names[j]) ? 1 : 0;
  const { n, k, t, size } = tree;
  const base = state.base;
  let matched = 0;
  for (let i = base === 0 ? 1 : base, end = base + size[base]; i < end; ) {
    if (matchedName[n[i]] && k[i] !== MERGED_KIND) {
      matched += t[i];
      i += size[i];
    } else i++;
  }
  state.matchedName = matchedName;
  state.matchedTotal = matched;
  const whole = tree.t[base];
  matchedLabel.textContent = `Matched: ${pct(matched, whole)} (${fmt.format(matched)} of ${fmt.format(whole)} ${data.unit})`;
  rememberSearch(pattern);
  const t0 = performance.now();
  paintMatches();
  timings.search = performance.now() - t0;
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
  if (drawn) render(true);
}

// --- sandwich view ----------------------------------------------------------------------------
const sandwich = { name: -1, callers: null, callees: null };
function sandwichChart(element, inverted) {
  const describe = (d) => {
    const node = d.data;
    const whole = sandwich.total;
    const lines = [node.name, node.k >= 0 ? kindLabel(node.k) + (locations.has(node.ni) ? ` \u00b7 ${locations.get(node.ni)}` : '') : 'merged small frames'];
    lines.push(`${fmt.format(node.value)} ${data.unit} \u00b7 ${pct(node.value, data.total)} of all \u00b7 ${pct(node.value, whole)} of ${names[sandwich.name]}`);
    if (node.k >= 0 && node.self > 0) lines.push(`self here ${fmt.format(node.self)} ${data.unit}`);
    return lines;
  };
  return flamegraph()
    .cellHeight(FRAME_HEIGHT)
    .transitionDuration(0)
    .sort(false)
    .inverted(inverted)
    .resetHeightOnZoom(true)
    .tooltip(makeTooltip(tooltip, describe))
    .setColorMapper(fillOf)
    .setSearchHandler(() => undefined)
    .setDetailsHandler(() => undefined);
}

function openSandwich(nameIndex) {
  const trees = sandwichTrees(tree, nameIndex, state.base);
  sandwich.name = nameIndex;
  sandwich.total = trees.total;
  $('sandwich-empty').hidden = true;
  $('sandwich-body').hidden = false;
  $('sandwich-name').textContent = names[nameIndex];
  const whole = tree.t[state.base];
  $('sandwich-summary').textContent = `${fmt.format(trees.total)} ${data.unit} (${pct(trees.total, whole)}), self ${fmt.format(trees.self)} (${pct(trees.self, whole)}), ` +
    `called from ${trees.calls.toLocaleString('en-US')} place${trees.calls === 1 ? '' : 's'}. Callers above, callees below.`;
  const width = Math.max(200, $('callers-pane').clientWidth);
  for (const [key, element, inverted] of [['callers', $('callers'), false], ['callees', $('callees'), true]]) {
    const { root } = trieData(trees[key], names, width);
    if (sandwich[key]) sandwich[key].destroy();
    element.replaceChildren();
    sandwich[key] = sandwichChart(element, inverted).width(width);
    select(element).datum(root).call(sandwich[key]);
  }
  const callersPane = $('callers-pane');
  callersPane.scrollTop = callersPane.scrollHeight;
  $('callees-pane').scrollTop = 0;
}

// --- processes, tables -------------------------------------------------------------------------
const functions = functionsTable($('functions'), $('show-all'), names, data.kinds, (nameIndex) => {
  highlight(nameIndex);
  openSandwich(nameIndex);
  $('sandwich').scrollIntoView({ block: 'nearest' });
});

function showFunctions() {
  const rows = state.base === 0 ? data.functions : functionsUnder(tree, names, data.kinds, state.base);
  functions.show(rows, tree.t[state.base]);
  $('functions-scope').textContent = state.base === 0 ? '' : `in ${names[tree.n[state.base]]}`;
}

/** Root frames (processes) by column index, heaviest first, for the process filter. */
const roots = [];
for (let j = 1; j < N; j += tree.size[j]) roots.push(j);
roots.sort((a, b) => tree.t[b] - tree.t[a]);

function fillProcessSelect() {
  const all = document.createElement('option');
  all.value = '0';
  all.textContent = `All (${roots.length.toLocaleString('en-US')})`;
  processSelect.appendChild(all);
  for (const j of roots) {
    const option = document.createElement('option');
    option.value = String(j);
    option.textContent = `${names[tree.n[j]]} (${pct(tree.t[j], data.total)})`;
    processSelect.appendChild(option);
  }
}

function showProcess(base) {
  state.base = base;
  processSelect.value = String(base);
  state.focus = { node: base };
  tooltip.hidden = true;
  render(true);
  showFunctions();
  if (state.pattern) applySearch(state.pattern);
  if (sandwich.name >= 0) openSandwich(sandwich.name);
}

processSelect.addEventListener('change', () => showProcess(Number(processSelect.value)));
$('processes').tBodies[0].addEventListener('click', (event) => {
  const tr = event.target.closest('tr');
  if (!tr) return;
  selectRow($('processes').tBodies[0], tr);
  const name = Number(tr.dataset.name);
  const root = roots.find((j) => tree.n[j] === name);
  if (root !== undefined) showProcess(root);
});
if (data.changes) {
  const body = $('changes').tBodies[0];
  body.addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (!tr) return;
    selectRow(body, tr);
    highlight(Number(tr.dataset.name));
    openSandwich(Number(tr.dataset.name));
  });
}

// --- header, legend, controls ------------------------------------------------------------------
$('title').textContent = data.title;
$('subtitle').textContent = data.subtitle;
$('summary').textContent = data.summary;
{
  const used = new Uint8Array(data.kinds.length);
  for (let i = 1; i < N; i++) used[tree.k[i]] = 1;
  const entries = differential
    ? [['share grew', 'rgb(255,120,120)'], ['share shrank', 'rgb(120,120,255)'], ['new', 'rgb(255,190,90)'], ['unchanged', 'rgb(220,220,220)']]
    : data.kinds.filter((kind, index) => used[index] && kind.key !== 'merged').map((kind) => [kind.label, css(kind.colour)]);
  fillLegend($('legend'), [...entries, ['merged small frames', mergedColour]]);
}

function reset() {
  search.value = '';
  applySearch('');
  for (const row of document.querySelectorAll('tr.selected')) row.classList.remove('selected');
  zoomTo({ node: state.base });
}
$('reset').addEventListener('click', reset);
orientationButton.addEventListener('click', () => setInverted(!state.inverted));
search.addEventListener('input', () => applySearch(search.value));
document.addEventListener('keydown', (event) => {
  const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
  if ((event.key === '/' && !typing) || ((event.ctrlKey || event.metaKey) && event.key === 'f')) {
    event.preventDefault();
    search.focus();
    search.select();
  } else if (event.key === 'Escape') {
    reset();
    if (document.activeElement === search) search.blur();
  }
});
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    sizeGraph();
    render(false);
  }, 100);
});

/**
 * The graph pane takes the rest of the first screen (less for a shallow graph), so the root is
 * visible without scrolling the page; a deeper graph scrolls inside it.
 */
function sizeGraph() {
  const top = graph.getBoundingClientRect().top + window.scrollY;
  const below = 26; // the details line
  const content = (tree.maxDepth + 3) * FRAME_HEIGHT + 2;
  graph.style.height = Math.max(160, Math.min(window.innerHeight - top - below, content)) + 'px';
}

// --- a read-only view for tests and benchmarks ---------------------------------------------------
const plain = (frames) => frames.map(({ element, ...rest }) => rest);
const report = {
  /** Frames drawn in the graph; `withElements` adds each frame's `<g>` (for in-page callers). */
  frames: (withElements) => (withElements ? framesIn(flameElement, HIGHLIGHT) : plain(framesIn(flameElement, HIGHLIGHT))),
  sandwich: () => ({ name: sandwich.name >= 0 ? names[sandwich.name] : null, callers: plain(framesIn($('callers'), HIGHLIGHT)), callees: plain(framesIn($('callees'), HIGHLIGHT)) }),
  state: () => ({ zoom: state.focus.members ? -1 : state.focus.node, base: state.base, inverted: state.inverted, matchedTotal: state.matchedTotal, frameHeight: FRAME_HEIGHT, nodes: N, drawn: state.lodNodes, timings: { ...timings } }),
  /** Resolves once the latest change is painted (d3 applies its zero-length transitions on the next frame). */
  settled: () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))),
};
Object.defineProperty(window, 'profileReport', { value: Object.freeze(report), writable: false });

// --- start: the graph first, the tables once it is on screen ------------------------------------
sizeGraph();
fillProcessSelect();
orientationButton.textContent = state.inverted ? 'Flame' : 'Icicle';
orientationButton.setAttribute('aria-pressed', String(state.inverted));
render(true);
const initialSearch = new URLSearchParams(window.location.search).get('s');
if (initialSearch) {
  search.value = initialSearch;
  applySearch(initialSearch);
}
performance.mark('profile-drawn');
let filled = false;
const fillTables = () => {
  if (filled) return;
  filled = true;
  performance.mark('profile-first-paint');
  showFunctions();
  fillProcesses($('processes').tBodies[0], data);
  fillChanges($('changes-section'), $('changes').tBodies[0], data);
  fillRun(data, $);
  document.documentElement.dataset.ready = 'true';
  performance.mark('profile-ready');
};
// A timer set from an animation frame callback runs once that frame is painted; the second timer
// covers pages that get no frames (a background tab).
requestAnimationFrame(() => setTimeout(fillTables, 0));
setTimeout(fillTables, 250);
