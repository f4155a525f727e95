/**
 * Where the function holding an address starts, from a binary's unwind table: its FDE's start.
 * A stripped binary has no symbols, but nearly always `.eh_frame`, so its unnamed addresses can
 * still be grouped per function (`[gzip+0x42e0]`) instead of one frame per instruction.
 *
 * The symbolizer keeps this for every stripped binary it meets, for as long as the binary is in
 * use, so it is built once from the table and holds only what the question needs: the FDE starts
 * and the address spans the table covers (a tenth of the rows' bytes for node).
 */
import { CfaRule, ROW_BYTES, type UnwindTable } from './rows.js';

export interface FunctionStarts {
  /** Distinct FDE starts, ascending. */
  readonly starts: Uint32Array;
  /** Covered spans as [start, end) pairs, ascending: the runs of rows other than NONE. */
  readonly spans: Uint32Array;
}

/** Past the last row the table says nothing; a last row other than NONE covers up to here. */
const TOP = 0xffff_ffff;

export function functionStartsOf(table: Pick<UnwindTable, 'rows' | 'rowCount' | 'functionStarts'>): FunctionStarts {
  const v = new DataView(table.rows.buffer, table.rows.byteOffset, table.rows.byteLength);
  const spans: number[] = [];
  let open = -1;
  for (let i = 0; i < table.rowCount; i++) {
    const pc = v.getUint32(i * ROW_BYTES, true);
    const covered = v.getUint8(i * ROW_BYTES + 10) !== CfaRule.NONE;
    if (covered && open < 0) open = pc;
    else if (!covered && open >= 0) {
      if (pc > open) spans.push(open, pc);
      open = -1;
    }
  }
  if (open >= 0) spans.push(open, TOP);
  return { starts: table.functionStarts, spans: Uint32Array.from(spans) };
}

/** The start of the FDE that holds `vaddr`; undefined outside every FDE. */
export function functionStart(known: FunctionStarts, vaddr: number): number | undefined {
  // Only inside a covered span: past an FDE's end the address is in no function the table knows.
  const { spans, starts } = known;
  let lo = 0;
  let hi = spans.length >>> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (spans[2 * mid]! <= vaddr) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0 || vaddr >= spans[2 * lo - 1]!) return undefined;
  lo = 0;
  hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= vaddr) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : starts[lo - 1];
}
