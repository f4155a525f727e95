/**
 * How frame kinds travel through formats that have no field for them (pprof, speedscope): as the
 * module label perf itself prints — `[kernel.kallsyms]`, `[ext4]` for kernel modules, `[jit]` —
 * so that a file we wrote reads back with the same kinds, and files from other tools that use
 * perf's conventions read sensibly too.
 */
import type { Frame, FrameKind } from '../profile/model.js';

const KERNEL = '[kernel.kallsyms]';
const JIT = '[jit]';
// Bracketed names perf uses for user-space memory, which must not be taken for kernel modules.
const USER_BRACKETS = new Set(['[vdso]', '[vsyscall]', '[vvar]', '[heap]', '[stack]', '[unknown]', '[anon]', '[uprobes]']);

/** The module label written for `frame`, or undefined when it has none. */
export function moduleLabel(frame: Frame): string | undefined {
  switch (frame.kind) {
    case 'kernel':
      if (frame.module === undefined) return KERNEL;
      return frame.module.startsWith('[') ? frame.module : `[${frame.module}]`;
    case 'jit':
      return frame.module ?? JIT;
    default:
      return frame.module;
  }
}

/** The kind and module a label written by `moduleLabel` (or by perf) stands for. */
export function fromModuleLabel(label: string | undefined): { kind?: FrameKind; module?: string } {
  if (label === undefined || label === '') return {};
  if (label === JIT) return { kind: 'jit' };
  if (label.startsWith('/tmp/perf-') && label.endsWith('.map')) return { kind: 'jit', module: label };
  if (/^\[[^\][]+\]$/.test(label) && !USER_BRACKETS.has(label) && !label.startsWith('[anon:')) {
    return { kind: 'kernel', module: label === KERNEL ? KERNEL : label.slice(1, -1) };
  }
  return { module: label };
}
