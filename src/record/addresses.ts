/**
 * A Profile of unnamed frames (`0xffffffff81234567`), straight from a RawProfile. What the
 * recorder's own tests look at, and what `profile record` falls back to when no symbolizer is
 * built in; names come from src/symbolize.
 */
import { ProfileBuilder } from '../profile/builder.js';
import type { Frame } from '../profile/model.js';
import type { Profile } from '../profile/model.js';
import type { RawProfile } from '../profile/raw.js';

export function addressProfile(raw: RawProfile): Profile {
  const builder = new ProfileBuilder();
  for (const sample of raw.samples) {
    const frames: Frame[] = [];
    // Root first: user stack (outermost caller first), then the kernel part below it.
    for (let i = sample.userStack.length - 1; i >= 0; i--) frames.push({ name: `0x${sample.userStack[i]!.toString(16)}`, kind: 'user' });
    for (let i = sample.kernelStack.length - 1; i >= 0; i--) frames.push({ name: `0x${sample.kernelStack[i]!.toString(16)}`, kind: 'kernel' });
    builder.addFrames(frames, sample.count, { comm: sample.comm, pid: sample.pid, tid: sample.tid });
  }
  return builder.build(raw.metadata);
}
