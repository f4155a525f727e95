// Our SVG draws the same frames as FlameGraph's flamegraph.pl (the set of rect titles: name,
// count and percentage) for the same folded input and options. flamegraph.pl comes from
// ../shared/peers/FlameGraph beside the repository, or FLAMEGRAPH_DIR (helpers/requires.ts). ~3 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringSink } from '../../src/io/sink.js';
import { readFolded } from '../../src/profile/folded.js';
import { writeSvg, writeSvgFromFolded, type SvgOptions } from '../../src/render/svg/index.js';
import { flamegraphScript, requiresFlameGraph } from '../helpers/requires.js';
import { svgFrames } from '../helpers/svg.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'render');

/** A folded file with `count` stacks from a fixed seed. Names have one width: flamegraph.pl sorts whole lines, so a name that is a prefix of its sibling's (`f1` and `f12`) can split a frame in two there. */
function synthetic(count: number, seed: number): string {
  let state = seed;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const depth = 1 + random(12);
    const frames: string[] = [];
    for (let d = 0; d < depth; d++) frames.push(`fn_${String(random(d < 2 ? 4 : 40)).padStart(3, '0')}${d % 5 === 4 ? '_[k]' : ''}`);
    lines.push(`${frames.join(';')} ${1 + random(random(10) === 0 ? 5000 : 20)}`);
  }
  return lines.join('\n') + '\n';
}

const CASES: [string, string[], Partial<SvgOptions>][] = [
  ['default', [], {}],
  ['reverse', ['--reverse'], { reverse: true }],
  ['inverted', ['--inverted'], { inverted: true }],
  ['minwidth 30 px', ['--minwidth', '30'], { minWidth: 30 }],
  ['minwidth 2%', ['--minwidth', '2%'], { minWidth: '2%' }],
  ['narrow', ['--width', '300'], { width: 300 }],
  ['countname', ['--countname', 'bytes'], { countName: 'bytes' }],
  ['flamechart', ['--flamechart'], { flamechart: true }],
];

t.test('same frames as flamegraph.pl', async (t) => {
  if (!requiresFlameGraph(t, 'flamegraph.pl')) return;
  const flamegraph = flamegraphScript('flamegraph.pl');
  const dir = mkdtempSync(join(tmpdir(), 'profile-svg-fg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const synth = join(dir, 'synthetic.folded');
  writeFileSync(synth, synthetic(3000, 42));
  for (const input of [join(FIXTURES, 'small.folded'), join(FIXTURES, 'chart.folded'), synth]) {
    for (const [name, flags, options] of CASES) {
      const theirs = execFileSync('perl', [flamegraph, ...flags, input], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
      const sink = stringSink();
      // A flame chart of a file keeps every line in place: built from the text, not from a merged Profile.
      if (options.flamechart) await writeSvgFromFolded(createReadStream(input), input, sink, { deterministic: true, ...options });
      else await writeSvg(await readFolded(createReadStream(input), input), sink, { deterministic: true, ...options });
      const ours = svgFrames(sink.text()).map((f) => f.title).sort();
      const expected = svgFrames(theirs).map((f) => f.title).sort();
      t.ok(expected.length > 5, `${name}: flamegraph.pl drew ${expected.length} frames`);
      t.same(ours, expected, `${name} (${input === synth ? 'synthetic 3000 stacks' : input.slice(FIXTURES.length + 1)}): same frames`);
    }
  }
});
