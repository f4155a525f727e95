/**
 * Differential profiles: BEFORE and AFTER compared frame by frame, as in Brendan Gregg's
 * differential flame graphs (difffolded.pl + flamegraph.pl), and per function.
 *
 * Reference: https://www.brendangregg.com/blog/2014-11-09/differential-flame-graphs.html
 */
import { Profile, type Frame, type FrameId, type WeightedStack } from '../profile/model.js';
import { buildCallTree, type CallTree } from '../render/calltree.js';
import { mergeCallTrees } from './tree.js';

export { functionChanges, type FunctionChange } from './changes.js';
export { formatChangesTable, changesJson } from './table.js';

export { DIFF_DEFAULTS, type DiffOptions } from './options.js';
import { DIFF_DEFAULTS, type DiffOptions } from './options.js';

export interface ProfileDiff {
  /** The shape side (AFTER, or BEFORE with `negate`) re-expressed over the frames of both sides. */
  readonly profile: Profile;
  /**
   * Tree shaped like the shape side: `total`/`self` are its counts, `other`/`otherSelf` the other
   * side's (see `mergeCallTrees`). Raw counts: renderers and tables normalise with
   * `beforeTotal`/`afterTotal` as `options.normalize` says.
   */
  readonly tree: CallTree;
  readonly before: Profile;
  readonly after: Profile;
  readonly beforeTotal: number;
  readonly afterTotal: number;
  readonly options: DiffOptions;
}

function frameKey(frame: Frame): string {
  return `${frame.kind}\0${frame.name}\0${frame.module ?? ''}\0${frame.file ?? ''}\0${frame.line ?? ''}`;
}

/** Both profiles over one frame table, so frame ids in either tree mean the same frame. */
function unify(before: Profile, after: Profile): [Profile, Profile] {
  const frames: Frame[] = [];
  const ids = new Map<string, FrameId>();
  const remap = (profile: Profile): FrameId[] =>
    profile.frames.map((frame) => {
      const key = frameKey(frame);
      let id = ids.get(key);
      if (id === undefined) {
        id = frames.length;
        frames.push(frame);
        ids.set(key, id);
      }
      return id;
    });
  const restack = (profile: Profile, map: FrameId[]): WeightedStack[] =>
    profile.stacks.map((s) => ({ ...s, frames: s.frames.map((id) => map[id]!) }));
  const afterMap = remap(after);
  const beforeMap = remap(before);
  return [new Profile(frames, restack(before, beforeMap), before.metadata), new Profile(frames, restack(after, afterMap), after.metadata)];
}

/** The differential profile of BEFORE → AFTER. */
export function diffProfiles(before: Profile, after: Profile, options: Partial<DiffOptions> = {}): ProfileDiff {
  const opts = { ...DIFF_DEFAULTS, ...options };
  const [b, a] = unify(before, after);
  const [shape, other] = opts.negate ? [b, a] : [a, b];
  const tree = mergeCallTrees(buildCallTree(shape, { processFrame: opts.processFrame }), buildCallTree(other, { processFrame: opts.processFrame }));
  return { profile: shape, tree, before: b, after: a, beforeTotal: b.totalWeight, afterTotal: a.totalWeight, options: opts };
}
