/** Options of `diff`, apart so that the CLI's flags load without the differ. */
import type { ProcessFrameStyle } from '../profile/folded.js';

export interface DiffOptions {
  /**
   * Compare shares of each side's total instead of raw counts, so that a longer or shorter
   * AFTER run does not make everything look grown or shrunk. Default true.
   */
  readonly normalize: boolean;
  /**
   * Shape the tree like BEFORE instead of AFTER (flamegraph.pl `--negate` style): `total` is
   * then BEFORE's and `other` AFTER's, so frames that disappeared keep their width. Default false.
   */
  readonly negate: boolean;
  /** Root frame per process for stacks that know their thread. Default `comm`. */
  readonly processFrame: ProcessFrameStyle;
}

export const DIFF_DEFAULTS: DiffOptions = Object.freeze({ normalize: true, negate: false, processFrame: 'comm' });

export const DIFF_OUTPUT_FORMATS = ['svg', 'html'] as const;
export type DiffOutputFormat = (typeof DIFF_OUTPUT_FORMATS)[number];
