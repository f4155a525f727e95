import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand, outputFlags } from '../cli/base.js';
import { BPFTRACE_DEFAULTS, INPUT_FORMATS, PERF_DEFAULTS } from '../collapse/index.js';
import { FOLDED_DEFAULTS } from '../profile/folded.js';

export default class Collapse extends BaseCommand {
  static override summary = 'Turn perf script, bpftrace or BCC profile output into folded stacks.';
  static override description =
    'The input format is detected from its first lines. Output is FlameGraph-compatible folded stacks ' +
    '(`comm;frame;frame count`, root first), sorted, on standard output unless -o is given. For perf script ' +
    'input the output matches stackcollapse-perf.pl byte for byte, options included.';
  static override examples = [
    'perf script | <%= config.bin %> collapse > out.folded',
    '<%= config.bin %> collapse perf.txt --pid -o out.folded',
    'bpftrace -e \'profile:hz:99 { @[kstack, ustack, comm] = count(); }\' > bt.txt; <%= config.bin %> collapse bt.txt',
    'profile-bpfcc -df 10 | <%= config.bin %> collapse --kernel',
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
    pid: Flags.boolean({ summary: 'Name the root frame comm-PID (perf shows `?` when it printed only thread ids).', default: false }),
    tid: Flags.boolean({ summary: 'Name the root frame comm-PID/TID.', default: false }),
    kernel: Flags.boolean({ summary: 'Append _[k] to kernel frames.', default: FOLDED_DEFAULTS.annotateKernel }),
    jit: Flags.boolean({ summary: 'Append _[j] to JIT frames (perf-PID.map).', default: FOLDED_DEFAULTS.annotateJit }),
    inline: Flags.boolean({ summary: 'Append _[i] to inlined frames that perf printed as (inlined).', default: FOLDED_DEFAULTS.annotateInline }),
    all: Flags.boolean({ summary: 'All annotations: --kernel --jit.', default: false }),
    addrs: Flags.boolean({ summary: 'perf: keep the address of frames that have no symbol, [dso <addr>].', default: PERF_DEFAULTS.addrs }),
    'event-filter': Flags.string({
      summary: 'perf: keep samples of this event only (default: the first event seen).',
      default: PERF_DEFAULTS.eventFilter || undefined,
      helpValue: 'EVENT',
    }),
    weight: Flags.option({
      options: ['period', 'samples'] as const,
      summary: 'perf: weight samples by the period perf printed, or count each sample once.',
      default: PERF_DEFAULTS.weight,
    })(),
    map: Flags.string({
      summary: 'bpftrace: read only this map (repeatable; default: every map with stacks).',
      multiple: true,
      default: [...BPFTRACE_DEFAULTS.maps],
      helpValue: '@NAME',
    }),
    'parallel-part-bytes': Flags.integer({
      summary: 'perf: read a file in parts of this many bytes on worker threads, whatever its size (for tests).',
      min: 1,
      hidden: true,
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Collapse);
    const { collapseCommand } = await import('../cli/collapse.js');
    await collapseCommand(args.file, flags);
  }
}
