import { FoldedParser, looksFolded } from '../profile/folded.js';
import type { InputFormat } from './types.js';

/** Folded stacks pass straight through (merged and sorted). */
export const foldedFormat: InputFormat = {
  name: 'folded',
  sniff: looksFolded,
  createParser: (file) => new FoldedParser(file),
};
