// The folded reader (src/profile/folded-scan.ts) under the three things built from it: the call
// tree `render` draws HTML from, the stacks it draws SVG from, and the Profile every other command
// reads. On fuzzed folded text cut into random chunks, all three hold the same graph (the same
// stacks of the same frames with the same counts) as a plain string reading of flamegraph.pl's
// grammar written here, or all three fail with the same one-line error naming the file and the
// line that reading finds bad. Local ~10 s; CI (1,000 cases each) ~40 s.
import t from 'tap';
import { readFolded } from '../../src/profile/folded.js';
import { callTreeFromFolded, childLists, type CallTree } from '../../src/render/calltree.js';
import { foldedStacks, type Stacks } from '../../src/render/svg/stacks.js';
import type { ProfileError } from '../../src/errors.js';
import type { Profile } from '../../src/profile/model.js';
import { checkProperty, chunkCuts, chunkedStream, fc, hostileString, mutatedFrom, resultOrProfileError, utf8, type Outcome } from '../helpers/fuzz.js';

const FILE = 'in.folded';

const SEEDS = [
  'bash;main;execute_command;fork 12\nbash;main;execute_command;wait 3\nbash;main;readline 3\nnode;start;uv_run;epoll_wait_[k] 40\n',
  'java;start_thread;Interpreter 1.5\njava;[unknown] 2\n\n# a comment\nswapper;cpu_idle_[k];default_idle_[k] 900\n',
  'a b c;with spaces;and  two 7\nä;日本語;🔥 1\nperl;main_[j];x_[i];y_[w] 0\n',
  'a;b;c 1\na;b 2\na;b;c 3\na 4\nb;a 5\n a 6\n;; 7\n 8\n',
  'x 1\r\ny;z\u00a02\r\nw;v\u30003\nu\ufeff4\n',
].map(utf8);

/** Stack (names joined by `;`, which no name holds) → summed count, over stacks with a non-zero count. */
type Graph = Map<string, number>;

/** What the reading below expects: the graph, or the line of the first error and its kind. */
type Expected = { readonly graph: Graph } | { readonly line: number | undefined; readonly message: RegExp };

/**
 * flamegraph.pl's grammar read the plain way: the text decoded whole, split at `\n`, one `\r`
 * dropped, blank and `#` lines skipped, `^(.*)\s(\d+(?:\.\d*)?)$` per line.
 */
function expected(bytes: Uint8Array): Expected {
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const graph: Graph = new Map();
  let stackLines = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = /^(.*)\s(\d+(?:\.\d*)?)$/s.exec(line);
    if (!match) return { line: i + 1, message: /expected folded stack/ };
    const count = Number(match[2]);
    if (count > Number.MAX_SAFE_INTEGER) return { line: i + 1, message: /count is larger than/ };
    stackLines++;
    if (count > 0) graph.set(match[1]!, (graph.get(match[1]!) ?? 0) + count);
  }
  return stackLines === 0 ? { line: undefined, message: /input is empty/ } : { graph };
}

function treeGraph(tree: CallTree): Graph {
  const graph: Graph = new Map();
  const { start, list } = childLists(tree);
  // Depth first with explicit paths: mutated input nests thousands of frames deep.
  const pending: [number, string | undefined][] = [[0, undefined]];
  while (pending.length > 0) {
    const [node, path] = pending.pop()!;
    if (tree.self[node]! > 0) graph.set(path ?? '', tree.self[node]!);
    for (let j = start[node]!; j < start[node + 1]!; j++) {
      const child = list[j]!;
      const name = tree.names[tree.key[child]!]!;
      pending.push([child, path === undefined ? name : `${path};${name}`]);
    }
  }
  return graph;
}

function stacksGraph(stacks: Stacks): Graph {
  const graph: Graph = new Map();
  for (let s = 0; s < stacks.weights.length; s++) {
    const names = Array.from(stacks.pool.subarray(stacks.offsets[s], stacks.offsets[s + 1]), (id) => stacks.names[id]!);
    const key = names.join(';');
    graph.set(key, (graph.get(key) ?? 0) + stacks.weights[s]!);
  }
  return graph;
}

function profileGraph(profile: Profile): Graph {
  const graph: Graph = new Map();
  for (const stack of profile.stacks) {
    if (stack.weight === 0) continue;
    const key = stack.frames.map((id) => profile.frame(id).name).join(';');
    graph.set(key, (graph.get(key) ?? 0) + stack.weight);
  }
  return graph;
}

function sameGraph(a: Graph, b: Graph): boolean {
  if (a.size !== b.size) return false;
  for (const [key, count] of a) {
    const other = b.get(key);
    if (other === undefined || Math.abs(other - count) > 1e-9 * Math.max(1, count)) return false;
  }
  return true;
}

