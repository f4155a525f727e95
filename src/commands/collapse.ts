import { Args, Flags } from '@oclif/core';
import { BaseCommand, outputFlags } from '../cli/base.js';
import { collapse, INPUT_FORMATS } from '../collapse/index.js';
import { openInput } from '../io/lines.js';
import { writeProfile } from '../output/index.js';

export default class Collapse extends BaseCommand {
  static override summary = 'Turn perf script, bpftrace or BCC profile output into folded stacks.';
  static override description =
    'The input format is detected from its first lines. Output is FlameGraph-compatible folded stacks ' +
    '(`frame;frame;frame count`, root first), sorted, on standard output unless -o is given.';
  static override examples = [
    'perf script | <%= config.bin %> collapse > out.folded',
    '<%= config.bin %> collapse perf.txt --pid -o out.folded',
    'bpftrace -e \'profile:hz:99 { @[kstack, ustack, comm] = count(); }\' > bt.txt; <%= config.bin %> collapse bt.txt',
  ];
  static override args = {
    file: Args.string({ description: 'Input file (default: standard input).', required: false, ignoreStdin: true }),
  };
  static override flags = {
    ...outputFlags,
    'input-format': Flags.option({
      options: INPUT_FORMATS.map((f) => f.name),
      summary: 'Skip detection and read this format.',
    })(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Collapse);
    const input = await openInput(args.file);
    const profile = await collapse(input.stream, input.name, { format: flags['input-format'] });
    await writeProfile(profile, { path: flags.output, format: flags.format });
  }
}
