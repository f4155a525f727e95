import type { Readable } from 'node:stream';
import type { OutputFormat } from '../output/writer.js';
import type { Sink } from '../io/sink.js';

/** Draws folded text read from `input` onto `sink`; `render` holds the shared render options. */
export type FoldedRenderer = (input: Readable, file: string, sink: Sink, render: Readonly<Record<string, unknown>>) => Promise<void>;

/**
 * The renderers that read folded text directly (no Profile in between), for the formats that
 * have one. On a 1M-sample / 200k-stack folded file that skips most of the time `profile render`
 * took (see README, Benchmarks). Loaded lazily, like src/output's writers.
 */
export async function foldedRenderer(format: OutputFormat): Promise<FoldedRenderer | undefined> {
  switch (format) {
    case 'svg': {
      const { writeSvgFromFolded } = await import('./svg/index.js');
      return (input, file, sink, render) => writeSvgFromFolded(input, file, sink, render);
    }
    case 'html':
      return (await import('./html/index.js')).writeHtmlFromFolded;
    default:
      return undefined;
  }
}
