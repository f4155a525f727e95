/**
 * The compiled unwind table: what the BPF stack walker binary-searches. A sorted array of 12-byte
 * little-endian rows, one per address range with the same rules (docs/unwinding.md):
 *
 *   0 u32 pc  4 s32 cfa_offset  8 s16 rbp_offset  10 u8 cfa_rule  11 u8 rbp_rule
 *
 * `pc` is an ELF virtual address of the binary (no load bias); a row applies from its pc up to
 * the next row's.
 */

export const ROW_BYTES = 12;

export const CfaRule = {
  /** No unwind information from this pc on (after an FDE's end). */
  NONE: 0,
  /** CFA = rsp + cfa_offset. */
  RSP: 1,
  /** CFA = rbp + cfa_offset. */
  RBP: 2,
  /** CFA = rsp + 8 + ((pc & 15) >= cfa_offset ? 8 : 0): the PLT stubs' expression. */
  PLT: 3,
  /** The return address is undefined: the outermost frame. */
  END: 4,
  /** A signal trampoline: registers come from the rt_sigframe at rsp. */
  SIGNAL: 5,
  /** Rules the walker cannot follow. */
  INVALID: 6,
} as const;
export type CfaRule = (typeof CfaRule)[keyof typeof CfaRule];

export const RbpRule = {
  /** rbp keeps its value in this frame. */
  SAME: 0,
  /** rbp saved at CFA + rbp_offset. */
  OFFSET: 1,
  /** rbp saved where the walker cannot read it. */
  INVALID: 2,
} as const;
export type RbpRule = (typeof RbpRule)[keyof typeof RbpRule];

export type UnwindSource = 'eh_frame' | 'debug_frame' | 'debug-file debug_frame';

export interface UnwindTable {
  /** `rowCount` rows of ROW_BYTES bytes, sorted by pc. */
  readonly rows: Uint8Array;
  readonly rowCount: number;
  /** Distinct FDE start addresses, ascending: names addresses in stripped binaries. */
  readonly functionStarts: Uint32Array;
  readonly source: UnwindSource;
  readonly buildId: string | undefined;
}

export interface Row {
  readonly pc: number;
  readonly cfaRule: CfaRule;
  readonly cfaOffset: number;
  readonly rbpRule: RbpRule;
  readonly rbpOffset: number;
}

function view(table: Pick<UnwindTable, 'rows'>): DataView {
  return new DataView(table.rows.buffer, table.rows.byteOffset, table.rows.byteLength);
}

export function rowPc(table: Pick<UnwindTable, 'rows'>, index: number): number {
  return view(table).getUint32(index * ROW_BYTES, true);
}

export function decodeRow(table: Pick<UnwindTable, 'rows'>, index: number): Row {
  const v = view(table);
  const at = index * ROW_BYTES;
  return {
    pc: v.getUint32(at, true),
    cfaOffset: v.getInt32(at + 4, true),
    rbpOffset: v.getInt16(at + 8, true),
    cfaRule: v.getUint8(at + 10) as CfaRule,
    rbpRule: v.getUint8(at + 11) as RbpRule,
  };
}

/** Index of the last row whose pc <= vaddr, or -1: the same search the BPF walker does. */
export function findRow(table: Pick<UnwindTable, 'rows' | 'rowCount'>, vaddr: number): number {
  return rowsAtOrBelow(view(table), 0, table.rowCount, vaddr) - 1;
}

/** lo + how many of rows lo .. hi - 1 (sorted) have pc <= vaddr. */
function rowsAtOrBelow(v: DataView, lo: number, hi: number, vaddr: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v.getUint32(mid * ROW_BYTES, true) <= vaddr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Where to start the row search: the binary's pc range, from its first row's pc, cut into
 * buckets of 2^shift bytes; `starts[b]` is the number of rows below bucket b's first address,
 * and `starts[buckets]` the row count. The last row at or before a pc in bucket b is then among
 * rows starts[b] - 1 .. starts[b + 1] - 1, one or two search steps instead of ~19 over node's
 * 400 k rows: each step is a bpf_loop callback, an indirect call per step per frame.
 */
export interface RowIndex {
  readonly base: number;
  readonly shift: number;
  /** buckets + 1 entries. */
  readonly starts: Uint32Array;
}

/** Rows per bucket the shift aims at (at most): 4 index bytes per 2 rows of 12, a sixth more memory. */
const ROWS_PER_BUCKET = 2;

export function buildRowIndex(table: Pick<UnwindTable, 'rows' | 'rowCount'>): RowIndex {
  const v = view(table);
  const count = table.rowCount;
  if (count === 0) return { base: 0, shift: 0, starts: new Uint32Array([0, 0]) };
  const base = v.getUint32(0, true);
  const span = v.getUint32((count - 1) * ROW_BYTES, true) - base + 1;
  let shift = 0;
  while (shift < 31 && 2 ** shift * count < ROWS_PER_BUCKET * span) shift++;
  const buckets = Math.floor((span - 1) / 2 ** shift) + 1;
  const starts = new Uint32Array(buckets + 1);
  let row = 0;
  for (let b = 0; b < buckets; b++) {
    const first = base + b * 2 ** shift;
    while (row < count && v.getUint32(row * ROW_BYTES, true) < first) row++;
    starts[b] = row;
  }
  starts[buckets] = count;
  return { base, shift, starts };
}

/** findRow through the index, as the BPF walker searches: the same answer. */
export function findRowIndexed(table: Pick<UnwindTable, 'rows' | 'rowCount'>, index: RowIndex, vaddr: number): number {
  if (vaddr < index.base) return -1;
  const buckets = index.starts.length - 1;
  const bucket = Math.min(Math.floor((vaddr - index.base) / 2 ** index.shift), buckets - 1);
  return rowsAtOrBelow(view(table), index.starts[bucket]!, index.starts[bucket + 1]!, vaddr) - 1;
}

const CFA_NAMES = ['none', 'rsp', 'rbp', 'plt', 'end', 'signal', 'invalid'];

/** `rsp+16 rbp@-16`, `plt>=11`, `end`: for messages and tests. */
export function describeRow(row: Row): string {
  const cfa = row.cfaRule === CfaRule.RSP || row.cfaRule === CfaRule.RBP ? `${CFA_NAMES[row.cfaRule]}${row.cfaOffset >= 0 ? '+' : ''}${row.cfaOffset}` : row.cfaRule === CfaRule.PLT ? `plt>=${row.cfaOffset}` : (CFA_NAMES[row.cfaRule] ?? `rule${row.cfaRule}`);
  const rbp = row.rbpRule === RbpRule.OFFSET ? ` rbp@${row.rbpOffset}` : row.rbpRule === RbpRule.INVALID ? ' rbp?' : '';
  return cfa + rbp;
}
