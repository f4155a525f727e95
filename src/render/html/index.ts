import type { ProfileWriter } from '../../output/index.js';
import type { Profile } from '../../profile/model.js';
import { prepareReport, type DiffInput } from './data.js';
import { htmlOptionsFrom, type HtmlOptions } from './options.js';
import { assemblePage } from './page.js';

export { HTML_DEFAULTS, htmlOptionsFrom, type HtmlOptions } from './options.js';
export { prepareReport, hottestFunctions, type ReportData, type DiffInput } from './data.js';

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
