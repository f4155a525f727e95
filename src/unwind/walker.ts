/**
 * The reference user-stack walker: the BPF walker's algorithm (bpf/unwind.bpf.h), step for step,
 * over the same rows, in TypeScript. Tests run both on the same registers and stack memory and
 * require the same frames; it is also the specification of what the BPF side does.
 */

import { CfaRule as CFA, decodeRow, findRow, findRowIndexed, RbpRule as RBP, type RowIndex, type UnwindTable } from './rows.js';

/** `enum unwind_stop`. */
export const STOP = { COMPLETE: 0, DEPTH: 1, NO_TABLE: 2, READ_FAULT: 3, BAD_ROW: 4 } as const;
export const STOP_NAMES = ['complete', 'depth-limit', 'no-unwind-info', 'read-fault', 'unsupported-rule'] as const;
/** WALK_* bits. */
export const WALK_TABLES = 1;
export const WALK_FRAME_POINTER = 2;

export const MAX_FRAMES = 127;
const U64 = (1n << 64n) - 1n;

/** Offsets in the x86-64 rt_sigframe's ucontext (uc_mcontext at 40: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip). */
const SIGFRAME_RBP = 40n + 10n * 8n;
const SIGFRAME_RSP = 40n + 15n * 8n;
const SIGFRAME_RIP = 40n + 16n * 8n;

/** One binary's rows (src/unwind/rows.ts), with the bucket index the BPF walker searches through when it has one. */
export type RowTable = Pick<UnwindTable, 'rows' | 'rowCount'> & { readonly index?: RowIndex };

/** One mapping with a table, as the BPF side's `struct unwind_mapping`. */
export interface WalkMapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly bias: bigint;
  readonly table: RowTable;
}

export interface Registers {
  readonly pc: bigint;
  readonly sp: bigint;
  readonly rbp: bigint;
}

export interface WalkResult {
  /** Leaf first. */
  readonly frames: bigint[];
  readonly stop: number;
  readonly method: number;
}

/** Reads 8 bytes of the stack; undefined where the memory is not readable. */
export type ReadU64 = (address: bigint) => bigint | undefined;

function findMapping(mappings: readonly WalkMapping[], pc: bigint): WalkMapping | undefined {
  let lo = 0;
  let hi = mappings.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = mappings[mid]!;
    if (pc < m.start) hi = mid;
    else if (pc >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** Walks a user stack from `registers` with `mappings` (sorted by start) and their tables. */
export function walkStack(registers: Registers, mappings: readonly WalkMapping[], read: ReadU64, maxFrames = MAX_FRAMES): WalkResult {
  const frames: bigint[] = [];
  let { pc, sp, rbp } = registers;
  let rbpKnown = true;
  let exactPc = true;
  let method = 0;
  const done = (stop: number): WalkResult => ({ frames, stop, method });
  const moveTo = (cfa: bigint, ra: bigint): number | undefined => {
    if (ra === 0n) return STOP.COMPLETE;
    if (cfa <= sp) return STOP.READ_FAULT;
    sp = cfa;
    pc = ra;
    exactPc = false;
    return undefined;
  };
  const framePointerStep = (): number | undefined => {
    if (rbpKnown && rbp === 0n && (method & WALK_FRAME_POINTER) !== 0) return STOP.COMPLETE;
    if (!rbpKnown || rbp < sp || (rbp & 7n) !== 0n) return STOP.NO_TABLE;
    const savedRbp = read(rbp);
    const ra = read((rbp + 8n) & U64);
    if (savedRbp === undefined || ra === undefined) return STOP.READ_FAULT;
    method |= WALK_FRAME_POINTER;
    const cfa = (rbp + 16n) & U64;
    rbp = savedRbp;
    return moveTo(cfa, ra);
  };

  for (let step = 0; step <= maxFrames; step++) {
    if (frames.length >= maxFrames) return done(STOP.DEPTH);
    frames.push(pc);
    const lookup = exactPc ? pc : (pc - 1n) & U64;
    const mapping = findMapping(mappings, lookup);
    const vaddr = mapping === undefined ? -1n : (lookup - mapping.bias) & U64;
    const table = mapping?.table;
    const index = table === undefined || vaddr > 0xffff_ffffn ? -1 : table.index ? findRowIndexed(table, table.index, Number(vaddr)) : findRow(table, Number(vaddr));
    const row = index < 0 ? undefined : decodeRow(mapping!.table, index);
    let stop: number | undefined;
    if (row === undefined || row.cfaRule === CFA.NONE) {
      stop = framePointerStep();
    } else if (row.cfaRule === CFA.END) {
      method |= WALK_TABLES;
      stop = STOP.COMPLETE;
    } else if (row.cfaRule === CFA.SIGNAL) {
      const savedRbp = read((sp + SIGFRAME_RBP) & U64);
      const savedSp = read((sp + SIGFRAME_RSP) & U64);
      const savedIp = read((sp + SIGFRAME_RIP) & U64);
      if (savedRbp === undefined || savedSp === undefined || savedIp === undefined) stop = STOP.READ_FAULT;
      else {
        method |= WALK_TABLES;
        if (savedIp === 0n) stop = STOP.COMPLETE;
        else {
          rbp = savedRbp;
          rbpKnown = true;
          sp = savedSp;
          pc = savedIp;
          exactPc = true;
        }
      }
    } else {
      let cfa: bigint | undefined;
      if (row.cfaRule === CFA.RSP) cfa = (sp + BigInt(row.cfaOffset)) & U64;
      else if (row.cfaRule === CFA.RBP) cfa = rbpKnown ? (rbp + BigInt(row.cfaOffset)) & U64 : undefined;
      else if (row.cfaRule === CFA.PLT) cfa = (sp + 8n + ((pc & 15n) >= BigInt(row.cfaOffset) ? 8n : 0n)) & U64;
      if (cfa === undefined) stop = STOP.BAD_ROW;
      else {
        const ra = read((cfa - 8n) & U64);
        if (ra === undefined) stop = STOP.READ_FAULT;
        else {
          if (row.rbpRule === RBP.OFFSET) {
            const saved = read((cfa + BigInt(row.rbpOffset)) & U64);
            if (saved === undefined) return done(STOP.READ_FAULT);
            rbp = saved;
            rbpKnown = true;
          } else if (row.rbpRule !== RBP.SAME) rbpKnown = false;
          method |= WALK_TABLES;
          stop = moveTo(cfa, ra);
        }
      }
    }
    if (stop !== undefined) return done(stop);
  }
  return done(STOP.DEPTH);
}
