// The flame tree every renderer draws conserves weight: for any profile (hostile names, any kinds,
// threads or not, reversed or not), root total = profile total and at every node
// total = self + sum(children). ~1 s locally, ~3 s in CI.
import t from 'tap';
import { ProfileBuilder } from '../../src/profile/builder.js';
import type { FrameKind } from '../../src/profile/model.js';
import { buildCallTree, childLists, type CallTree } from '../../src/render/calltree.js';
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

function check(tree: CallTree): void {
  const { start, list } = childLists(tree);
  for (let node = 0; node < tree.size; node++) {
    const children = list.subarray(start[node], start[node + 1]);
    const sum = children.reduce((total, c) => total + tree.total[c]!, 0);
    const where = `node ${node} (${node === 0 ? 'all' : tree.names[tree.key[node]!]})`;
    if (Math.abs(tree.total[node]! - tree.self[node]! - sum) > 1e-6 * Math.max(1, tree.total[node]!)) {
      throw new Error(`${where}: total ${tree.total[node]} != self ${tree.self[node]} + children ${sum}`);
    }
    // A key is a name and kind: two children with one key would be one frame drawn twice.
    const keys = new Set(Array.from(children, (c) => tree.key[c]!));
    if (keys.size !== children.length) throw new Error(`${where}: two children with the same name and kind`);
  }
}

t.test('flame tree conserves weight and merges siblings', async (t) => {
  await checkProperty(t, 'flame tree weight conservation', 300, [profiles, fc.boolean(), fc.constantFrom('none', 'comm', 'comm-pid', 'comm-pid/tid')], async (profile, reverse, processFrame) => {
    const tree = buildCallTree(profile, { reverse, processFrame: processFrame as 'comm' });
    if (Math.abs(tree.total[0]! - profile.totalWeight) > 1e-6 * Math.max(1, profile.totalWeight)) throw new Error(`root ${tree.total[0]} != profile ${profile.totalWeight}`);
    check(tree);
  });
});
