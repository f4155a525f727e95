import { processFrameName, type ProcessFrameStyle } from '../profile/folded.js';
import type { FrameKind, Profile } from '../profile/model.js';

/**
 * The call tree every flame graph draws: children merged by name and kind, weights summed.
 * `otherTotal` carries the other side's total in a differential tree (see src/diff).
 */
export interface FlameNode {
  readonly name: string;
  readonly kind: FrameKind;
  /** Frame id in the profile (first one seen for this name+kind); -1 for roots made here. */
  readonly frameId: number;
  total: number;
  self: number;
  otherTotal?: number;
  otherSelf?: number;
  readonly children: FlameNode[];
}

export interface FlameTreeOptions {
  /** Root frame per process for stacks that know their thread. Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
  /** Build the tree from the leaves (icicle of callees; FlameGraph's `--reverse`). Default false. */
  readonly reverse: boolean;
}

export const FLAME_TREE_DEFAULTS: FlameTreeOptions = Object.freeze({ processFrame: 'comm', reverse: false });

function newNode(name: string, kind: FrameKind, frameId: number): FlameNode {
  return { name, kind, frameId, total: 0, self: 0, children: [] };
}

/** Builds the merged call tree of `profile`; the returned root is named `all`. */
export function buildFlameTree(profile: Profile, options: Partial<FlameTreeOptions> = {}): FlameNode {
  const opts = { ...FLAME_TREE_DEFAULTS, ...options };
  const root = newNode('all', 'process', -1);
  // Per node, children by "kind\0name": a Map per node is the fast path for wide trees.
  const index = new Map<FlameNode, Map<string, FlameNode>>();
  const child = (parent: FlameNode, name: string, kind: FrameKind, frameId: number): FlameNode => {
    let byKey = index.get(parent);
    if (!byKey) index.set(parent, (byKey = new Map()));
    const key = `${kind}\0${name}`;
    let node = byKey.get(key);
    if (!node) {
      node = newNode(name, kind, frameId);
      byKey.set(key, node);
      parent.children.push(node);
    }
    return node;
  };
  for (const stack of profile.stacks) {
    if (stack.weight === 0) continue;
    let node = root;
    node.total += stack.weight;
    const ids = opts.reverse ? [...stack.frames].reverse() : stack.frames;
    const processName = stack.thread ? processFrameName(stack.thread, opts.processFrame) : undefined;
    if (processName !== undefined && !opts.reverse) {
      node = child(node, processName, 'process', -1);
      node.total += stack.weight;
    }
    for (const id of ids) {
      const frame = profile.frames[id]!;
      node = child(node, frame.name, frame.kind, id);
      node.total += stack.weight;
    }
    if (processName !== undefined && opts.reverse) {
      node = child(node, processName, 'process', -1);
      node.total += stack.weight;
    }
    node.self += stack.weight;
  }
  return root;
}
