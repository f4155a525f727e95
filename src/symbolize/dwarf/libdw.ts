/**
 * koffi bindings to the parts of elfutils' libdw (`libdw.so.1`, Debian `libdw1`) used as a DWARF
 * decoder: CU by address (.debug_aranges), line tables, and the DIE walk. Not Dwfl: it would look
 * for debug files itself (and block on debuginfod); we hand it the right file.
 *
 * Reference: https://sourceware.org/elfutils/ (libdw.h).
 */
import koffi from 'koffi';

export interface Libdw {
  begin(fd: number): unknown;
  end(dwarf: unknown): void;
  addrdie(dwarf: unknown, address: number, result: unknown): boolean;
  getsrcDie(cudie: unknown, address: number): unknown;
  lineno(line: unknown): number;
  linesrc(line: unknown): string | null;
  lineaddr(line: unknown): number;
  child(die: unknown, result: unknown): number;
  sibling(die: unknown, result: unknown): number;
  tag(die: unknown): number;
  dieoffset(die: unknown): number;
  /** DW_AT_language of a CU DIE, or −1. */
  srclang(cudie: unknown): number;
  /** Every [low, high) range of a DIE. */
  ranges(die: unknown): number[];
  name(die: unknown): string | null;
  udata(die: unknown, attribute: number): number | undefined;
  srcfiles(cudie: unknown): (index: number) => string | null;
  /** DIE offsets of every CU (`dwarf_nextcu`). */
  cuOffsets(dwarf: unknown): number[];
  /** Header and DIE offsets of every CU. */
  units(dwarf: unknown): { header: number; die: number }[];
  offdie(dwarf: unknown, offset: number, result: unknown): boolean;
  /** 32 bytes of native memory for a Dwarf_Die. */
  allocDie(): unknown;
}

export const DW_TAG_subprogram = 0x2e;
export const DW_TAG_inlined_subroutine = 0x1d;
export const DW_TAG_lexical_block = 0x0b;
export const DW_TAG_namespace = 0x39;
export const DW_TAG_class_type = 0x02;
export const DW_TAG_structure_type = 0x13;
/** The C dialects (DW_LANG_C89, C, C99, C11, C17): their structures hold no functions. */
export const C_LANGUAGES: ReadonlySet<number> = new Set([0x0001, 0x0002, 0x000c, 0x001d, 0x002c]);
export const DW_AT_call_file = 0x58;
export const DW_AT_call_line = 0x59;
const DW_AT_linkage_name = 0x6e;
const DW_AT_MIPS_linkage_name = 0x2007;

let loaded: Libdw | null | undefined;

/** The bindings, or undefined when libdw.so.1 is not installed (then no file:line, said once). */
export function libdw(): Libdw | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  try {
    loaded = bind();
  } catch {
    loaded = null;
  }
  return loaded ?? undefined;
}

