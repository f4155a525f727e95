/**
 * The on-disk copy of the kernel's vmlinux symbols: written after a run that read /proc/kallsyms,
 * used by the next run of the same kernel (build-id) at the same place (KASLR), never for
 * modules, BPF programs or anything past the image, and never when the image moved. Runs on a
 * made-up kallsyms through a fixture host; < 1 s.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import type { RawProfile } from '../../src/profile/raw.js';
import { symbolizeWithReport } from '../../src/symbolize/index.js';
import { Kallsyms, kallsymsAnchor, kernelBuildId, KernelSymbols } from '../../src/symbolize/kallsyms.js';
import type { SymbolHost } from '../../src/symbolize/source.js';

const BUILD_ID = '85c7e4e2ed76f4417e8aaad7c6b040d2bb897a26';

/** /sys/kernel/notes as the kernel lays it out: a Xen note first, then the GNU build-id. */
function notes(buildId: string): Buffer {
  const note = (name: string, type: number, desc: Buffer): Buffer => {
    const n = Buffer.alloc(Math.ceil((name.length + 1) / 4) * 4);
    n.write(name, 'latin1');
    const d = Buffer.alloc(Math.ceil(desc.length / 4) * 4);
    desc.copy(d);
    const header = Buffer.alloc(12);
    header.writeUInt32LE(name.length + 1, 0);
    header.writeUInt32LE(desc.length, 4);
    header.writeUInt32LE(type, 8);
    return Buffer.concat([header, n, d]);
  };
  return Buffer.concat([note('Xen', 6, Buffer.from('linux')), note('GNU', 3, Buffer.from(buildId, 'hex'))]);
}

/** A kallsyms text with percpu symbols first, vmlinux code at `base`, then a module and a BPF program. */
function kallsymsText(base: bigint): string {
  const hex = (a: bigint): string => a.toString(16).padStart(16, '0');
  const lines = ['0000000000000000 A fixed_percpu_data', '0000000000001000 D cpu_number'];
  const names = ['_stext', 'entry_SYSCALL_64', 'do_syscall_64', 'schedule', 'finish_task_switch', '_etext'];
  names.forEach((name, i) => lines.push(`${hex(base + BigInt(i) * 0x100n)} ${name === 'finish_task_switch' ? 't' : 'T'} ${name}`));
  lines.push(`${hex(0xffffffffc0001000n)} t ext4_writepages\t[ext4]`, `${hex(0xffffffffc0002000n)} t bpf_prog_1234_handler\t[bpf]`);
  return `${lines.join('\n')}\n`;
}

function raw(addresses: readonly bigint[]): RawProfile {
  return {
    samples: addresses.map((a, i) => ({ pid: 1, tid: 1 + i, comm: 'k', userStack: [], kernelStack: [a], count: 1 })),
    processes: new Map(),
    metadata: {},
  };
}

function host(state: { text: string; fullReads: number; buildId?: string }): SymbolHost {
  return {
    kallsyms: () => {
      state.fullReads++;
      return Buffer.from(state.text, 'latin1');
    },
    kallsymsHead: (bytes) => Buffer.from(state.text, 'latin1').subarray(0, bytes),
    kernelNotes: () => (state.buildId === undefined ? undefined : notes(state.buildId)),
    openMapped: () => undefined,
    openFile: () => undefined,
    download: async () => ({ ok: false, missing: true, reason: 'offline' }),
    exists: () => false,
    readFile: (path) => {
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    },
    writeFileAtomic: (path, data) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, typeof data === 'string' || data instanceof Uint8Array ? data : Buffer.concat([...data]));
    },
    packageOf: () => new Map(),
  };
}

const names = async (h: SymbolHost, cacheDirectory: string, addresses: readonly bigint[]): Promise<string[]> => {
  const { profile } = await symbolizeWithReport(raw(addresses), { host: h, cacheDirectory, debuginfodUrls: [] });
  return profile.stacks.map((s) => s.frames.map((id) => `${profile.frame(id).name}@${profile.frame(id).module}`).join(';'));
};

t.test('kernel build-id from /sys/kernel/notes; the anchor is the first code symbol, past percpu data', async (t) => {
  t.equal(kernelBuildId(notes(BUILD_ID)), BUILD_ID);
  t.equal(kernelBuildId(Buffer.alloc(7)), undefined, 'too short: none');
  t.equal(kallsymsAnchor(Buffer.from(kallsymsText(0xffffffff81000000n))), 'ffffffff81000000 T _stext');
  t.equal(kallsymsAnchor(Buffer.from(kallsymsText(0xffffffff81000000n).replace(/^[0-9a-f]{16}/gm, '0'.repeat(16)))), undefined, 'zeros under kptr_restrict: no anchor');
});

