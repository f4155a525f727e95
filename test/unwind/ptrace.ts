/**
 * Stops a running process with ptrace and reads what a stack walker needs: its user registers and
 * its memory (through /proc/PID/mem), for the reference walker to unwind the very stack the BPF
 * walker walked while the process ran. Test-only; x86-64.
 */
import koffi from 'koffi';
import { closeSync, openSync, readSync } from 'node:fs';
import type { Registers } from '../../src/unwind/walker.js';

const PTRACE_DETACH = 17;
const PTRACE_GETREGS = 12;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const WALL = 0x40000000;
/** struct user_regs_struct: 27 unsigned longs; rbp, rip and rsp by index. */
const REGS = { count: 27, rbp: 4, rip: 16, rsp: 19 } as const;

const libc = koffi.load('libc.so.6');
const ptrace = libc.func('long ptrace(long request, int pid, void *addr, void *data)');
const waitpid = libc.func('int waitpid(int pid, _Out_ int *status, int options)');

export interface Stopped {
  readonly registers: Registers;
  /** 8 bytes of the process's memory, or undefined where it is not mapped. */
  readonly read: (address: bigint) => bigint | undefined;
  /** Lets the process run on. */
  readonly release: () => void;
}

export function stopProcess(pid: number): Stopped {
  if (Number(ptrace(PTRACE_SEIZE, pid, null, null)) !== 0) throw new Error(`ptrace(PTRACE_SEIZE, ${pid}) failed: errno ${koffi.errno()}`);
  try {
    if (Number(ptrace(PTRACE_INTERRUPT, pid, null, null)) !== 0) throw new Error(`ptrace(PTRACE_INTERRUPT) failed: errno ${koffi.errno()}`);
    const status = [0];
    if ((waitpid(pid, status, WALL) as number) !== pid) throw new Error(`waitpid(${pid}) failed: errno ${koffi.errno()}`);
    const regs = new BigUint64Array(REGS.count);
    if (Number(ptrace(PTRACE_GETREGS, pid, null, regs)) !== 0) throw new Error(`ptrace(PTRACE_GETREGS) failed: errno ${koffi.errno()}`);
    const mem = openSync(`/proc/${pid}/mem`, 'r');
    const buffer = Buffer.alloc(8);
    return {
      registers: { pc: regs[REGS.rip]!, sp: regs[REGS.rsp]!, rbp: regs[REGS.rbp]! },
      read: (address) => {
        try {
          return readSync(mem, buffer, 0, 8, address) === 8 ? buffer.readBigUInt64LE(0) : undefined;
        } catch {
          return undefined;
        }
      },
      release: () => {
        closeSync(mem);
        ptrace(PTRACE_DETACH, pid, null, null);
      },
    };
  } catch (error) {
    ptrace(PTRACE_DETACH, pid, null, null);
    throw error;
  }
}
