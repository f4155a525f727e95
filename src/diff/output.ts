import { ProfileError } from '../errors.js';
import { formatForPath } from '../output/index.js';
import { streamSink, writeFileAtomic, type Sink } from '../io/sink.js';
import type { ProfileDiff } from './index.js';

export { DIFF_OUTPUT_FORMATS, type DiffOutputFormat } from './options.js';
import type { DiffOutputFormat } from './options.js';

export interface DiffTarget {
  /** File to write; undefined means standard output. */
  readonly path?: string;
  readonly format?: DiffOutputFormat;
  readonly title?: string;
}

const DEFAULT_TITLE = 'Differential Flame Graph';

function subtitle(diff: ProfileDiff): string {
  const shape = diff.options.negate ? 'shaped like BEFORE; red: more in BEFORE' : 'red: grew, blue: shrank';
  const scale = diff.options.normalize ? 'compared as shares of each total' : 'compared in raw counts';
  return `BEFORE ${diff.beforeTotal}, AFTER ${diff.afterTotal} samples; ${shape}; ${scale}`;
}

/** Renders a differential tree through the SVG and HTML renderers (loaded only when asked for). */
async function render(diff: ProfileDiff, format: DiffOutputFormat, title: string, sink: Sink): Promise<void> {
  if (format === 'svg') {
    const { writeSvg } = await import('../render/svg/index.js');
    await writeSvg(diff.tree, sink, { title, subtitle: subtitle(diff), normalizeDiff: diff.options.normalize, countName: diff.profile.metadata.unit ?? '' });
  } else {
    const { renderHtml, HTML_DEFAULTS } = await import('../render/html/index.js');
    const otherTotal = diff.options.negate ? diff.afterTotal : diff.beforeTotal;
    await sink.write(renderHtml(diff.profile, { ...HTML_DEFAULTS, title, subtitle: subtitle(diff) }, { tree: diff.tree, otherTotal }));
  }
}

/** Writes the differential graph where `target` says: a file (atomically) or standard output. */
export async function writeDiff(diff: ProfileDiff, target: DiffTarget, stdout: NodeJS.WritableStream = process.stdout): Promise<DiffOutputFormat> {
  const fromPath = target.path === undefined ? undefined : formatForPath(target.path);
  const format = target.format ?? (fromPath === 'svg' || fromPath === 'html' ? fromPath : undefined);
  if (!format) throw new ProfileError('a differential graph is written as .svg or .html (or give --format svg|html)', { file: target.path });
  const title = target.title ?? DEFAULT_TITLE;
  if (target.path === undefined || target.path === '-') await render(diff, format, title, streamSink(stdout as import('node:stream').Writable));
  else await writeFileAtomic(target.path, (sink) => render(diff, format, title, sink));
  return format;
}
