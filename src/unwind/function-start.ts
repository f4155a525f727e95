/**
 * Where the function holding an address starts, from a binary's unwind table: its FDE's start.
 * A stripped binary has no symbols, but nearly always `.eh_frame`, so its unnamed addresses can
 * still be grouped per function (`[gzip+0x42e0]`) instead of one frame per instruction.
 */
import { CfaRule, decodeRow, findRow, type UnwindTable } from './rows.js';

/** The start of the FDE that holds `vaddr`; undefined outside every FDE. */
export function functionStart(table: UnwindTable, vaddr: number): number | undefined {
  // Only inside an FDE: past its end (a NONE row) the address is in no function the table knows.
  const row = findRow(table, vaddr);
  if (row < 0 || decodeRow(table, row).cfaRule === CfaRule.NONE) return undefined;
  const starts = table.functionStarts;
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= vaddr) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : starts[lo - 1];
}
