// `profile render` reads folded files straight into what it draws (callTreeFromFolded for the call
// tree, the SVG writer's own stacks) instead of through a Profile. On mutated and generated
// folded text both ways must give the same graph: the same call tree (every path with its total and
// self weight), the same SVG byte for byte, or the same one-line error. Local ~10 s; CI ~40 s.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { buildCallTree, type CallTree } from '../../src/render/calltree.js';
import { callTreeFromFolded } from '../../src/render/calltree.js';
import { readFolded } from '../../src/profile/folded.js';
import { stringSink } from '../../src/io/sink.js';
import { writeSvg, writeSvgFromFolded } from '../../src/render/svg/index.js';
import { checkProperty, chunkCuts, chunkedStream, fc, hostileString, mutatedFrom, resultOrProfileError, utf8, type Outcome } from '../helpers/fuzz.js';

const SEEDS = [
  'bash;main;execute_command;fork 12\nbash;main;readline 3\nnode;start;uv_run;epoll_wait_[k] 40\n',
  'java;start_thread;Interpreter 1.5\njava;[unknown] 2\n\n# a comment\nswapper;cpu_idle_[k];default_idle_[k] 900\n',
  'a b c;with spaces;and  two 7\nä;日本語;🔥 1\nperl;main_[j];x_[i];y_[w] 0\n',
  'a;b;c 1\na;b 2\na;b;c 3\na 4\nb;a 5\n',
  'x 1\r\ny;z 2\r\n',
].map(utf8);

/**
 * The tree as a flat depth-first list of `[depth, kind, name, total, self]`, children in kind and
 * name order: independent of how nodes are numbered, and flat, because mutated input nests
 * thousands deep (a line of ';' is a stack of empty names).
 */
function canonical(tree: CallTree): [number, string, string, number, number][] {
  const children: number[][] = Array.from({ length: tree.size }, () => []);
  for (let node = 1; node < tree.size; node++) children[tree.parent[node]!]!.push(node);
  const label = (node: number): string => (node === 0 ? '' : `${tree.kinds[tree.key[node]!]}:${tree.names[tree.key[node]!]}`);
  const out: [number, string, string, number, number][] = [];
  const stack: [number, number][] = [[0, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    const key = tree.key[node]!;
    out.push([depth, node === 0 ? '' : tree.kinds[key]!, node === 0 ? 'all' : tree.names[key]!, tree.total[node]!, tree.self[node]!]);
    const sorted = children[node]!.map((child) => [label(child), child] as const).sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
    for (const [, child] of sorted) stack.push([child, depth + 1]);
  }
  return out;
}

const sameOutcome = <T>(direct: Outcome<T>, viaProfile: Outcome<T>, what: string): void => {
  if (direct.ok !== viaProfile.ok) {
    const say = (o: Outcome<T>): string => (o.ok ? 'a graph' : o.error.toLine());
    throw new Error(`${what}: directly ${say(direct)}, through a Profile ${say(viaProfile)}`);
  }
  if (!direct.ok && !viaProfile.ok && direct.error.toLine() !== viaProfile.error.toLine()) throw new Error(`${what}: errors differ: ${direct.error.toLine()} vs ${viaProfile.error.toLine()}`);
  if (direct.ok && viaProfile.ok && !isDeepStrictEqual(direct.value, viaProfile.value)) {
    throw new Error(`${what}: graphs differ: ${JSON.stringify(direct.value).slice(0, 1500)} vs ${JSON.stringify(viaProfile.value).slice(0, 1500)}`);
  }
};

const expectation = { file: 'in.folded', line: (e: { message: string }) => !/empty/.test(e.message) };

async function compareTrees(bytes: Uint8Array, cuts: number[], reverse: boolean): Promise<void> {
  const direct = await resultOrProfileError(async () => canonical(await callTreeFromFolded(chunkedStream(bytes, cuts), 'in.folded', { reverse })), expectation);
  const viaProfile = await resultOrProfileError(async () => canonical(buildCallTree(await readFolded(chunkedStream(bytes), 'in.folded'), { reverse })), expectation);
  sameOutcome(direct, viaProfile, `call tree${reverse ? ' (reverse)' : ''}`);
}

async function compareSvgs(bytes: Uint8Array, cuts: number[], options: { reverse?: boolean; inverted?: boolean }): Promise<void> {
  const svg = async (work: (sink: ReturnType<typeof stringSink>) => Promise<void>): Promise<string> => {
    const sink = stringSink();
    await work(sink);
    return sink.text();
  };
  const settings = { deterministic: true, ...options };
  const direct = await resultOrProfileError(() => svg((sink) => writeSvgFromFolded(chunkedStream(bytes, cuts), 'in.folded', sink, settings)), expectation);
  const viaProfile = await resultOrProfileError(async () => {
    const profile = await readFolded(chunkedStream(bytes), 'in.folded');
    return svg((sink) => writeSvg(profile, sink, settings));
  }, expectation);
  sameOutcome(direct, viaProfile, `SVG ${JSON.stringify(options)}`);
}

// Generated files: frames from a small alphabet (so stacks share prefixes and repeat, which the
// direct reader's prefix reuse depends on) mixed with hostile strings, counts with decimals and zeros.
const frame = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'main', 'f_[k]', 'g_[j]', 'h_[i]', '[unknown]') }, { weight: 1, arbitrary: hostileString(24) });
const count = fc.oneof(fc.integer({ min: 0, max: 1000 }).map(String), fc.constantFrom('0.5', '2.', '1.25', '007'));
const line = fc.tuple(fc.array(frame, { minLength: 1, maxLength: 8 }), count, fc.constantFrom(' ', '  ', '\t')).map(([frames, n, space]) => `${frames.join(';')}${space}${n}`);
const generated = fc.array(line, { minLength: 1, maxLength: 30 }).map((lines) => utf8(lines.join('\n') + '\n'));

for (const [name, input] of [['mutated', mutatedFrom(SEEDS)], ['generated', generated]] as const) {
  t.test(`${name} folded text: the direct call tree is the one built from a Profile`, async (t) => {
    await checkProperty(t, `render folded call tree (${name})`, 300, [input, chunkCuts, fc.boolean()], async (bytes, cuts, reverse) => {
      await compareTrees(bytes, cuts, reverse);
    });
  });
  t.test(`${name} folded text: the direct SVG is the one drawn from a Profile`, async (t) => {
    await checkProperty(t, `render folded SVG (${name})`, 150, [input, chunkCuts, fc.boolean(), fc.boolean()], async (bytes, cuts, reverse, inverted) => {
      await compareSvgs(bytes, cuts, { reverse, inverted });
    });
  });
}
