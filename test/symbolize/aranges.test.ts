/**
 * .debug_aranges read in JS must pick the compilation unit libdw's `dwarf_addrdie` picks, for
 * every address: checked on the real files the benchmark uses (libc's debug file from libc6-dbg,
 * compressed sections; node) at 20,000 addresses each. ~2 s.
 */
import t, { type Test } from 'tap';
import { openFile } from '../../src/host/index.js';
import { readAranges, unitOf } from '../../src/symbolize/dwarf/aranges.js';
import { libdw } from '../../src/symbolize/dwarf/libdw.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { requires, requiresFile } from '../helpers/requires.js';

const dw = libdw();

function check(t: Test, path: string, addressesFrom: string): void {
  const source = openFile(path)!;
  t.teardown(() => source.close());
  const elf = new ElfFile(source);
  const ranges = readAranges(elf);
  if (!ranges) {
    t.pass(`${path}: no .debug_aranges (libdw is asked instead)`);
    return;
  }
  const dwarf = dw!.begin(source.fd!);
  t.teardown(() => dw!.end(dwarf));
  const dieOf = new Map(dw!.units(dwarf).map((u) => [u.header, u.die]));
  const text = new ElfFile(openFile(addressesFrom)!).section('.text')!;
  const die = dw!.allocDie();
  let seed = 7;
  let found = 0;
  let mismatches = 0;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const address = text.addr + Math.floor((seed / 2147483648) * text.size);
    const unit = unitOf(ranges, address);
    const ours = unit < 0 ? -1 : (dieOf.get(unit) ?? -2);
    const theirs = dw!.addrdie(dwarf, address, die) ? dw!.dieoffset(die) : -1;
    if (ours !== theirs) mismatches++;
    if (theirs >= 0) found++;
  }
  t.equal(mismatches, 0, `${path}: the same CU as dwarf_addrdie for 20,000 addresses (${found} in a CU)`);
}

if (requires(t, 'libdw.so.1 (apt-get install libdw1)', dw !== undefined)) {
  t.test('libc with libc6-dbg', async (t) => {
    const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
    if (!requiresFile(t, libc, 'the C library')) return;
    const id = new ElfFile(openFile(libc)!).buildId();
    t.ok(id, 'libc has a build-id');
    const debug = `/usr/lib/debug/.build-id/${id?.slice(0, 2)}/${id?.slice(2)}.debug`;
    if (!requiresFile(t, debug, "libc's debug file (apt-get install libc6-dbg)")) return;
    check(t, debug, libc);
  });
  t.test('node', async (t) => {
    check(t, process.execPath, process.execPath);
  });
}