t.test('the copy: vmlinux only, a round trip, damaged files refused', async (t) => {
  const full = Kallsyms.parse(kallsymsText(0xffffffff81000000n))!;
  const copy = KernelSymbols.of(full, 'ffffffff81000000 T _stext');
  t.equal(copy.symbols.size, 6, 'modules and BPF programs left out');
  const bytes = copy.serialize(BUILD_ID);
  const back = KernelSymbols.load(bytes, BUILD_ID)!;
  t.ok(back, 'read back');
  t.equal(back.anchor, copy.anchor);
  const schedule = 0xffffffff81000300n;
  t.same(back.symbols.lookup(schedule + 5n), { name: 'schedule', module: '[kernel.kallsyms]', offset: 5n }, 'named as from kallsyms');
  t.ok(back.covers(back.symbols.indexOf(schedule + 5n)), 'between two vmlinux symbols: covered');
  t.notOk(back.covers(back.symbols.indexOf(0xffffffff81000500n + 0x10n)), 'past the last one: not (a module may lie there)');
  t.notOk(back.covers(back.symbols.indexOf(0xffffffff80000000n)), 'below the first: not');
  t.equal(KernelSymbols.load(bytes, BUILD_ID.replace(/^8/, '9')), undefined, 'another build-id: refused');
  t.equal(KernelSymbols.load(bytes.subarray(0, bytes.length - 1), BUILD_ID), undefined, 'truncated: refused');
  const swapped = Buffer.from(bytes);
  const offsetsAt = 32 + 40 + Math.ceil(copy.anchor.length / 8) * 8;
  swapped.writeDoubleLE(1e15, offsetsAt);
  t.equal(KernelSymbols.load(swapped, BUILD_ID), undefined, 'addresses out of order: refused');
});

t.test('symbolizer: the second run names vmlinux frames without reading /proc/kallsyms, the same as the first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = { text: kallsymsText(0xffffffff81000000n), fullReads: 0, buildId: BUILD_ID };
  const h = host(state);
  const vmlinux = [0xffffffff81000310n, 0xffffffff81000408n, 0xffffffff81000101n];
  const first = await names(h, dir, vmlinux);
  t.equal(state.fullReads, 1, 'the first run reads kallsyms');
  t.same(first, ['schedule@[kernel.kallsyms]', 'finish_task_switch@[kernel.kallsyms]', 'entry_SYSCALL_64@[kernel.kallsyms]']);
  t.ok(readdirSync(join(dir, 'v2')).includes(`kernel-${BUILD_ID}.bin`), 'the copy is written under the kernel build-id');
  t.same(await names(h, dir, vmlinux), first, 'the second run: same names');
  t.equal(state.fullReads, 1, 'without reading kallsyms');

  const withModule = [...vmlinux, 0xffffffffc0001010n, 0xffffffffc0002004n];
  t.same(await names(h, dir, withModule), [...first, 'ext4_writepages@ext4', 'bpf_prog_1234_handler@bpf'], 'module and BPF addresses named from the live kallsyms');
  t.equal(state.fullReads, 2, 'which they needed');

  // A reboot with KASLR: the image moved by 16 MiB; the old copy must not name the new addresses.
  const moved = 0xffffffff82000000n - 0xffffffff81000000n;
  state.text = kallsymsText(0xffffffff82000000n);
  t.same(await names(h, dir, vmlinux.map((a) => a + moved)), first, 'after KASLR moved the image: the live kallsyms, same names');
  t.equal(state.fullReads, 3, 'read again');
  t.same(await names(h, dir, vmlinux.map((a) => a + moved)), first, 'and the copy is rewritten for the new place');
  t.equal(state.fullReads, 3, 'so the next run reads nothing');
  t.same(await names(h, dir, vmlinux), vmlinux.map((a) => `0x${a.toString(16)}@[kernel.kallsyms]`), 'old addresses are no longer named');

  // Another kernel (no build-id readable): no copy is used.
  const other = { ...state, fullReads: 0, buildId: undefined };
  t.same(await names(host(other), dir, vmlinux.map((a) => a + moved)), first);
  t.equal(other.fullReads, 1, 'without a kernel build-id kallsyms is always read');
});

t.test('an address that is one stack\'s leaf and another\'s return address is named for each, in any order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-leaf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = host({ text: kallsymsText(0xffffffff81000000n), fullReads: 0 });
  // The first instruction of schedule: as a leaf it is schedule; as a return address (a call that
  // ends do_syscall_64, or an interrupted first instruction) it is looked up one byte earlier.
  const schedule = 0xffffffff81000300n;
  const leaf = { pid: 1, tid: 1, comm: 'k', userStack: [], kernelStack: [schedule], count: 1 };
  const returned = { pid: 1, tid: 2, comm: 'k', userStack: [], kernelStack: [0xffffffff81000408n, schedule], count: 1 };
  const named = async (samples: (typeof leaf)[]): Promise<string[]> => {
    const { profile } = await symbolizeWithReport({ samples, processes: new Map(), metadata: {} }, { host: h, cacheDirectory: dir, debuginfodUrls: [] });
    return profile.stacks.map((s) => s.frames.map((id) => profile.frame(id).name).join(';')).sort();
  };
  const expected = ['do_syscall_64;finish_task_switch', 'schedule'];
  t.same(await named([leaf, returned]), expected, 'leaf first');
  t.same(await named([returned, leaf]), expected, 'return address first');
});

t.test('an address far past the image\'s last symbol, or the table\'s, keeps its address instead of that name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kernel-past-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = host({ text: kallsymsText(0xffffffff81000000n), fullReads: 0 });
  // The code of a BPF program unloaded since the sample lies between the image and the modules.
  const between = 0xffffffffa0000000n;
  const pastAll = 0xffffffffc0002000n + (4n << 20n);
  const nearEnd = 0xffffffff81000500n + 0x40n;
  t.same(await names(h, dir, [between, pastAll, nearEnd]), [
    `0x${between.toString(16)}@[kernel.kallsyms]`,
    `0x${pastAll.toString(16)}@[kernel.kallsyms]`,
    '_etext@[kernel.kallsyms]',
  ]);
});
