/**
 * `profile doctor`: what recording and symbolizing need from this machine, each with the fix.
 * Checks are plain data so the command only prints them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { loadLibBpf } from '../record/libbpf.js';
import { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, effectiveCapabilities, hasCapability } from '../record/privileges.js';
import { BPF_OBJECT, RecordingSession } from '../record/session.js';

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

export { DEFAULTS, type DoctorOptions } from './options.js';
import { DEFAULTS, type DoctorOptions } from './options.js';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

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
  const restrict = read('/proc/sys/kernel/kptr_restrict')?.trim() ?? '?';
  const head = read('/proc/kallsyms')?.slice(0, 4096) ?? '';
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
  const value = read('/proc/sys/kernel/perf_event_paranoid')?.trim() ?? '?';
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
    ok: existsSync('/sys/kernel/btf/vmlinux'),
    detail: existsSync('/sys/kernel/btf/vmlinux') ? '/sys/kernel/btf/vmlinux present' : 'no /sys/kernel/btf/vmlinux',
    fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (needed to follow the forks of `record -- COMMAND`)',
  };
}

function debuginfoCheck(): Check {
  let count = 0;
  try {
    count = readdirSync('/usr/lib/debug/.build-id').length;
  } catch {
    // none installed
  }
  const libc = existsSync('/usr/share/doc/libc6-dbg');
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
    ok: existsSync(browser),
    optional: true,
    detail: existsSync(browser) ? `${browser} present` : `${browser} not found`,
    fix: 'apt-get install chromium (PNG output and the report tests)',
  };
}

function objectCheck(): Check {
  return { name: 'BPF object', ok: existsSync(BPF_OBJECT), detail: BPF_OBJECT, fix: 'reinstall, or rebuild it with npm run build:bpf (needs clang-14)' };
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

export function runChecks(options: DoctorOptions = DEFAULTS): Check[] {
  const privileges = privilegeCheck();
  const checks = [kernelCheck(), btfCheck(), privileges, libbpfCheck(), paranoidCheck(privileges.ok), ...kallsymsCheck(), objectCheck()];
  if (options.tryRecording && checks.every((c) => c.ok || c.optional)) checks.push(recordingCheck());
  checks.push(debuginfoCheck(), browserCheck(options.browser));
  return checks;
}
