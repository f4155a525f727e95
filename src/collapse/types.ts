import type { Profile, RunMetadata } from '../profile/model.js';

/** A streaming parser for one input format: fed line by line, then asked for the profile. */
export interface LineParser {
  line(text: string, lineNumber: number): void;
  /** Raw input instead of lines, for parsers that are faster on bytes; `end` then reads a last line without a newline. */
  write?(chunk: Buffer): void;
  end(metadata?: RunMetadata): Profile;
}

/** One input format `collapse` (and `render`, `diff`) can read. */
export interface InputFormat<Options = unknown> {
  readonly name: string;
  /** True when the first lines of an input (up to ~200, trailing partial data possible) are this format. */
  sniff(head: readonly string[]): boolean;
  createParser(file: string, options: Options): LineParser;
}
