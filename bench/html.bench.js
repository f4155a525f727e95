// HTML report in Debian's chromium at 1600 px: a synthetic 1M-sample / 200k-distinct-stack profile
// and a typical 30 s system-wide recording (60k samples / 10k stacks), both with fixed seeds.
// Per profile: file size, generation time (Node), and in the browser first paint, zoom and search,
// each timed from the event to the next painted frame, medians of RUNS page loads.
// Targets: big — first paint < 1 s, zoom and search < 150 ms, file < 5 MB;
// typical — first paint < 300 ms, zoom < 100 ms.
// `HTML_BENCH_COMPARE=DIR` also measures DIR/0.html and DIR/1.html (the same two profiles written
// by another version of the report, kept with HTML_BENCH_OUT), alternating page loads with this
// version's, so both are measured under the same load.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProfileBuilder } from '../dist/profile/builder.js';
import { HTML_DEFAULTS, renderHtml } from '../dist/render/html/index.js';
import { emit } from './report.js';

const RUNS = Number(process.env.HTML_BENCH_RUNS ?? 5);
const CHROMIUM = process.env.PUPPETEER_EXECUTABLE_PATH ?? process.env.PROFILE_CHROMIUM ?? '/usr/bin/chromium';

function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stacks share prefixes as real ones do: each new stack forks an earlier one at a random depth. */
function syntheticProfile(stackCount, sampleCount, functionCount) {
  const rand = random(42);
  const builder = new ProfileBuilder();
  const kinds = ['user', 'user', 'user', 'kernel', 'jit', 'inline'];
  const frames = Array.from({ length: functionCount }, (_, i) => builder.internFrame({ name: `fn_${i.toString(36)}_${'x'.repeat(i % 17)}`, kind: kinds[i % kinds.length] }));
  const comms = ['nginx', 'postgres', 'node', 'java', 'kworker/0:1', 'python3', 'redis-server', 'envoy'];
  const stacks = [];
  const seen = new Set();
  while (stacks.length < stackCount) {
    const base = stacks.length > 0 && rand() < 0.97 ? stacks[Math.floor(Math.pow(rand(), 2) * stacks.length)] : { comm: comms[Math.floor(rand() * comms.length)], frames: [] };
    const keep = Math.floor(rand() * base.frames.length);
    const depth = Math.min(60, keep + 1 + Math.floor(rand() * 8));
    const ids = base.frames.slice(0, keep);
    while (ids.length < depth) ids.push(frames[Math.floor(Math.pow(rand(), 3) * frames.length)]);
    const key = base.comm + ids.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    stacks.push({ comm: base.comm, frames: ids });
  }
  const weights = new Float64Array(stackCount).fill(1);
  for (let i = stackCount; i < sampleCount; i++) weights[Math.floor(Math.pow(rand(), 4) * stackCount)]++;
  stacks.forEach((stack, i) => builder.addStack(stack.frames, weights[i], { comm: stack.comm, pid: 100 + comms.indexOf(stack.comm) }));
  return builder.build({ host: 'bench', frequencyHz: 99, durationSeconds: 30, samples: sampleCount });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** In the page: zoom into the widest frames at depth 2..4 and back to the root, then search; each timed to the next painted frame. */
async function interact() {
  const report = window.profileReport;
  const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const graph = document.querySelector('#flame svg') ?? document.getElementById('flame');
  const click = (f) => {
    const box = graph.getBoundingClientRect();
    const target = f.element ?? graph;
    target.dispatchEvent(new MouseEvent('click', { clientX: box.left + f.x + f.width / 2, clientY: box.top + f.y + 5, bubbles: true }));
  };
  const zooms = [];
  const candidates = report.frames(true).filter((f) => f.depth >= 2 && f.depth <= 4 && f.width > 20 && !/small frames|merged/.test(f.name)).sort((a, b) => b.width - a.width).slice(0, 3);
  for (const target of candidates) {
    const started = performance.now();
    click(report.frames(true).find((f) => f.index === target.index));
    await painted();
    zooms.push(performance.now() - started);
    const root = report.frames(true).find((f) => f.depth === 0);
    const back = performance.now();
    click(root);
    await painted();
    zooms.push(performance.now() - back);
  }
  const input = document.getElementById('search');
  const searches = [];
  const split = [];
  for (const pattern of ['fn_1', '^fn_a', 'x{10}', 'fn_[0-9]+_$', 'kworker|nginx']) {
    const started = performance.now();
    input.value = pattern;
    input.dispatchEvent(new Event('input'));
    const handled = performance.now() - started;
    await painted();
    searches.push(performance.now() - started);
    split.push([handled, report.state().timings?.search]);
  }
  return { zooms, searches, split, timings: report.state().timings, drawn: report.frames().length, nodes: report.state().nodes, elements: document.querySelectorAll('#flame g').length };
}

async function browse(browser, files) {
  const all = files.map(() => ({ paint: [], zoom: [], search: [], last: undefined }));
  for (let run = 0; run < RUNS; run++) {
    for (let f = 0; f < files.length; f++) await browseOnce(browser, files[f], all[f]);
  }
  return all.map(({ paint, zoom, search, last }) => ({ paint: median(paint), zoom: median(zoom), zoomMax: Math.max(...zoom), search: median(search), searchMax: Math.max(...search), last }));
}

async function browseOnce(browser, file, into) {
  const { paint, zoom, search } = into;
  let last;
  {
    const page = await browser.newPage();
    await page.setViewport({ width: 1600, height: 1000 });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 60_000 });
    paint.push(await page.evaluate(() => performance.getEntriesByName('profile-first-paint')[0].startTime));
    const startTimings = await page.evaluate(() => window.profileReport.state().timings);
    last = await page.evaluate(interact);
    if (process.env.HTML_BENCH_DEBUG) console.error(JSON.stringify({ startTimings, ...last, zooms: last.zooms.map(Math.round), searches: last.searches.map(Math.round) }));
    zoom.push(...last.zooms);
    search.push(...last.searches);
    await page.close();
  }
  into.last = last;
}

