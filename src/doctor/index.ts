/**
 * `profile doctor`: what recording and symbolizing need from this machine, each with the fix.
 * Checks are plain data so the command only prints them.
 */
import { release } from 'node:os';
import { debugBuildIdCount, hasKernelBtf, isPresent, kallsymsHead, kernelSetting, KERNEL_BTF } from '../host/system.js';
import { loadLibBpf } from '../record/libbpf.js';
import { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, effectiveCapabilities, hasCapability } from '../record/privileges.js';
import { BPF_OBJECT, RecordingSession } from '../record/session.js';
import { RECORD_DEFAULTS } from '../record/index.js';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** What to do when not ok. */
  readonly fix?: string;
  /** A failed optional check does not fail `doctor`. */
  readonly optional?: boolean;
}

export { DOCTOR_DEFAULTS, type DoctorOptions } from './options.js';
import { DOCTOR_DEFAULTS, type DoctorOptions } from './options.js';

function kernelCheck(): Check {
  const version = release();
  const [major = 0, minor = 0] = version.split('.').map((n) => parseInt(n, 10));
  // BPF ring buffers (used to learn of new processes) arrived in 5.8.
  const ok = major > 5 || (major === 5 && minor >= 8);
  return { name: 'kernel', ok, detail: `Linux ${version}`, fix: 'profile record needs Linux 5.8 or later (BPF ring buffer)' };
}

function privilegeCheck(): Check {
  const caps = effectiveCapabilities();
  const uid = process.getuid?.() ?? -1;
  const admin = hasCapability(caps, CAP_SYS_ADMIN);
  const bpf = hasCapability(caps, CAP_BPF);
  const perfmon = hasCapability(caps, CAP_PERFMON);
  const have = [uid === 0 ? 'root' : `uid ${uid}`, bpf ? 'CAP_BPF' : '', perfmon ? 'CAP_PERFMON' : '', admin ? 'CAP_SYS_ADMIN' : ''].filter(Boolean).join(', ');
  return {
    name: 'privileges',
    ok: (bpf || admin) && (perfmon || admin),
    detail: have,
    fix: 'run profile as root (sudo), or give node CAP_BPF and CAP_PERFMON',
  };
}

function libbpfCheck(): Check {
  try {
    const lib = loadLibBpf();
    const [major = 0] = lib.version.split('.').map(Number);
    return { name: 'libbpf', ok: major >= 1, detail: `libbpf.so.1 version ${lib.version}`, fix: 'apt-get install libbpf1 (version 1.0 or later)' };
  } catch (error) {
    return { name: 'libbpf', ok: false, detail: (error as Error).message, fix: 'apt-get install libbpf1' };
  }
}

function kallsymsCheck(): Check[] {
  const restrict = kernelSetting('kptr_restrict') ?? '?';
  const head = kallsymsHead() ?? '';
  const real = /^0*[1-9a-f][0-9a-f]* /m.test(head);
  return [
    { name: 'kptr_restrict', ok: restrict === '0' || restrict === '1', detail: `kernel.kptr_restrict = ${restrict}`, fix: 'sysctl kernel.kptr_restrict=0 (or run as root with kptr_restrict=1)' },
    {
      name: 'kallsyms',
      ok: real,
      detail: head ? (real ? '/proc/kallsyms shows real addresses' : '/proc/kallsyms shows only zero addresses') : '/proc/kallsyms is not readable',
      fix: 'run as root and set kernel.kptr_restrict to 0 or 1, or kernel frames stay unnamed',
    },
  ];
}

function paranoidCheck(privileged: boolean): Check {
  const value = kernelSetting('perf_event_paranoid') ?? '?';
  return {
    name: 'perf_event_paranoid',
    ok: privileged || Number(value) <= 0,
    detail: `kernel.perf_event_paranoid = ${value}${privileged ? ' (does not apply with CAP_PERFMON)' : ''}`,
    fix: 'run as root, or sysctl kernel.perf_event_paranoid=0 for system-wide events with CAP_BPF',
  };
}

function btfCheck(): Check {
  return {
    name: 'BTF',
    ok: hasKernelBtf(),
    detail: hasKernelBtf() ? `${KERNEL_BTF} present` : `no ${KERNEL_BTF}`,
    fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (needed to follow the forks of `record -- COMMAND`)',
  };
}

