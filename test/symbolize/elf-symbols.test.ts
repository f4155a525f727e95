// Symbol names read from the string tables in the file as they are asked for (node's .strtab and
// .dynstr are 12 MB), then whole once a run asks for many: every name agrees with nm's.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { captureProcess, openFile } from '../../src/host/index.js';
import { symbolizeWithReport } from '../../src/symbolize/index.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { loadSymbols, serializeSymbols } from '../../src/symbolize/elf/symbol-file.js';
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

  t.test('sorted symbols kept on disk: read back the same, refused for other files or damaged', async (t) => {
    const node = openFile(realpathSync(process.execPath))!;
    const libc = openFile('/usr/lib/x86_64-linux-gnu/libc.so.6')!;
    t.teardown(() => {
      node.close();
      libc.close();
    });
    const files = [new ElfFile(node)];
    const sorted = readSymbols(files);
    const bytes = serializeSymbols(sorted, files)!;
    t.ok(bytes.length > 0, `${sorted.length} symbols in ${bytes.length} bytes`);
    const back = loadSymbols(bytes, files)!;
    t.ok(back, 'read back');
    t.same([...back.addresses], [...sorted.addresses], 'same addresses');
    t.same([...back.sizes], [...sorted.sizes], 'same sizes');
    let same = 0;
    for (let i = 0; i < sorted.length; i++) if (back.names.name(i) === sorted.names.name(i)) same++;
    t.equal(same, sorted.length, 'same names, read from the file at hand');
    t.equal(loadSymbols(bytes, [new ElfFile(libc)]), undefined, "another binary's tables: refused");
    t.equal(loadSymbols(bytes, [new ElfFile(libc), ...files]), undefined, 'with a debug file now: refused');
    t.equal(loadSymbols(bytes.subarray(0, bytes.length - 1), files), undefined, 'truncated: refused');
    const swapped = Buffer.from(bytes);
    const first = 16 + 40 * swapped.readUInt32LE(12);
    swapped.copy(swapped, first, first + 8, first + 16);
    t.equal(loadSymbols(swapped, files), undefined, 'addresses out of order: refused');
    const wild = Buffer.from(bytes);
    wild.writeUInt32LE(0xffff_fff0, first + sorted.length * 16);
    t.equal(loadSymbols(wild, files), undefined, 'a name offset past its string table: refused');
  });

  t.test("a run names node's addresses the same from its kept symbols as from its own sort", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'symbols-kept-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const snapshot = captureProcess(process.pid)!;
    const nodePath = realpathSync(process.execPath);
    const text = snapshot.mappings.filter((m) => m.perms[2] === 'x' && m.path === nodePath).sort((a, b) => Number(b.end - b.start - (a.end - a.start)))[0]!;
    const addresses = (from: number): bigint[] => Array.from({ length: 300 }, (_, i) => text.start + BigInt((((from + i) * 2654435761) % Number(text.end - text.start)) & ~3));
    const raw = (stack: bigint[]) => ({ samples: stack.map((a, i) => ({ pid: process.pid, tid: process.pid + i, comm: 'node', userStack: [a], kernelStack: [], count: 1 })), processes: new Map([[process.pid, snapshot]]), metadata: {} });
    const names = async (stack: bigint[], cacheDirectory: string | undefined): Promise<string[]> => {
      const { profile } = await symbolizeWithReport(raw(stack), { cacheDirectory, debuginfodUrls: [], inline: false });
      return profile.stacks.map((s) => profile.frame(s.frames.at(-1)!).name);
    };
    await names(addresses(0), dir);
    const kept = readdirSync(join(dir, 'v2')).filter((f) => f.startsWith('symbols-'));
    t.equal(kept.length, 1, `node's sorted symbols kept (${kept.join(', ')})`);
    const fromKept = await names(addresses(1000), dir);
    const fromSort = await names(addresses(1000), undefined);
    t.same(fromKept, fromSort, '300 other addresses: the same names');
    t.ok(fromKept.filter((n) => !n.startsWith('[')).length > 200, 'most of them named by a symbol');
    t.ok(existsSync(join(dir, 'v2', kept[0]!)), 'still there');
  });
}
