import type { Readable } from 'node:stream';
import { InputError, excerpt } from '../errors.js';
import { forEachLine } from '../io/lines.js';
import { kindFromAnnotation, parseFoldedLine } from '../profile/folded.js';
import type { FrameKind } from '../profile/model.js';
import { buildFlameChart, type FlameNode } from './tree.js';

/**
 * A flame chart straight from folded text, line by line in file order. A `Profile` merges equal
 * stacks wherever they occur, which loses the order a flame chart shows (flamegraph.pl
 * `--flamechart` keeps every line where it is), so charts of folded files are built from here.
 */
export async function flameChartFromFolded(input: Readable, file: string, options: { readonly reverse?: boolean } = {}): Promise<FlameNode> {
  const stacks: { names: string[]; kinds: FrameKind[]; weight: number }[] = [];
  await forEachLine(
    input,
    (text, lineNumber) => {
      if (text.length === 0 || text.startsWith('#')) return;
      const parsed = parseFoldedLine(text);
      if (!parsed) throw new InputError(`expected folded stack 'frame;frame;… count', found ${excerpt(text)}`, file, lineNumber);
      const names = options.reverse ? parsed.frames.reverse() : parsed.frames;
      stacks.push({ names, kinds: names.map(kindFromAnnotation), weight: parsed.count });
    },
    { file },
  );
  if (stacks.length === 0) throw new InputError('input is empty (no folded stacks)', file);
  return buildFlameChart(stacks);
}