function debuginfoCheck(): Check {
  const count = debugBuildIdCount();
  const libc = isPresent('/usr/share/doc/libc6-dbg');
  return {
    name: 'debuginfo',
    ok: libc,
    optional: true,
    detail: libc ? `libc6-dbg installed (${count} build-id directories in /usr/lib/debug)` : 'libc6-dbg not installed',
    fix: 'apt-get install libc6-dbg (names for libc-internal functions); set DEBUGINFOD_URLS for other packages',
  };
}

function browserCheck(browser: string): Check {
  return {
    name: 'browser',
    ok: isPresent(browser),
    optional: true,
    detail: isPresent(browser) ? `${browser} present` : `${browser} not found`,
    fix: 'apt-get install chromium (PNG output and the report tests)',
  };
}

function objectCheck(): Check {
  return { name: 'BPF object', ok: isPresent(BPF_OBJECT), detail: BPF_OBJECT, fix: 'reinstall, or rebuild it with npm run build:bpf (needs clang-14)' };
}

function recordingCheck(): Check {
  try {
    const session = RecordingSession.open(
      { frequency: 1, cpus: [0], includeIdle: false, userStacks: true, kernelStacks: true, stackStorageSize: 16, countsSize: 16 },
      () => undefined,
    );
    session.close();
    return { name: 'recording', ok: true, detail: 'BPF program loaded and attached to a perf event' };
  } catch (error) {
    return { name: 'recording', ok: false, detail: (error as Error).message.replace(/^profile: /, ''), fix: 'fix the failures above' };
  }
}

/** What the unwind-table walker needs of the kernel: bpf_loop (5.17) and bpf_task_pt_regs (5.15), with BTF. */
function unwinderKernelCheck(): Check {
  const version = release();
  const [major = 0, minor = 0] = version.split('.').map((n) => parseInt(n, 10));
  const ok = (major > 5 || (major === 5 && minor >= 17)) && hasKernelBtf();
  return {
    name: 'unwinder kernel',
    ok,
    optional: true,
    detail: ok ? `Linux ${version} with BTF: bpf_loop and bpf_task_pt_regs available` : `Linux ${version}${hasKernelBtf() ? '' : ' without BTF'}`,
    fix: 'user stacks of programs without frame pointers need Linux 5.17+ with BTF; record falls back to --unwind fp',
  };
}

/** Loads the walker with the default table space: says which --unwind mode `record` will run. */
function unwindingCheck(): Check {
  const rows = RECORD_DEFAULTS.unwindRows;
  const size = `${rows.toLocaleString('en')} rows, ${((rows * 12) / 2 ** 20).toFixed(0)} MiB`;
  try {
    const session = RecordingSession.open(
      { frequency: 1, cpus: [0], includeIdle: false, userStacks: true, kernelStacks: true, stackStorageSize: 16, countsSize: 16, unwindTables: true, unwindRows: rows },
      () => undefined,
    );
    const verified = session.verifiedInstructions;
    session.close();
    const complexity = verified === undefined ? '' : `, ${verified.toLocaleString('en')} instructions verified`;
    return { name: 'unwinding', ok: true, optional: true, detail: `walker loaded with unwind tables (${size}${complexity}): record --unwind auto walks user stacks with .eh_frame tables` };
  } catch (error) {
    return {
      name: 'unwinding',
      ok: false,
      optional: true,
      detail: `the walker does not load (${(error as Error).message.replace(/^profile: /, '')}): record --unwind auto will use frame pointers only`,
      fix: 'a smaller --unwind-table-rows if memory is short, or a kernel with bpf_loop (5.17+) and BTF',
    };
  }
}

export function runChecks(options: DoctorOptions = DOCTOR_DEFAULTS): Check[] {
  const privileges = privilegeCheck();
  const checks = [kernelCheck(), btfCheck(), privileges, libbpfCheck(), paranoidCheck(privileges.ok), ...kallsymsCheck(), objectCheck()];
  checks.push(unwinderKernelCheck());
  if (options.tryRecording && checks.every((c) => c.ok || c.optional)) checks.push(recordingCheck(), unwindingCheck());
  checks.push(debuginfoCheck(), browserCheck(options.browser));
  return checks;
}
