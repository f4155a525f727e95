// Symbol names read from the string tables in the file as they are asked for (node's .strtab and
// .dynstr are 12 MB), then whole once a run asks for many: every name agrees with nm's.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import t from 'tap';
import { openFile } from '../../src/host/index.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { readSymbols } from '../../src/symbolize/elf/symbols.js';
import { requiresTools } from '../helpers/requires.js';

/** Names of the defined function symbols at each address, from `nm` (both tables). */
function nmNames(path: string): Map<number, Set<string>> {
  const byAddress = new Map<number, Set<string>>();
  for (const args of [['--defined-only'], ['-D', '--defined-only']]) {
    const out = execFileSync('nm', [...args, path], { encoding: 'utf8', maxBuffer: 1 << 28 });
    for (const line of out.split('\n')) {
      const m = /^([0-9a-f]+) [tTwWiI] (.+)$/.exec(line);
      if (!m) continue;
      const address = parseInt(m[1]!, 16);
      let names = byAddress.get(address);
      if (!names) byAddress.set(address, (names = new Set()));
      // nm prints versioned dynamic names as name@VERSION; the string table holds the name.
      names.add(m[2]!.replace(/@.*$/, ''));
    }
  }
  return byAddress;
}

if (requiresTools(t, 'nm')) {
  for (const path of [realpathSync(process.execPath), '/usr/lib/x86_64-linux-gnu/libc.so.6']) {
    t.test(`${path}: names read lazily, then whole, all as nm has them`, async (t) => {
      const source = openFile(path)!;
      t.ok(source, 'opened');
      t.teardown(() => source.close());
      const symbols = readSymbols([new ElfFile(source)]);
      const expected = nmNames(path);
      t.ok(symbols.length > 1000, `${symbols.length} function symbols`);
      let agree = 0;
      const wrong: string[] = [];
      // Out of order, as a profile asks: the first 2,048 one read each, the rest from the whole tables.
      for (let k = 0; k < symbols.length; k++) {
        const i = (k * 7919) % symbols.length;
        const name = symbols.names.name(i);
        if (expected.get(symbols.addresses[i]!)?.has(name)) agree++;
        else if (wrong.length < 5) wrong.push(`${symbols.addresses[i]!.toString(16)} ${name}`);
      }
      t.equal(agree, symbols.length, `every name is one nm gives at its address${wrong.length ? ` (not: ${wrong.join(', ')})` : ''}`);
    });
  }

  t.test('names are not read through a closed file', async (t) => {
    const source = openFile('/usr/lib/x86_64-linux-gnu/libc.so.6')!;
    const symbols = readSymbols([new ElfFile(source)]);
    t.ok(symbols.names.name(0).length > 0, 'named while open');
    source.close();
    t.throws(() => symbols.names.name(1), /read after close/, 'a closed file is not read (its descriptor number may be another file by now)');
  });
}
