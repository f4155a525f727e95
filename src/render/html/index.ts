import type { Readable } from 'node:stream';
import type { ProfileWriter } from '../../output/writer.js';
import type { Sink } from '../../io/sink.js';
import type { Profile } from '../../profile/model.js';
import { callTreeFromFolded } from '../calltree.js';
import { prepareReport, reportFromTree, type DiffInput } from './data.js';
import { htmlOptionsFrom, type HtmlOptions } from './options.js';
import { assemblePage } from './page.js';

export { HTML_DEFAULTS, htmlOptionsFrom, type HtmlOptions } from './options.js';
export { prepareReport, reportFromTree, hottestFunctions, type ReportData, type DiffInput } from './data.js';

/** The self-contained HTML report of `profile` (or, with `diff`, of a differential tree). */
export function renderHtml(profile: Profile, options: HtmlOptions, diff?: DiffInput): string {
  return assemblePage(prepareReport(profile, options, diff));
}

/** Writer for `-o x.html`: options come from `WriteOptions.render`. */
export const writeHtml: ProfileWriter = async (profile, sink, options) => {
  const html = htmlOptionsFrom(options.render);
  const title = options.render?.title ? html.title : profile.metadata.title ?? html.title;
  await sink.write(renderHtml(profile, { ...html, title }));
};

/**
 * The report of folded text read straight from `input` (`file` names it in errors): the fast path
 * for `profile render x.folded -o x.html`, with the same page as going through a Profile.
 */
export async function writeHtmlFromFolded(input: Readable, file: string, sink: Sink, render: Readonly<Record<string, unknown>> = {}): Promise<void> {
  const options = htmlOptionsFrom(render);
  const tree = await callTreeFromFolded(input, file, { reverse: options.reverse });
  let stacks = 0;
  for (let i = 0; i < tree.size; i++) if (tree.self[i]! > 0) stacks++;
  const source = { metadata: { extra: { inputFormat: 'folded' } }, totalWeight: tree.total[0]!, distinctStacks: stacks, distinctFrames: tree.names.length };
  await sink.write(assemblePage(reportFromTree(tree, source, options)));
}