function bind(): Libdw {
  const lib = koffi.load('libdw.so.1');
  const f = (signature: string): ((...args: unknown[]) => unknown) => lib.func(signature) as (...args: unknown[]) => unknown;
  const dwarf_begin = f('void *dwarf_begin(int fd, int cmd)');
  const dwarf_end = f('int dwarf_end(void *dwarf)');
  const dwarf_addrdie = f('void *dwarf_addrdie(void *dwarf, uint64_t addr, void *result)');
  const dwarf_getsrc_die = f('void *dwarf_getsrc_die(void *cudie, uint64_t addr)');
  // Out-parameters are typed arrays passed as plain pointers: koffi hands over their memory as it
  // is, where `_Out_` arrays are marshalled on every call (dwarf_ranges: ~8 µs a call vs < 1 µs).
  const dwarf_lineno = f('int dwarf_lineno(void *line, void *lineno)');
  const dwarf_linesrc = f('const char *dwarf_linesrc(void *line, void *mtime, void *length)');
  const dwarf_lineaddr = f('int dwarf_lineaddr(void *line, void *addr)');
  const dwarf_child = f('int dwarf_child(void *die, void *result)');
  const dwarf_siblingof = f('int dwarf_siblingof(void *die, void *result)');
  const dwarf_tag = f('int dwarf_tag(void *die)');
  const dwarf_dieoffset = f('uint64_t dwarf_dieoffset(void *die)');
  const dwarf_srclang = f('int dwarf_srclang(void *die)');
  const dwarf_ranges = f('int64_t dwarf_ranges(void *die, int64_t offset, void *basep, void *startp, void *endp)');
  const dwarf_diename = f('const char *dwarf_diename(void *die)');
  const dwarf_attr_integrate = f('void *dwarf_attr_integrate(void *die, unsigned int name, void *attr)');
  const dwarf_attr = f('void *dwarf_attr(void *die, unsigned int name, void *attr)');
  const dwarf_formstring = f('const char *dwarf_formstring(void *attr)');
  const dwarf_formudata = f('int dwarf_formudata(void *attr, void *value)');
  const dwarf_getsrcfiles = f('int dwarf_getsrcfiles(void *cudie, _Out_ void **files, _Out_ size_t *nfiles)');
  const dwarf_filesrc = f('const char *dwarf_filesrc(void *files, size_t idx, void *mtime, void *length)');
  const dwarf_nextcu = f('int dwarf_nextcu(void *dwarf, uint64_t off, void *next, void *header_size, void *abbrev, void *address_size, void *offset_size)');
  const dwarf_offdie = f('void *dwarf_offdie(void *dwarf, uint64_t offset, void *result)');
  const attr = koffi.alloc('uint8_t', 32);
  const num = (v: unknown): number => Number(v);
  // Scratch out-parameters: three u64 (read as pairs of u32, exact below 2^53) and one int.
  const out64 = new BigUint64Array(3);
  const words = new Uint32Array(out64.buffer);
  const base = out64.subarray(0, 1);
  const start = out64.subarray(1, 2);
  const end = out64.subarray(2, 3);
  const out32 = new Int32Array(1);
  const u64At = (i: number): number => words[i * 2]! + words[i * 2 + 1]! * 0x1_0000_0000;
  const units = (dwarf: unknown): { header: number; die: number }[] => {
    const result: { header: number; die: number }[] = [];
    let offset = 0;
    for (let guard = 0; guard < 1_000_000; guard++) {
      out64[1] = 0n;
      out64[2] = 0n;
      if (dwarf_nextcu(dwarf, offset, start, end, null, null, null) !== 0) break;
      result.push({ header: offset, die: offset + u64At(2) });
      offset = u64At(1);
    }
    return result;
  };
  return {
    begin: (fd) => dwarf_begin(fd, 0) as unknown,
    end: (dwarf) => void dwarf_end(dwarf),
    addrdie: (dwarf, address, result) => dwarf_addrdie(dwarf, address, result) !== null,
    getsrcDie: (cudie, address) => dwarf_getsrc_die(cudie, address) as unknown,
    lineno: (line) => (dwarf_lineno(line, out32) === 0 ? out32[0]! : 0),
    linesrc: (line) => dwarf_linesrc(line, null, null) as string | null,
    lineaddr: (line) => {
      out64[0] = 0n;
      dwarf_lineaddr(line, base);
      return u64At(0);
    },
    child: (die, result) => dwarf_child(die, result) as number,
    sibling: (die, result) => dwarf_siblingof(die, result) as number,
    tag: (die) => dwarf_tag(die) as number,
    dieoffset: (die) => num(dwarf_dieoffset(die)),
    srclang: (cudie) => dwarf_srclang(cudie) as number,
    ranges: (die) => {
      const result: number[] = [];
      out64[0] = 0n;
      let offset: number = 0;
      for (let guard = 0; guard < 4096; guard++) {
        offset = num(dwarf_ranges(die, offset, base, start, end));
        if (offset <= 0) break;
        result.push(u64At(1), u64At(2));
      }
      return result;
    },
    name: (die) => {
      // Mangled linkage names first, as eu-addr2line prints them (demangling comes later).
      for (const at of [DW_AT_linkage_name, DW_AT_MIPS_linkage_name]) {
        const a = dwarf_attr_integrate(die, at, attr);
        if (a !== null) {
          const s = dwarf_formstring(a) as string | null;
          if (s) return s;
        }
      }
      return dwarf_diename(die) as string | null;
    },
    udata: (die, attribute) => {
      const a = dwarf_attr(die, attribute, attr);
      if (a === null) return undefined;
      out64[0] = 0n;
      return dwarf_formudata(a, base) === 0 ? u64At(0) : undefined;
    },
    srcfiles: (cudie) => {
      const files: unknown[] = [null];
      const count = [0];
      if (dwarf_getsrcfiles(cudie, files, count) !== 0 || files[0] === null) return () => null;
      const cache = new Map<number, string | null>();
      const n = num(count[0]);
      return (index) => {
        if (index < 0 || index >= n) return null;
        let s = cache.get(index);
        if (s === undefined) {
          s = dwarf_filesrc(files[0], index, null, null) as string | null;
          cache.set(index, s);
        }
        return s;
      };
    },
    cuOffsets: (dwarf) => units(dwarf).map((u) => u.die),
    units: (dwarf) => units(dwarf),
    offdie: (dwarf, offset, result) => dwarf_offdie(dwarf, offset, result) !== null,
    allocDie: () => koffi.alloc('uint8_t', 32),
  };
}
