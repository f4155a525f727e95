/** What the symbolizer keeps per address once named; shared by the user and kernel steps. */
import type { FrameId } from '../profile/model.js';
import type { Gap } from './report.js';

/** One address, named: its frames (root first; more than one with inlined functions) and what the report needs. */
export interface Resolved {
  readonly ids: readonly FrameId[];
  /** The module's gap counts when something is missing. */
  readonly gap: Gap | undefined;
  readonly unnamed: boolean;
  readonly noDebug: boolean;
}

export const hex = (n: bigint | number): string => `0x${n.toString(16)}`;
