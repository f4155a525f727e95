import { join } from 'node:path';
import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand, outputFlags } from '../cli/base.js';
import { agentFlags, agentInterval, parseSize } from '../cli/agent.js';
import { pushFlags } from '../cli/push.js';
import { ProfileError, printable } from '../errors.js';
import { RECORD_DEFAULTS } from '../record/defaults.js';
import type { Progress, RecordHooks, RecordOptions, RecordResult } from '../record/index.js';
import { CONTAINER_DEFAULTS } from '../symbolize/container.js';
import { DEMANGLE_DEFAULTS } from '../symbolize/demangle.js';
import type { StackQuality } from '../symbolize/stack-quality.js';

/** What recording runs, loaded when `record` runs (only the flags' defaults are needed before). */
async function recorder() {
  const [recordModule, privileges, host, captured, symbolize, warmup, quality, output, open, push] = await Promise.all([
    import('../record/index.js'),
    import('../record/privileges.js'),
    import('../host/index.js'),
    import('../unwind/compiler.js'),
    import('../symbolize/index.js'),
    import('../symbolize/warmup.js'),
    import('../symbolize/stack-quality.js'),
    import('../output/index.js'),
    import('../render/open.js'),
    import('../cli/push.js'),
  ]);
  return {
    ...recordModule,
    ...privileges,
    ...host,
    ...captured,
    ...symbolize,
    ...warmup,
    ...quality,
    ...output,
    ...open,
    ...push,
  };
}

function cpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new ProfileError(`--cpu: expected a list such as 0,2-3, not ${JSON.stringify(text)}`);
    for (let cpu = Number(match[1]); cpu <= Number(match[2] ?? match[1]); cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** libc and the dynamic loader as this process maps them (every process maps the same), and the command's binary. */
function preloadedBinaries(host: { liveMappings?: (pid: number, comm: string | undefined) => readonly { path: string }[] | undefined; exists(path: string): boolean }, command: string | undefined): string[] {
  const own = (host.liveMappings?.(process.pid, undefined) ?? []).map((m) => m.path).filter((p) => /\/(libc\.so\.6|ld-linux[^/]*\.so\.\d+)$/.test(p));
  const paths = [...new Set(own)];
  if (command !== undefined) {
    const found = command.includes('/') ? command : (process.env.PATH ?? '').split(':').map((dir) => join(dir || '.', command)).find((p) => host.exists(p));
    if (found !== undefined) paths.push(found);
  }
  return [...paths, '[vdso]'];
}

function summary(result: RecordResult, droppedByReason: (counters: RecordResult['counters']) => Record<string, number>): string {
  const { counters } = result;
  const dropped = droppedByReason(counters);
  const lost = Object.values(dropped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(dropped).map(([reason, n]) => `${reason} ${n}`).join(', ');
  const processes = (result.raw.metadata.extra?.processesSeen as number | undefined) ?? result.raw.processes.size;
  let line = `profile: ${counters.COLLECTED} samples, ${processes} processes, ${lost} dropped${lost > 0 ? ` (${reasons})` : ''}`;
  if (result.commandExitCode !== undefined) line += `; command exited with ${result.commandExitCode}`;
  return line;
}

export default class RecordCommand extends BaseCommand {
  static override summary = 'Sample kernel and user stacks of the whole machine, some processes, or a command, with eBPF.';
  static override description =
    'Samples every CPU at --frequency Hz until --duration ends, Ctrl-C, SIGTERM or the command after -- exits, then writes ' +
    'the profile: folded stacks on standard output (the process name as the root frame), or FILE with -o. ' +
    'Needs root (CAP_BPF and CAP_PERFMON). A second Ctrl-C exits at once without writing. With -- COMMAND, ' +
    'record exits with the command\'s exit code; the command\'s standard output goes to stderr when the profile goes to stdout.';
  static override examples = [
    '<%= config.bin %> record --duration 30 > machine.folded',
    '<%= config.bin %> record -p 4242 -o cpu.svg',
    '<%= config.bin %> record --duration 30 -o cpu.html --open',
    '<%= config.bin %> record -F 999 -o run.folded -- ./my-benchmark --quick',
  ];
  static override strict = false; // everything after `--` is the command
  static override args = {
    command: Args.string({ description: 'Command to start and profile (after --), with its arguments.', required: false, ignoreStdin: true }),
  };
  static override flags = {
    ...outputFlags,
    duration: Flags.string({ char: 'd', summary: 'Stop after SECONDS (default: Ctrl-C, SIGTERM or the command\'s exit).', helpValue: 'SECONDS' }),
    frequency: Flags.integer({ char: 'F', summary: 'Samples per second on each CPU.', default: RECORD_DEFAULTS.frequency }),
    pid: Flags.integer({ char: 'p', summary: 'Only this process (repeatable).', multiple: true }),
    tid: Flags.integer({ summary: 'Only this thread.' }),
    cpu: Flags.string({ char: 'C', summary: 'Only these CPUs, e.g. 0,2-3.', helpValue: 'LIST' }),
    'user-only': Flags.boolean({ char: 'U', summary: 'User stacks only.', default: RECORD_DEFAULTS.userOnly }),
    'kernel-only': Flags.boolean({ char: 'K', summary: 'Kernel stacks only.', default: RECORD_DEFAULTS.kernelOnly }),
    'include-idle': Flags.boolean({ char: 'I', summary: 'Keep samples of the idle task.', default: RECORD_DEFAULTS.includeIdle }),
    title: Flags.string({ summary: 'Title of the report.' }),
    'stack-storage-size': Flags.integer({
      summary: 'Distinct stacks each of the two kernel stack maps holds between harvests; stacks beyond it are counted as dropped.',
      default: RECORD_DEFAULTS.stackStorageSize,
    }),
    unwind: Flags.string({
      summary: 'How user stacks are walked: auto (unwind tables from .eh_frame where a binary has them, frame pointers elsewhere), tables (as auto, but fail when the kernel cannot run the walker), fp (frame pointers only).',
      options: ['auto', 'tables', 'fp'],
      default: RECORD_DEFAULTS.unwind,
    }),
    'unwind-table-rows': Flags.integer({
      summary: 'Rows of unwind tables the kernel holds for the binaries in use together (12 bytes each, allocated at start; binaries no process maps give theirs back); a binary that finds no room uses frame pointers.',
      default: RECORD_DEFAULTS.unwindRows,
      min: 1,
    }),
    demangle: Flags.boolean({ summary: 'Show C++ and Rust names demangled (--no-demangle keeps them as in the symbol table).', default: DEMANGLE_DEFAULTS.demangle, allowNo: true }),
    container: Flags.boolean({ summary: 'Add each process\'s container (docker, containerd, podman, …, from its cgroup) as a frame under the process name.', default: CONTAINER_DEFAULTS.containerFrame }),
    open: Flags.boolean({ summary: 'Open the written file (-o) in your browser; prints its path when there is no desktop.' }),
    push: Flags.string({
      summary: 'Also send the profile to this Pyroscope-compatible server (see `profile push`); without --duration, run as an agent that pushes every --push-interval (docs/agent.md).',
      helpValue: 'URL',
      // From the environment too, so a service's URL and its credentials stay out of `ps`.
      env: 'PROFILE_PUSH_URL',
    }),
    ...pushFlags,
    ...agentFlags,
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(RecordCommand);
    const {
      droppedByReason, record, missingPrivileges, captureProcess, closeCapturedFiles, cpuTimes, HOST, TableCompiler,
      reportLines, symbolizerForRecording, symbolizeWithReport, Warmup, stackQualityLines, writeProfile, openInBrowser, pushWithFlags,
    } = await recorder();
    const command = (argv as string[]).length > 0 ? (argv as string[]) : undefined;
    const missing = missingPrivileges();
    if (missing) throw new ProfileError(missing, { exitCode: 1 });
    if (flags.open && (flags.output === undefined || flags.output === '-')) throw new ProfileError('--open needs -o FILE');
    const duration = flags.duration === undefined ? undefined : Number(flags.duration);
    if (duration !== undefined && !(duration > 0)) throw new ProfileError(`--duration must be a positive number of seconds, not ${JSON.stringify(flags.duration)}`);
    const agentSeconds = agentInterval(flags, duration, command);

    const controller = new AbortController();
    let interrupts = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      // The first signal ends the recording and still writes the profile; a second Ctrl-C
      // exits at once (the kernel releases every BPF object and perf event with our fds, and an
      // output still being written is an unnamed file). Dropping our SIGINT listener gives the
      // signal back its default action, so the kernel ends us even while JavaScript is busy
      // symbolizing — a listener would only run once the busy stretch was over.
      if (++interrupts > 1 && signal === 'SIGINT') process.exit(130);
      controller.abort();
      process.off('SIGINT', onSignal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tty = process.stderr.isTTY === true && agentSeconds === undefined;
    const progress = (p: Progress): void => {
      const remaining = p.remainingSeconds === undefined ? '' : `, ${p.remainingSeconds.toFixed(0)} s left`;
      process.stderr.write(`\r\x1b[Krecording: ${p.elapsedSeconds.toFixed(0)} s${remaining}, ${p.samples} samples, ${p.processes} processes`);
    };
    // Naming starts while sampling, on idle CPU only: binaries, DWARF and frame tables are loaded
    // between harvests (src/symbolize/warmup.ts).
    const symbolizeOptions = { demangle: flags.demangle, containerFrame: flags.container };
    const symbolizer = symbolizerForRecording(symbolizeOptions);
    const warmup = new Warmup(symbolizer, cpuTimes);
    const compiler = new TableCompiler();
    try {
      const options: RecordOptions = {
        ...RECORD_DEFAULTS,
        durationSeconds: duration,
        frequency: flags.frequency,
        pids: flags.pid ?? [],
        tid: flags.tid,
        cpus: flags.cpu === undefined ? undefined : cpuList(flags.cpu),
        userOnly: flags['user-only'],
        kernelOnly: flags['kernel-only'],
        includeIdle: flags['include-idle'],
        stackStorageSize: flags['stack-storage-size'],
        unwind: flags.unwind as RecordOptions['unwind'],
        unwindRows: flags['unwind-table-rows'],
        command,
        commandStdout: flags.output === undefined || flags.output === '-' ? 'stderr' : 'inherit',
        title: flags.title,
        commandLine: ['profile', ...process.argv.slice(2)].join(' '),
      };
      const hooks: RecordHooks = {
        signal: controller.signal,
        onProgress: tty ? progress : undefined,
        captureProcess,
        // The agent names each interval with a symbolizer of its own: nothing to warm.
        onStacks: agentSeconds === undefined ? (snapshot, stack) => warmup.add(snapshot, stack) : undefined,
        unwindTables: { compile: (request) => compiler.compile(request), preload: preloadedBinaries(HOST, command?.[0]) },
      };
      if (agentSeconds !== undefined) {
        const { runAgent, defaultSpoolDirectory } = await import('../agent/index.js');
        const agent = await runAgent(
          (intervals) => record(options, { ...hooks, intervals }),
          {
            server: flags.push!,
            push: { token: flags.token, tenant: flags.tenant, spyName: flags['spy-name'], retries: flags.retries },
            name: flags.name,
            format: flags['push-format'],
            intervalSeconds: agentSeconds,
            maxSeries: flags['max-series'],
            spoolDirectory: flags['spool-dir'] ?? defaultSpoolDirectory(),
            spoolBytes: parseSize(flags['spool-size']),
            memoryIntervals: flags['push-queue'],
            metrics: flags.metrics,
            frequencyHz: flags.frequency,
            symbolize: symbolizeOptions,
          },
          (line) => process.stderr.write(`${line}\n`),
        );
        closeCapturedFiles();
        if (agent.commandExitCode !== undefined && agent.commandExitCode !== 0) this.exit(agent.commandExitCode);
        return;
      }
      const result = await record(options, hooks);
      warmup.stop();
      compiler.close();
      if (tty) process.stderr.write('\r\x1b[K');
      const { profile, report } = await symbolizeWithReport(result.raw, symbolizeOptions, symbolizer);
      // Once, after the recording: the same report is in the profile's metadata (notes, extra.symbolization).
      const gaps = reportLines(report);
      if (gaps.length > 0) process.stderr.write(`profile: frames lacking symbols or debug info:\n${gaps.map((l) => `  ${printable(l)}\n`).join('')}`);
      if (report.warnings.length > 0) {
        const shown = report.warnings.slice(0, 3).map((w) => `  ${printable(w)}\n`).join('');
        process.stderr.write(`profile: ${report.warnings.length} symbolization warnings:\n${shown}${report.warnings.length > 3 ? `  … ${report.warnings.length - 3} more in the metadata\n` : ''}`);
      }
      const quality = profile.metadata.extra?.stackQuality as StackQuality | undefined;
      const walk = quality && result.unwind.mode === 'tables' ? stackQualityLines(quality, result.unwind.loader?.unplaced) : [];
      if (result.unwind.fallbackReason) walk.unshift(`unwind tables not used, frame pointers only: ${result.unwind.fallbackReason}`);
      if (walk.length > 0) process.stderr.write(`profile: ${walk.map((l) => printable(l)).join('\n  ')}\n`);
      closeCapturedFiles();
      await writeProfile(profile, { path: flags.output, format: flags.format });
      if (flags.open && flags.output) await openInBrowser(flags.output);
      process.stderr.write(`${summary(result, droppedByReason)}\n`);
      if (flags.push !== undefined) {
        await pushWithFlags(profile, flags.push, flags, flags.output && flags.output !== '-' ? `the profile is kept in ${flags.output}` : 'the profile went to standard output');
      }
      if (result.commandExitCode !== undefined && result.commandExitCode !== 0) this.exit(result.commandExitCode);
    } finally {
      compiler.close();
      warmup.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
