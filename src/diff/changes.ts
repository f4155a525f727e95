import type { FrameKind, Profile } from '../profile/model.js';

/** One function's counts on both sides and how they changed. */
export interface FunctionChange {
  readonly name: string;
  readonly kind: FrameKind;
  readonly before: { readonly self: number; readonly total: number };
  readonly after: { readonly self: number; readonly total: number };
  /** Change of the function's share of all samples, in percentage points (AFTER − BEFORE). */
  readonly selfPoints: number;
  readonly totalPoints: number;
  /**
   * Change in samples: AFTER − BEFORE, with BEFORE first scaled to AFTER's total when
   * normalising (so a run twice as long does not show every function doubled).
   */
  readonly selfDelta: number;
  readonly totalDelta: number;
}

interface Counts {
  name: string;
  kind: FrameKind;
  self: number;
  total: number;
}

/** Self and total weight per function (kind + name); recursion counts a stack once in total. */
function countFunctions(profile: Profile): Map<string, Counts> {
  const counts = new Map<string, Counts>();
  const keys = profile.frames.map((f) => `${f.kind}\0${f.name}`);
  const seen = new Set<string>();
  for (const stack of profile.stacks) {
    if (stack.weight === 0) continue;
    seen.clear();
    for (const id of stack.frames) {
      const key = keys[id]!;
      if (seen.has(key)) continue;
      seen.add(key);
      let c = counts.get(key);
      if (!c) counts.set(key, (c = { name: profile.frames[id]!.name, kind: profile.frames[id]!.kind, self: 0, total: 0 }));
      c.total += stack.weight;
    }
    const leaf = stack.frames[stack.frames.length - 1];
    if (leaf !== undefined) counts.get(keys[leaf]!)!.self += stack.weight;
  }
  return counts;
}

/**
 * Every function of either side with its change, biggest first: by the larger of its self and
 * total change, in points when normalising, in samples otherwise. Functions in one side only
 * count 0 on the other.
 */
export function functionChanges(before: Profile, after: Profile, normalize: boolean): FunctionChange[] {
  const b = countFunctions(before);
  const a = countFunctions(after);
  const beforeTotal = before.totalWeight;
  const afterTotal = after.totalWeight;
  const share = (value: number, total: number): number => (total > 0 ? (100 * value) / total : 0);
  // With an empty BEFORE there is nothing to scale: its zero counts stay zero.
  const scale = normalize && beforeTotal > 0 ? afterTotal / beforeTotal : 1;
  const rows: FunctionChange[] = [];
  for (const key of new Set([...b.keys(), ...a.keys()])) {
    const x = b.get(key);
    const y = a.get(key);
    const before = { self: x?.self ?? 0, total: x?.total ?? 0 };
    const after = { self: y?.self ?? 0, total: y?.total ?? 0 };
    rows.push({
      name: (x ?? y)!.name,
      kind: (x ?? y)!.kind,
      before,
      after,
      selfPoints: share(after.self, afterTotal) - share(before.self, beforeTotal),
      totalPoints: share(after.total, afterTotal) - share(before.total, beforeTotal),
      selfDelta: after.self - before.self * scale,
      totalDelta: after.total - before.total * scale,
    });
  }
  const size = normalize
    ? (r: FunctionChange): number => Math.max(Math.abs(r.selfPoints), Math.abs(r.totalPoints))
    : (r: FunctionChange): number => Math.max(Math.abs(r.selfDelta), Math.abs(r.totalDelta));
  return rows.sort((p, q) => size(q) - size(p) || (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
}
