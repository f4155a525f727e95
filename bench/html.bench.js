// HTML report of a synthetic 1M-sample / 200k-distinct-stack profile (fixed seed): generation
// time (from a Profile, from folded text, and the whole `profile render` command) and file size
// in Node, then first paint, zoom and search in Debian's chromium, medians of 5.
// Targets: first paint < 1 s, zoom < 100 ms, file < 10 MB. No peer: d3-flame-graph's own figures
// on this machine are in docs/decisions.md.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProfileBuilder } from '../dist/profile/builder.js';
import { foldedLines } from '../dist/profile/folded.js';
import { stringSink } from '../dist/io/sink.js';
import { HTML_DEFAULTS, renderHtml, writeHtmlFromFolded } from '../dist/render/html/index.js';

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));

const STACKS = 200_000;
const SAMPLES = 1_000_000;
const RUNS = 5;
const CHROMIUM = process.env.PROFILE_CHROMIUM ?? '/usr/bin/chromium';

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
function syntheticProfile() {
  const rand = random(42);
  const builder = new ProfileBuilder();
  const kinds = ['user', 'user', 'user', 'kernel', 'jit', 'inline'];
  const frames = Array.from({ length: 20_000 }, (_, i) => builder.internFrame({ name: `fn_${i.toString(36)}_${'x'.repeat(i % 17)}`, kind: kinds[i % kinds.length] }));
  const comms = ['nginx', 'postgres', 'node', 'java', 'kworker/0:1', 'python3', 'redis-server', 'envoy'];
  const stacks = [];
  const seen = new Set();
  while (stacks.length < STACKS) {
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
  const weights = new Float64Array(STACKS).fill(1);
  for (let i = STACKS; i < SAMPLES; i++) weights[Math.floor(Math.pow(rand(), 4) * STACKS)]++;
  stacks.forEach((stack, i) => builder.addStack(stack.frames, weights[i], { comm: stack.comm, pid: 100 + comms.indexOf(stack.comm) }));
  return builder.build({ host: 'bench', frequencyHz: 99, durationSeconds: 30, samples: SAMPLES });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const profile = syntheticProfile();
const dir = mkdtempSync(join(tmpdir(), 'profile-bench-html-'));
const folded = join(dir, 'profile.folded');
writeFileSync(folded, foldedLines(profile).join('\n') + '\n');

/** Median wall and CPU (user + system of this process, GC threads included) of `run`, in ms. */
async function measure(run) {
  const wall = [];
  const cpu = [];
  let result;
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    const usage = process.cpuUsage();
    result = await run();
    const used = process.cpuUsage(usage);
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu), result };
}

const generation = await measure(() => renderHtml(profile, HTML_DEFAULTS));
const html = generation.result;
const fromFolded = await measure(async () => {
  const sink = stringSink();
  await writeHtmlFromFolded(createReadStream(folded), folded, sink);
  return sink.text();
});
// The whole command as a user runs it, Node start-up included (wall time only).
const cli = [];
for (let i = 0; i < RUNS; i++) {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [BIN, 'render', folded, '-o', join(dir, 'cli.html')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) throw new Error(`profile render failed (${run.status ?? run.signal})`);
  cli.push(Number(process.hrtime.bigint() - started) / 1e6);
}
const bytes = Buffer.byteLength(html);
const file = join(dir, 'report.html');
writeFileSync(file, html);

const rows = [
  ['profile', `${profile.totalWeight.toLocaleString('en-US')} samples, ${profile.stacks.length.toLocaleString('en-US')} stacks`, '1M / 200k'],
  ['generation from a Profile (renderHtml)', `${generation.wall.toFixed(0)} ms (CPU ${generation.cpu.toFixed(0)} ms)`, ''],
  ['generation from folded text (writeHtmlFromFolded, 26 MB)', `${fromFolded.wall.toFixed(0)} ms (CPU ${fromFolded.cpu.toFixed(0)} ms)`, ''],
  ['`profile render x.folded -o x.html` (whole command)', `${median(cli).toFixed(0)} ms`, ''],
  ['file size', `${(bytes / 1e6).toFixed(2)} MB`, '< 10 MB'],
];

if (!existsSync(CHROMIUM)) {
  rows.push(['chromium', `absent (${CHROMIUM})`, '']);
} else {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'chromium')}`],
  });
  const drawn = [];
  const paint = [];
  const ready = [];
  const zoom = [];
  const search = [];
  let drawnFrames = 0;
  let frames = 0;
  for (let run = 0; run < RUNS; run++) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1600, height: 1000 });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 60_000 });
    const [drawnAt, paintedAt, readyAt] = await page.evaluate(() => ['profile-drawn', 'profile-first-paint', 'profile-ready'].map((mark) => performance.getEntriesByName(mark)[0].startTime));
    drawn.push(drawnAt);
    paint.push(paintedAt);
    ready.push(readyAt);
    const result = await page.evaluate(() => {
      const report = window.profileReport;
      const canvas = document.getElementById('flame');
      const box = canvas.getBoundingClientRect();
      // Zoom into a wide frame at depth 2..4, then back out to the root, and time each click.
      const candidates = report.frames().filter((f) => f.depth >= 2 && f.depth <= 4 && f.width > 20).sort((a, b) => b.width - a.width).slice(0, 3);
      const zooms = [];
      for (const target of candidates) {
        const root = report.frames().find((f) => f.depth === 0);
        for (const f of [target, root]) {
          const started = performance.now();
          canvas.dispatchEvent(new MouseEvent('click', { clientX: box.left + f.x + f.width / 2, clientY: box.top + f.y + 5, bubbles: true }));
          zooms.push(performance.now() - started);
        }
      }
      const input = document.getElementById('search');
      const searches = [];
      for (const pattern of ['fn_1', '^fn_a', 'x{10}', 'fn_[0-9]+_$', 'kworker|nginx']) {
        const started = performance.now();
        input.value = pattern;
        input.dispatchEvent(new Event('input'));
        searches.push(performance.now() - started);
      }
      return { zooms, searches, drawn: report.lastDraw.frames, nodes: report.state().nodes };
    });
    zoom.push(...result.zooms);
    search.push(...result.searches);
    drawnFrames = result.drawn;
    frames = result.nodes;
    await page.close();
  }
  await browser.close();
  rows.push(['frames embedded / drawn at 1600 px', `${frames.toLocaleString('en-US')} / ${drawnFrames.toLocaleString('en-US')}`, '']);
  rows.push(['graph drawn on the canvas (navigation → script done)', `${median(drawn).toFixed(0)} ms`, '']);
  rows.push(['first paint (navigation → the frame after the draw)', `${median(paint).toFixed(0)} ms`, '< 1000 ms']);
  rows.push(['ready (tables filled after the first paint)', `${median(ready).toFixed(0)} ms`, '']);
  rows.push(['zoom (click → redrawn)', `${median(zoom).toFixed(1)} ms (max ${Math.max(...zoom).toFixed(1)})`, '< 100 ms']);
  rows.push(['search (keystroke → highlighted)', `${median(search).toFixed(1)} ms (max ${Math.max(...search).toFixed(1)})`, '']);
}
rmSync(dir, { recursive: true, force: true });

console.log(`\n### HTML report: ${SAMPLES.toLocaleString('en-US')} samples, ${STACKS.toLocaleString('en-US')} stacks (medians of ${RUNS})\n`);
console.log('| measure | value | target |');
console.log('| --- | --- | --- |');
for (const [what, value, target] of rows) console.log(`| ${what} | ${value} | ${target} |`);
