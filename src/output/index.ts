// The registry of output formats: which writer a format or a file extension asks for, and writing
// a profile to a file (atomically) or to standard output with it.
import { writeFolded } from '../profile/folded.js';
import type { Profile } from '../profile/model.js';
import { ProfileError } from '../errors.js';
import { streamSink, writeFileAtomic } from '../io/sink.js';
import type { OutputFormat, ProfileWriter, WriteOptions } from './writer.js';

export { OUTPUT_FORMATS, type OutputFormat, type ProfileWriter, type WriteOptions } from './writer.js';

// Extensions are matched longest first so `x.speedscope.json` and `x.pb.gz` win over `.json`/`.gz`.
const EXTENSIONS: readonly [string, OutputFormat][] = [
  ['.speedscope.json', 'speedscope'],
  ['.pb.gz', 'pprof'],
  ['.pprof', 'pprof'],
  ['.folded', 'folded'],
  ['.collapsed', 'folded'],
  ['.txt', 'folded'],
  ['.svg', 'svg'],
  ['.html', 'html'],
  ['.htm', 'html'],
  ['.png', 'png'],
  ['.json', 'speedscope'],
];

/** The format an output path asks for, or undefined when its extension is not one we know. */
export function formatForPath(path: string): OutputFormat | undefined {
  const lower = path.toLowerCase();
  return EXTENSIONS.find(([extension]) => lower.endsWith(extension))?.[1];
}

/** Writers by format, imported lazily so that `profile collapse` never loads a browser driver. */
const WRITERS: Record<OutputFormat, () => Promise<ProfileWriter>> = {
  folded: async () => (profile, sink, options) => writeFolded(profile, sink, options.folded),
  svg: async () => (await import('../render/svg/index.js')).svgWriter,
  html: async () => (await import('../render/html/index.js')).writeHtml,
  png: async () => (await import('../render/png.js')).writePng,
  speedscope: async () => (await import('../export/speedscope.js')).writeSpeedscope,
  pprof: async () => (await import('../export/pprof.js')).writePprof,
};

/** Formats that are bytes, not text: never written to a terminal. */
const BINARY: ReadonlySet<OutputFormat> = new Set(['png', 'pprof']);

export interface OutputTarget {
  /** File to write; undefined means standard output. */
  readonly path?: string;
  /** Explicit format; otherwise chosen from the path's extension, or folded. */
  readonly format?: OutputFormat;
}

export function resolveFormat(target: OutputTarget): OutputFormat {
  if (target.format) return target.format;
  if (target.path === undefined) return 'folded';
  const format = formatForPath(target.path);
  if (!format) {
    throw new ProfileError(
      `cannot tell the output format from the extension; use .folded, .txt, .svg, .html, .png, .speedscope.json or .pb.gz, or --format`,
      { file: target.path },
    );
  }
  return format;
}

/** Writes `profile` where `target` says: a file (atomically) or standard output. */
export async function writeProfile(
  profile: Profile,
  target: OutputTarget,
  options: WriteOptions = {},
  stdout: NodeJS.WriteStream | import('node:stream').Writable = process.stdout,
): Promise<OutputFormat> {
  const format = resolveFormat(target);
  const writer = await WRITERS[format]();
  if (target.path === undefined || target.path === '-') {
    if (BINARY.has(format) && (stdout as NodeJS.WriteStream).isTTY) {
      throw new ProfileError(`refusing to write binary ${format} output to a terminal; use -o FILE`);
    }
    await writer(profile, streamSink(stdout), options);
  } else {
    await writeFileAtomic(target.path, (sink) => writer(profile, sink, options));
  }
  return format;
}
