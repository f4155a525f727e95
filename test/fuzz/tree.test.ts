// The flame tree every renderer draws conserves weight: for any profile (hostile names, any kinds,
// threads or not, reversed or not), root total = profile total and at every node
// total = self + sum(children). ~1 s locally, ~3 s in CI.
import t from 'tap';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { FrameKind } from '../../src/profile/model.js';
import { buildFlameTree, type FlameNode } from '../../src/render/tree.js';
import { checkProperty, fc, hostileString } from '../helpers/fuzz.js';

const KINDS: FrameKind[] = ['kernel', 'user', 'jit', 'inline'];
const profiles = fc
  .array(
    fc.record({
      frames: fc.array(fc.record({ name: fc.oneof(hostileString(8), fc.constantFrom('a', 'b', 'c', 'all')), kind: fc.constantFrom(...KINDS) }), { maxLength: 8 }),
      weight: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1e6, noNaN: true })),
      comm: fc.option(fc.constantFrom('x', 'y', ''), { nil: undefined }),
    }),
    { maxLength: 30 },
  )
  .map((stacks) => {
    const b = new ProfileBuilder();
    for (const s of stacks) b.addFrames(s.frames, s.weight, s.comm === undefined ? undefined : { comm: s.comm, pid: 1 });
    return b.build();
  });

function check(node: FlameNode, path: string): void {
  const children = node.children.reduce((sum, c) => sum + c.total, 0);
  if (Math.abs(node.total - node.self - children) > 1e-6 * Math.max(1, node.total)) {
    throw new Error(`${path}: total ${node.total} != self ${node.self} + children ${children}`);
  }
  const seen = new Set<string>();
  for (const c of node.children) {
    const key = `${c.kind}\0${c.name}`;
    if (seen.has(key)) throw new Error(`${path}: two children named ${JSON.stringify(c.name)} (${c.kind})`);
    seen.add(key);
    check(c, `${path};${c.name}`);
  }
}

t.test('flame tree conserves weight and merges siblings', async (t) => {
  await checkProperty(t, 'flame tree weight conservation', 300, [profiles, fc.boolean(), fc.constantFrom('none', 'comm', 'comm-pid', 'comm-pid/tid')], async (profile, reverse, processFrame) => {
    const root = buildFlameTree(profile, { reverse, processFrame: processFrame as 'comm' });
    if (Math.abs(root.total - profile.totalWeight) > 1e-6 * Math.max(1, profile.totalWeight)) throw new Error(`root ${root.total} != profile ${profile.totalWeight}`);
    check(root, 'all');
  });
});
