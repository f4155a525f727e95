// The compact function starts the symbolizer keeps per stripped binary (src/unwind/function-start.ts)
// answer as the whole unwind table does, on Debian's libc, python3 and node: at every row's pc, one
// byte either side, outside the table, and at random addresses. The reference is the table itself:
// the last row at or below the address, no function when it is a NONE row, else the last FDE start.
import t from 'tap';
import { realpathSync } from 'node:fs';
import { functionStart, functionStartsOf } from '../../src/unwind/function-start.js';
import { CfaRule, decodeRow, findRow, rowPc, unwindTableFor, type UnwindTable } from '../../src/unwind/index.js';
import { requiresFile } from '../helpers/requires.js';

function byTable(table: UnwindTable, vaddr: number): number | undefined {
  const row = findRow(table, vaddr);
  if (row < 0 || decodeRow(table, row).cfaRule === CfaRule.NONE) return undefined;
  let best: number | undefined;
  for (const start of table.functionStarts) if (start <= vaddr) best = start;
  return best;
}

for (const path of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3', '/usr/bin/node']) {
  t.test(path, async (t) => {
    if (!requiresFile(t, path)) return;
    const table = unwindTableFor(realpathSync(path), { cacheDirectory: undefined })!;
    t.ok(table && table.rowCount > 1000, `a table (${table?.rowCount} rows)`);
    const known = functionStartsOf(table);
    t.ok(known.spans.byteLength * 4 < table.rows.byteLength, `spans take ${known.spans.byteLength} bytes, rows ${table.rows.byteLength}`);
    const last = rowPc(table, table.rowCount - 1);
    const probes: number[] = [0, rowPc(table, 0) - 1, last + 1, last + 4096, 2 ** 32 - 2];
    // Every row's neighbourhood in libc; a stride through the bigger tables keeps the quadratic reference quick.
    const stride = Math.max(1, Math.floor(table.rowCount / 4000));
    for (let i = 0; i < table.rowCount; i += stride) {
      const pc = rowPc(table, i);
      probes.push(pc - 1, pc, pc + 1);
    }
    let seed = 777;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      probes.push(rowPc(table, 0) + (seed % (last - rowPc(table, 0) + 1)));
    }
    let differ = 0;
    let named = 0;
    let example = '';
    for (const vaddr of probes) {
      if (vaddr < 0) continue;
      const expected = byTable(table, vaddr);
      const got = functionStart(known, vaddr);
      if (expected !== undefined) named++;
      if (expected !== got && differ++ === 0) example = `0x${vaddr.toString(16)}: table ${expected}, compact ${got}`;
    }
    t.equal(differ, 0, `the same start at ${probes.length} addresses (${named} inside a function) ${example}`);
    t.ok(named > probes.length / 2, 'most probes fall inside a function');
  });
}