const show = (graph: Graph): string => JSON.stringify([...graph]).slice(0, 800);

async function check(bytes: Uint8Array, cuts: number[][]): Promise<void> {
  const want = expected(bytes);
  // Every error names the file and, unless the whole input has no stack, the line.
  const expectation = { file: FILE, line: (e: ProfileError) => !/empty/.test(e.message) };
  const outcomes: [string, Outcome<Graph>][] = [
    ['render call tree', await resultOrProfileError(async () => treeGraph(await callTreeFromFolded(chunkedStream(bytes, cuts[0]), FILE)), expectation)],
    ['render SVG stacks', await resultOrProfileError(async () => stacksGraph(await foldedStacks(chunkedStream(bytes, cuts[1]), FILE, { reverse: false, flamechart: true, processFrame: 'comm' })), expectation)],
    ['profile', await resultOrProfileError(async () => profileGraph(await readFolded(chunkedStream(bytes, cuts[2]), FILE)), expectation)],
  ];
  for (const [path, outcome] of outcomes) {
    if ('graph' in want) {
      if (!outcome.ok) throw new Error(`${path}: ${outcome.error.toLine()}, where the plain reading finds ${show(want.graph)}`);
      if (!sameGraph(outcome.value, want.graph)) throw new Error(`${path}: graph ${show(outcome.value)}, expected ${show(want.graph)}`);
    } else {
      if (outcome.ok) throw new Error(`${path}: a graph ${show(outcome.value)}, where the plain reading fails at line ${want.line}`);
      if (outcome.error.line !== want.line || !want.message.test(outcome.error.message)) {
        throw new Error(`${path}: ${outcome.error.toLine()}, expected line ${want.line} and ${want.message}`);
      }
    }
  }
  const errors = outcomes.map(([, o]) => (o.ok ? '' : o.error.toLine()));
  if (new Set(errors).size !== 1) throw new Error(`the paths fail differently: ${JSON.stringify(errors)}`);
}

// Generated files: a small alphabet of frames so that lines share prefixes (which the scanner
// does not decode again), hostile names, every white space that may separate the count (Unicode
// ones included), CRLF, comments, blank lines, zero and fractional counts.
const frame = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('a', 'b', 'main', 'f_[k]', 'g_[j]', '[unknown]', 'ä', '日本', '') }, { weight: 1, arbitrary: hostileString(12) });
const separator = fc.constantFrom(' ', ' ', ' ', '\t', '  ', '\u00a0', '\u2003', '\u3000', '\ufeff', '\u2028', '\u000b');
const count = fc.oneof(fc.integer({ min: 0, max: 1000 }).map(String), fc.constantFrom('0.5', '2.', '1.25', '007', '9007199254740993', '1.2.3', '.5', ''));
const stackLine = fc.tuple(fc.array(frame, { maxLength: 8 }), separator, count, fc.constantFrom('', '', '\r')).map(([frames, space, n, cr]) => `${frames.join(';')}${space}${n}${cr}`);
const line = fc.oneof({ weight: 12, arbitrary: stackLine }, { weight: 1, arbitrary: fc.constantFrom('', '# comment', '#', '\r', ' ') });
const generated = fc
  .tuple(fc.array(line, { minLength: 1, maxLength: 40 }), fc.boolean(), fc.boolean())
  .map(([lines, sorted, newline]) => utf8((sorted ? [...lines].sort() : lines).join('\n') + (newline ? '\n' : '')));
const cuts = fc.tuple(chunkCuts, chunkCuts, chunkCuts).map((c) => [...c]);

for (const [name, input] of [['generated', generated], ['mutated', mutatedFrom(SEEDS)]] as const) {
  t.test(`${name} folded text: render's readers and the Profile hold the graph the grammar says, or the same error`, async (t) => {
    await checkProperty(t, `folded reader (${name})`, 400, [input, cuts], async (bytes, chunks) => {
      await check(bytes, chunks);
    });
  });
}

t.test('lines longer than a chunk, prefixes shared across chunks, one-byte chunks', async (t) => {
  const long = Array.from({ length: 50 }, (_, i) => `root;${'m'.repeat(3000)};mid_${i % 3};leaf_${i} ${i}`).join('\n') + '\n';
  const bytes = utf8(long);
  for (const c of [[], [0.1, 0.2, 0.3, 0.5, 0.7, 0.9], Array.from({ length: 200 }, (_, i) => i / 200)]) await check(bytes, [c, c, c]);
  const small = utf8('a;b;c 1\na;b;d 2\na;b 3\nä;b\u00a04\r\n');
  await check(small, Array.from({ length: 3 }, () => Array.from({ length: small.length - 1 }, (_, i) => (i + 1) / small.length)));
  t.pass('all three readers agree with the grammar');
});
