import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand, outputFlags } from '../cli/base.js';
import { INPUT_FORMATS } from '../collapse/index.js';
import { ProfileError } from '../errors.js';
import { resolveFormat, type OutputFormat } from '../output/index.js';
import type { Profile } from '../profile/model.js';
import { HTML_DEFAULTS } from '../render/html/options.js';
import { PALETTES } from '../render/palette.js';
import { SVG_DEFAULTS } from '../render/svg/options.js';

/** Every input `render` understands, read in one place so new loaders plug in here. */
async function readProfile(file: string | undefined, format: string | undefined): Promise<Profile> {
  const { loadProfile } = await import('../input/index.js');
  return loadProfile(file, { format });
}

export default class Render extends BaseCommand {
  static override summary = 'Draw a profile as an SVG flame graph, an HTML report or a PNG.';
  static override description =
    'Reads folded stacks, pprof (.pb.gz), speedscope JSON or anything `profile collapse` reads (perf script, bpftrace, BCC), from FILE or standard input. ' +
    'The output format follows the -o extension: .svg (interactive flame graph), .html (self-contained report with ' +
    'search, zoom, tables of functions and processes, run metadata), .png (rendered by chromium), .folded.';
  static override examples = [
    '<%= config.bin %> render cpu.folded -o cpu.html --open',
    'perf script | <%= config.bin %> collapse | <%= config.bin %> render -o cpu.svg --title "build 1234"',
    '<%= config.bin %> render cpu.folded -o cpu.png --width 1800',
  ];
  static override args = {
    file: Args.string({ description: 'Input file (default: standard input).', required: false, ignoreStdin: true }),
  };
  static override flags = {
    ...outputFlags,
    'input-format': Flags.option({ options: INPUT_FORMATS.map((f) => f.name), summary: 'Skip detection and read this format.' })(),
    open: Flags.boolean({ summary: 'Open the written file in your browser (prints its path when there is no desktop).' }),
    title: Flags.string({ summary: 'Title of the graph or report.', default: SVG_DEFAULTS.title || undefined }),
    subtitle: Flags.string({ summary: 'Second line under the title.' }),
    width: Flags.integer({ summary: `SVG/PNG image width in pixels (default ${SVG_DEFAULTS.width}).`, min: 10 }),
    height: Flags.integer({ summary: `Frame height in pixels (default ${SVG_DEFAULTS.frameHeight}).`, min: 1 }),
    minwidth: Flags.string({ summary: `Omit frames narrower than this many pixels, or a percentage such as 0.5% (default ${SVG_DEFAULTS.minWidth}).` }),
    colors: Flags.option({ options: PALETTES, summary: `Palette (default ${SVG_DEFAULTS.palette}).` })(),
    hash: Flags.boolean({ summary: 'Colour by function name, stable across graphs.' }),
    inverted: Flags.boolean({ summary: 'Icicle graph: root at the top.' }),
    reverse: Flags.boolean({ summary: 'Merge stacks from the leaves (callers of the hottest leaf functions).' }),
    flamechart: Flags.boolean({ summary: 'Flame chart: stacks in input order, x axis is time, not sorted by name (SVG).' }),
    countname: Flags.string({ summary: 'What a count is (default: the profile\'s unit, else samples).' }),
    nametype: Flags.string({ summary: `Label of the hovered frame's name (default "${SVG_DEFAULTS.nameType}").` }),
    'html-min-fraction': Flags.string({
      summary: `HTML: merge frames smaller than this fraction of the total before embedding (default ${HTML_DEFAULTS.minFraction}).`,
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Render);
    const format = resolveFormat({ path: flags.output, format: flags.format });
    if (flags.open && (flags.output === undefined || flags.output === '-')) throw new ProfileError('--open needs -o FILE');
    const minFraction = flags['html-min-fraction'] === undefined ? undefined : Number(flags['html-min-fraction']);
    if (minFraction !== undefined && !(minFraction >= 0 && minFraction < 1)) {
      throw new ProfileError(`--html-min-fraction must be a number from 0 to 1, not ${JSON.stringify(flags['html-min-fraction'])}`);
    }
    const render = Object.fromEntries(
      Object.entries({
        title: flags.title,
        subtitle: flags.subtitle,
        width: flags.width,
        frameHeight: flags.height,
        minWidth: flags.minwidth,
        palette: flags.colors,
        hash: flags.hash || undefined,
        inverted: flags.inverted || undefined,
        reverse: flags.reverse || undefined,
        flamechart: flags.flamechart || undefined,
        countName: flags.countname,
        nameType: flags.nametype,
        minFraction,
      }).filter(([, value]) => value !== undefined),
    );
    if (!(await this.renderFolded(args.file, flags['input-format'], format, flags.output, render))) {
      const profile = await readProfile(args.file, flags['input-format']);
      const { writeProfile } = await import('../output/index.js');
      await writeProfile(profile, { path: flags.output, format }, { render });
    }
    if (flags.open && flags.output) await (await import('../render/open.js')).openInBrowser(flags.output);
  }

  /** The fast path: SVG or HTML drawn straight from folded input. False when it does not apply. */
  private async renderFolded(file: string | undefined, inputFormat: string | undefined, format: OutputFormat, output: string | undefined, render: Record<string, unknown>): Promise<boolean> {
    if (inputFormat !== undefined && inputFormat !== 'folded') return false;
    const [{ foldedRenderer }, { sniffStream }, { openInput }, { streamSink, writeFileAtomic }, { writeProfile }, { loadProfile }] = await Promise.all([
      import('../render/from-folded.js'),
      import('../collapse/sniff.js'),
      import('../io/lines.js'),
      import('../io/sink.js'),
      import('../output/index.js'),
      import('../input/index.js'),
    ]);
    const renderer = await foldedRenderer(format);
    if (!renderer) return false;
    const input = await openInput(file);
    const sniffed = inputFormat === 'folded' ? { folded: true, stream: input.stream } : await sniffStream(input.stream, input.name).then((s) => ({ folded: s.format?.name === 'folded', stream: s.stream }));
    if (!sniffed.folded) {
      // Not folded: the general reader takes it from here (standard input replayed from the start).
      if (file === undefined || file === '-') await writeProfile(await loadProfile(undefined, {}, sniffed.stream), { path: output, format }, { render });
      else {
        sniffed.stream.destroy();
        return false;
      }
      return true;
    }
    if (output === undefined || output === '-') await renderer(sniffed.stream, input.name, streamSink(process.stdout), render);
    else await writeFileAtomic(output, (sink) => renderer(sniffed.stream, input.name, sink, render));
    return true;
  }
}
