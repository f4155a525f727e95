// The bucket index the BPF walker starts its row search from (src/unwind/rows.ts RowIndex) finds
// the same row as a plain binary search over the whole table, on Debian's libc, python3 and node:
// at every row's pc, one byte either side, outside the table, and at random addresses.
import t from 'tap';
import { realpathSync } from 'node:fs';
import { buildRowIndex, findRow, findRowIndexed, rowPc, unwindTableFor } from '../../src/unwind/index.js';
import { requiresFile } from '../helpers/requires.js';

for (const path of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/python3', '/usr/bin/node']) {
  t.test(path, async (t) => {
    if (!requiresFile(t, path)) return;
    const table = unwindTableFor(realpathSync(path), { cacheDirectory: undefined })!;
    t.ok(table && table.rowCount > 1000, `a table (${table?.rowCount} rows)`);
    const index = buildRowIndex(table);
    const buckets = index.starts.length - 1;
    t.ok(index.starts.length <= table.rowCount / 2 + 2, `${buckets} buckets of ${2 ** index.shift} bytes for ${table.rowCount} rows: at most one per two rows`);
    t.equal(index.base, rowPc(table, 0), 'buckets start at the first row');
    let widest = 0;
    for (let b = 0; b < buckets; b++) widest = Math.max(widest, index.starts[b + 1]! - index.starts[b]!);
    t.comment(`widest bucket: ${widest} rows`);

    const last = rowPc(table, table.rowCount - 1);
    const probes: number[] = [0, index.base - 1, last + 1, last + 4096, 2 ** 32 - 1];
    for (let i = 0; i < table.rowCount; i++) {
      const pc = rowPc(table, i);
      probes.push(pc - 1, pc, pc + 1);
    }
    let seed = 12345;
    for (let i = 0; i < 100_000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      probes.push(index.base + (seed % (last - index.base + 1)));
    }
    let differ = 0;
    let example = '';
    for (const vaddr of probes) {
      if (vaddr < 0) continue;
      const plain = findRow(table, vaddr);
      const indexed = findRowIndexed(table, index, vaddr);
      if (plain !== indexed) {
        differ++;
        example ||= `0x${vaddr.toString(16)}: ${plain} vs ${indexed}`;
      }
    }
    t.equal(differ, 0, `${probes.length} addresses: the same row through the index${example ? ` (first: ${example})` : ''}`);
  });
}
