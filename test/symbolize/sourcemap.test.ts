// Source maps for JavaScript JIT frames: a real TypeScript program compiled here by the project's
// tsc (external, inline and beside-the-script maps, ES module), run with --perf-basic-prof, its
// real perf map mapped back to the .ts names and lines. Takes ~6 s (tsc 4×, node 2×).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parsePerfMap } from '../../src/symbolize/perfmap.js';
import { parseJsCodeName, SourceMaps } from '../../src/symbolize/sourcemap.js';
import { ROOT } from '../helpers/cli.js';

const SOURCE = join(ROOT, 'fixtures', 'jit', 'shapes.ts');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const dir = mkdtempSync(join(tmpdir(), 'profile-sourcemap-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// One tsc run (it takes 4 s of CPU); the variants are derived from its output the way other
// tools write them: inline maps as base64 data: URLs, a map beside the script with no comment.
const built = join(dir, 'built');
mkdirSync(join(built, 'src'), { recursive: true });
copyFileSync(SOURCE, join(built, 'src', 'shapes.ts'));
execFileSync(process.execPath, [TSC, '--sourceMap', '--target', 'es2022', '--module', 'commonjs', '--rootDir', join(built, 'src'), '--outDir', join(built, 'out'), join(built, 'src', 'shapes.ts')]);

/** A copy of the build in dir/NAME, its script edited by `edit`; returns the script's path. */
function variant(name: string, edit: (js: string, map: string) => string = (js) => js, file = 'shapes.js'): string {
  const base = join(dir, name);
  mkdirSync(join(base, 'src'), { recursive: true });
  mkdirSync(join(base, 'out'), { recursive: true });
  copyFileSync(SOURCE, join(base, 'src', 'shapes.ts'));
  const map = readFileSync(join(built, 'out', 'shapes.js.map'), 'utf8');
  writeFileSync(join(base, 'out', 'shapes.js.map'), map);
  const js = join(base, 'out', file);
  writeFileSync(js, edit(readFileSync(join(built, 'out', 'shapes.js'), 'utf8'), map));
  return js;
}

const COMMENT = /\/\/# sourceMappingURL=.*\n?$/;

function run(script: string): { pid: number } {
  const result = spawnSync(process.execPath, ['--perf-basic-prof', script, '150'], { encoding: 'utf8' });
  if (result.status !== 0 || result.stdout !== 'done\n') throw new Error(`${script} failed: ${result.stderr}`);
  return { pid: result.pid };
}

/** Runs a script under --perf-basic-prof and returns its perf map's names (read after exit). */
function perfNames(script: string): string[] {
  const { pid } = run(script);
  const path = `/tmp/perf-${pid}.map`;
  try {
    const { map, warning } = parsePerfMap(readFileSync(path, 'utf8'), path);
    t.equal(warning, undefined, 'node writes only well-formed lines');
    t.ok(map.size > 100);
    return [...new Set(readFileSync(path, 'utf8').trim().split('\n').map((line) => line.split(' ').slice(2).join(' ')))];
  } finally {
    rmSync(path, { force: true });
  }
}

/** The .ts line of a declaration, found in the source rather than written down twice. */
function tsLine(text: string): number {
  return readFileSync(SOURCE, 'utf8').split('\n').findIndex((line) => line.includes(text)) + 1;
}

t.test('V8 perf-map names are taken apart', async (t) => {
  t.same(parseJsCodeName('JS:*spinTypeScript /srv/app/out/shapes.js:13:24'), { type: 'JS', tier: '*', func: 'spinTypeScript', script: '/srv/app/out/shapes.js', line: 13, column: 24 });
  t.same(parseJsCodeName('JS:~ /srv/my app/x.js:1:1'), { type: 'JS', tier: '~', func: '', script: '/srv/my app/x.js', line: 1, column: 1 }, 'anonymous, path with a space');
  t.same(parseJsCodeName('JS:^get total file:///srv/a.mjs:7:3'), { type: 'JS', tier: '^', func: 'get total', script: 'file:///srv/a.mjs', line: 7, column: 3 });
  t.same(parseJsCodeName('LazyCompile:~foo /srv/a.js:12'), { type: 'LazyCompile', tier: '~', func: 'foo', script: '/srv/a.js', line: 12, column: 0 }, 'older V8');
  t.same(parseJsCodeName('JS:~prepareExecution node:internal/process/pre_execution:96:26')?.script, 'node:internal/process/pre_execution');
  for (const name of ['Builtin:ArrayMap', 'BytecodeHandler:Ldar', 'first_function', 'JS:~foo', 'Stub:CEntry']) t.equal(parseJsCodeName(name), undefined, name);
});

t.test('a real TypeScript program: external, inline and beside-the-script source maps', async (t) => {
  const variants: [string, (js: string, map: string) => string][] = [
    ['external', (js) => js],
    ['inline', (js, map) => js.replace(COMMENT, `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(map).toString('base64')}\n`)],
    // No comment: found as shapes.js.map beside the script.
    ['beside', (js) => js.replace(COMMENT, '')],
  ];
  for (const [name, edit] of variants) {
    const js = variant(name, edit);
    if (name === 'inline') rmSync(`${js}.map`);
    const ts = join(dir, name, 'src', 'shapes.ts');
    const names = perfNames(js);
    const warnings: string[] = [];
    const maps = new SourceMaps({ warn: (w) => warnings.push(w) });
    const hot = names.filter((n) => /^JS:[~^+*]spinTypeScript /.test(n));
    t.ok(hot.length > 0, `${name}: the hot function is in the perf map`);
    for (const code of hot) {
      const frame = await maps.frameFor(code);
      t.equal(frame?.file, ts, `${name}: ${code} → the .ts file`);
      t.equal(frame?.line, tsLine('function spinTypeScript'), `${name}: its declaration line`);
      t.equal(frame?.func, 'spinTypeScript');
      t.ok(frame?.mapped);
      t.match(frame?.name, new RegExp(`^spinTypeScript ${ts.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+$`));
    }
    const area = names.find((n) => /^JS:.area /.test(n));
    t.equal((await maps.frameFor(area!))?.line, tsLine('  area(): number {'), `${name}: a method`);
    const circle = names.find((n) => /^JS:.Circle /.test(n));
    t.equal((await maps.frameFor(circle!))?.line, tsLine('constructor(private readonly radius'), `${name}: a constructor`);
    const internal = names.find((n) => n.includes(' node:internal/'));
    t.equal((await maps.frameFor(internal!))?.mapped, false, 'node internals are not mapped');
    t.equal(await maps.frameFor('Builtin:ArrayMap'), undefined);
    t.same(warnings, [], `${name}: no warnings`);
    maps.destroy();
  }
});

t.test('an ES module (file:// URL in the perf map)', async (t) => {
  const mjs = variant('esm', (js) => js, 'shapes.mjs');
  const { pid } = run(mjs);
  const path = `/tmp/perf-${pid}.map`;
  const names = readFileSync(path, 'utf8').split('\n').map((line) => line.split(' ').slice(2).join(' '));
  rmSync(path, { force: true });
  const hot = names.find((n) => /^JS:.spinTypeScript file:\/\//.test(n));
  t.ok(hot, 'V8 names ES module code by file:// URL');
  const maps = new SourceMaps();
  const frame = await maps.frameFor(hot!);
  t.equal(frame?.file, join(dir, 'esm', 'src', 'shapes.ts'));
  t.equal(frame?.line, tsLine('function spinTypeScript'));
  maps.destroy();
});

t.test('broken source maps: one warning per script, the JavaScript name stays', async (t) => {
  const cases: [string, (mapPath: string) => void, RegExp][] = [
    ['not JSON', (m) => writeFileSync(m, '{"version":3,"mappings":'), /source map not used: .*shapes\.js\.map: not JSON/],
    ['no mappings', (m) => writeFileSync(m, '{"version":3}'), /not a source map/],
    ['bad mappings', (m) => writeFileSync(m, JSON.stringify({ version: 3, sources: ['a.ts'], names: [], mappings: 'AAAA,!!!!;;;' })), /source map not used/],
    ['missing file', (m) => rmSync(m), /its sourceMappingURL "shapes.js.map" cannot be read/],
  ];
  for (const [what, breakIt, expected] of cases) {
    const js = variant('broken');
    breakIt(`${js}.map`);
    const warnings: string[] = [];
    const maps = new SourceMaps({ warn: (w) => warnings.push(w) });
    const frame = await maps.frameFor(`JS:*spinTypeScript ${js}:13:24`);
    t.same(frame, { name: `spinTypeScript ${js}:13:24`, func: 'spinTypeScript', file: js, line: 13, column: 24, mapped: false }, `${what}: JavaScript position kept`);
    await maps.frameFor(`JS:~area ${js}:9:9`);
    t.equal(warnings.length, 1, `${what}: one warning`);
    t.match(warnings[0], expected);
    maps.destroy();
  }
});

t.test('paths are read under the process root', async (t) => {
  const js = variant('rooted');
  const seen: string[] = [];
  const maps = new SourceMaps({
    readFile: (path) => {
      seen.push(path);
      try {
        return readFileSync(path.replace(/^\/fake-root/, ''), 'utf8');
      } catch {
        return undefined;
      }
    },
  });
  const frame = await maps.frameFor(`JS:*spinTypeScript ${js}:13:24`, '/fake-root');
  t.ok(frame?.mapped);
  t.same(seen, [`/fake-root${js}`, `/fake-root${js}.map`]);
  t.equal(frame?.file, join(dir, 'rooted', 'src', 'shapes.ts'), 'shown as the process sees it');
  maps.destroy();
});

t.test('hostile scripts: no file contents in warnings, no arbitrary files, no FIFOs', async (t) => {
  const base = join(dir, 'hostile');
  mkdirSync(base, { recursive: true });
  const secret = join(base, 'secret.map');
  writeFileSync(secret, 'root:x:0:0:TOP-SECRET-HASH\n');
  const fifo = join(base, 'pipe.map');
  execFileSync('mkfifo', [fifo]);
  const scriptFifo = join(base, 'script-fifo.js');
  execFileSync('mkfifo', [scriptFifo]);
  const cases: [string, string, RegExp][] = [
    ['/etc/passwd', 'outside.js', /its sourceMappingURL "\/etc\/passwd" does not name a \.map file$/],
    ['secret.map', 'leak.js', /secret\.map: not JSON$/],
    ['pipe.map', 'fifo.js', /its sourceMappingURL "pipe.map" cannot be read$/],
  ];
  for (const [url, name, expected] of cases) {
    const js = join(base, name);
    writeFileSync(js, `function f() {}\n//# sourceMappingURL=${url}\n`);
    const warnings: string[] = [];
    const maps = new SourceMaps({ warn: (w) => warnings.push(w) });
    const frame = await maps.frameFor(`JS:~f ${js}:1:11`);
    t.equal(frame?.mapped, false, `${url}: not mapped`);
    t.equal(warnings.length, 1);
    t.match(warnings[0], expected);
    t.notMatch(warnings.join('\n'), /TOP-SECRET|root:x/, 'nothing of the file in the warning');
    maps.destroy();
  }
  const maps = new SourceMaps();
  const frame = await maps.frameFor(`JS:~f ${scriptFifo}:1:11`);
  t.same(frame, { name: `f ${scriptFifo}:1:11`, func: 'f', file: scriptFifo, line: 1, column: 11, mapped: false }, 'a FIFO named as the script is not read');
  maps.destroy();
});
