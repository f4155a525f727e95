import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base.js';
import { DIFF_DEFAULTS, DIFF_OUTPUT_FORMATS } from '../diff/options.js';

export default class Diff extends BaseCommand {
  static override summary = 'Compare two profiles: a differential flame graph and a table of the biggest changes.';
  static override description =
    'BEFORE and AFTER may be folded stacks, pprof (.pb.gz), speedscope JSON or anything `profile collapse` reads. ' +
    'The graph is shaped like AFTER (like BEFORE with --negate) and coloured red where a frame grew and blue where it shrank. ' +
    'Without -o, the functions that changed most are printed (self and total, in percentage points of all samples and in samples); ' +
    '--json prints them for scripts.';
  static override examples = [
    '<%= config.bin %> diff before.folded after.folded',
    '<%= config.bin %> diff before.folded after.folded -o diff.html',
    '<%= config.bin %> diff before.pb.gz after.pb.gz -o diff.svg --negate',
    '<%= config.bin %> diff before.folded after.folded --json --top 0 | jq \'.functions[0]\'',
  ];
  static override args = {
    before: Args.string({ description: 'The baseline profile.', required: true, ignoreStdin: true }),
    after: Args.string({ description: 'The profile to compare with the baseline.', required: true, ignoreStdin: true }),
  };
  static override flags = {
    output: Flags.string({ char: 'o', summary: 'Write the differential graph to FILE (.svg or .html).', helpValue: 'FILE' }),
    format: Flags.option({ options: DIFF_OUTPUT_FORMATS, summary: 'Output format, overriding the extension of --output.' })(),
    normalize: Flags.boolean({
      summary: 'Compare shares of each side\'s total, so runs of different length compare fairly (--no-normalize: raw counts).',
      default: DIFF_DEFAULTS.normalize,
      allowNo: true,
    }),
    negate: Flags.boolean({ summary: 'Shape the graph like BEFORE instead of AFTER (colours swap, as flamegraph.pl --negate).', default: DIFF_DEFAULTS.negate }),
    json: Flags.boolean({ summary: 'Print the changes as JSON instead of a table.' }),
    top: Flags.integer({ summary: 'Rows of the table (0: all).', default: 20, min: 0 }),
    title: Flags.string({ summary: 'Title of the graph (default "Differential Flame Graph").' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Diff);
    const [{ changesJson, diffProfiles, formatChangesTable, functionChanges }, { writeDiff }, { loadProfile }] = await Promise.all([
      import('../diff/index.js'),
      import('../diff/output.js'),
      import('../input/index.js'),
    ]);
    const before = await loadProfile(args.before);
    const after = await loadProfile(args.after);
    const diff = diffProfiles(before, after, { normalize: flags.normalize, negate: flags.negate });
    if (flags.output !== undefined || flags.format !== undefined) {
      await writeDiff(diff, { path: flags.output, format: flags.format, title: flags.title });
      if (!flags.json) return;
    }
    const rows = functionChanges(diff.before, diff.after, flags.normalize);
    const shown = flags.top === 0 ? rows : rows.slice(0, flags.top);
    const summary = { beforeTotal: diff.beforeTotal, afterTotal: diff.afterTotal, normalize: flags.normalize, unit: after.metadata.unit ?? 'samples' };
    if (flags.json) {
      // JSON escapes C0 controls but not DEL, C1 or bidi controls; a terminal acts on those.
      const text = JSON.stringify(changesJson(shown, summary), null, 2).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      process.stdout.write(text + '\n');
    } else {
      process.stdout.write(formatChangesTable(shown, summary));
    }
  }
}
