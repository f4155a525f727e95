import { Profile, type Frame, type FrameId, type RunMetadata, type ThreadInfo, type WeightedStack } from './model.js';

function frameKey(frame: Frame): string {
  return `${frame.kind}\0${frame.name}\0${frame.module ?? ''}\0${frame.file ?? ''}\0${frame.line ?? ''}`;
}

function threadKey(thread: ThreadInfo): string {
  return `${thread.comm}\0${thread.pid ?? ''}\0${thread.tid ?? ''}`;
}

/**
 * Collects frames and stacks; identical stacks (same frames and thread) are merged by adding
 * their weights, so memory follows the number of distinct stacks, not the number of samples.
 */
export class ProfileBuilder {
  private readonly frames: Frame[] = [];
  private readonly frameIds = new Map<string, FrameId>();
  private readonly stacks: { frames: readonly FrameId[]; weight: number; thread?: ThreadInfo }[] = [];
  private readonly stackIndex = new Map<string, number>();
  /** One frozen ThreadInfo per distinct thread, numbered: stack keys hold the number, not the comm (a system-wide profile has 100k+ stacks). */
  private readonly threads = new Map<string, { readonly info: ThreadInfo; readonly key: string }>();
  private built = false;

  internFrame(frame: Frame): FrameId {
    const key = frameKey(frame);
    let id = this.frameIds.get(key);
    if (id === undefined) {
      id = this.frames.length;
      this.frames.push(Object.freeze({ ...frame }));
      this.frameIds.set(key, id);
    }
    return id;
  }

  /** Adds `weight` to the stack `frames` (root first). A zero weight still records the stack. */
  addStack(frames: readonly FrameId[], weight: number, thread?: ThreadInfo): void {
    if (this.built) throw new Error('ProfileBuilder used after build()');
    let interned: { readonly info: ThreadInfo; readonly key: string } | undefined;
    if (thread) {
      const tk = threadKey(thread);
      interned = this.threads.get(tk);
      if (!interned) {
        interned = { info: Object.freeze({ ...thread }), key: `${this.threads.size}` };
        this.threads.set(tk, interned);
      }
    }
    const key = `${interned ? interned.key : ''}\x01${frames.join(',')}`;
    const index = this.stackIndex.get(key);
    if (index !== undefined) {
      this.stacks[index]!.weight += weight;
      return;
    }
    this.stackIndex.set(key, this.stacks.length);
    this.stacks.push({ frames: Object.freeze(frames.slice()), weight, thread: interned?.info });
  }

  /** Convenience: intern each frame then add the stack. */
  addFrames(frames: readonly Frame[], weight: number, thread?: ThreadInfo): void {
    this.addStack(frames.map((frame) => this.internFrame(frame)), weight, thread);
  }

  get stackCount(): number {
    return this.stacks.length;
  }

  build(metadata: RunMetadata = {}): Profile {
    this.built = true;
    const stacks: WeightedStack[] = this.stacks.map((s) =>
      Object.freeze(s.thread ? { frames: s.frames, weight: s.weight, thread: s.thread } : { frames: s.frames, weight: s.weight }),
    );
    return new Profile(this.frames, stacks, metadata);
  }
}