const profiles = [
  { name: '1M samples / 200k stacks', profile: syntheticProfile(200_000, 1_000_000, 20_000), targets: { paint: 1000, zoom: 150, search: 150, size: 5 } },
  { name: 'typical: 60k samples / 10k stacks', profile: syntheticProfile(10_000, 60_000, 3_000), targets: { paint: 300, zoom: 100 } },
];

const dir = mkdtempSync(join(tmpdir(), 'profile-bench-html-'));
const results = [];
for (const entry of profiles) {
  const started = process.hrtime.bigint();
  const html = renderHtml(entry.profile, HTML_DEFAULTS);
  const generation = Number(process.hrtime.bigint() - started) / 1e6;
  const file = join(dir, `${results.length}.html`);
  writeFileSync(file, html);
  // `HTML_BENCH_OUT=DIR` keeps the reports (0.html: the big profile, 1.html: the typical one) for a closer look.
  if (process.env.HTML_BENCH_OUT) writeFileSync(join(process.env.HTML_BENCH_OUT, `${results.length}.html`), html);
  results.push({ entry, file, bytes: Buffer.byteLength(html), generation });
}

let browser;
if (existsSync(CHROMIUM)) {
  const { default: puppeteer } = await import('puppeteer');
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'chromium')}`],
  });
}
const rows = [];
const compareDir = process.env.HTML_BENCH_COMPARE;
for (const result of results) {
  const { entry } = result;
  const t = entry.targets;
  const index = results.indexOf(result);
  const compare = compareDir ? join(compareDir, `${index}.html`) : undefined;
  const row = (what, ours, fields = {}) => rows.push({ what: `${entry.name}: ${what}`, ours, ...fields });
  const mb = result.bytes / 1e6;
  row('file size', `${mb.toFixed(2)} MB`, {
    peer: compare ? `${compare}: ${(statSync(compare).size / 1e6).toFixed(2)} MB` : undefined,
    target: t.size ? `< ${t.size} MB` : undefined,
    met: t.size ? mb < t.size : undefined,
    readme: index === 0 ? `HTML report of ${entry.name}, file size` : undefined,
  });
  row('generation (renderHtml, one run)', `${result.generation.toFixed(0)} ms`);
  if (browser) {
    const [b, c] = await browse(browser, compare ? [result.file, compare] : [result.file]);
    const peer = (format) => (c ? `${compare}: ${format(c)}` : undefined);
    const drawn = (x) => `${x.last.nodes.toLocaleString('en-US')} / ${x.last.drawn.toLocaleString('en-US')} (${x.last.elements.toLocaleString('en-US')})`;
    row('frames in the data / drawn at 1600 px (SVG groups)', drawn(b), { peer: peer(drawn) });
    const paint = (x) => `${x.paint.toFixed(0)} ms`;
    row('first paint (navigation → first frame with the graph)', paint(b), {
      peer: peer(paint), target: `< ${t.paint} ms`, met: b.paint < t.paint,
      readme: index === 0 ? `HTML report of ${entry.name}, first paint` : undefined,
    });
    const zoom = (x) => `${x.zoom.toFixed(1)} ms (max ${x.zoomMax.toFixed(1)})`;
    row('zoom (click → next painted frame)', zoom(b), {
      peer: peer(zoom), target: `< ${t.zoom} ms`, met: b.zoom < t.zoom,
      readme: index === 0 ? `HTML report of ${entry.name}, zoom` : undefined,
    });
    const search = (x) => `${x.search.toFixed(1)} ms (max ${x.searchMax.toFixed(1)})`;
    row('search (input → next painted frame)', search(b), { peer: peer(search), target: t.search ? `< ${t.search} ms` : undefined, met: t.search ? b.search < t.search : undefined });
  } else row('page timings', `chromium absent (${CHROMIUM})`);
}
emit({
  title: 'HTML report',
  rows,
  notes: [
    `Synthetic profiles (seed 42); medians of ${RUNS} page loads (HTML_BENCH_RUNS) in chromium (${CHROMIUM}) at 1600×1000.`,
    compareDir ? `peer: the reports kept in ${compareDir} (HTML_BENCH_COMPARE), loaded alternately in the same chromium.` : 'peer: none (HTML_BENCH_COMPARE=DIR compares with reports kept by HTML_BENCH_OUT).',
  ],
});
await browser?.close();
rmSync(dir, { recursive: true, force: true });
