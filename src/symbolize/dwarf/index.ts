/**
 * File:line and inlined frames from DWARF, with libdw as the decoder and JS indexes on top
 * (docs/decisions.md: libdw's per-address helpers scan whole symbol tables or CUs per call; this way
 * each CU is walked once, on its first address).
 *
 * Per address: the CU through .debug_aranges (`dwarf_addrdie`), the line-table row
 * (`dwarf_getsrc_die`) for the innermost file:line, and the CU's tree of functions and inlined
 * calls (built on first hit) for the chain; each outer frame's line is the call site recorded on
 * the inlined call inside it (DW_AT_call_file/line), as eu-addr2line -i prints them.
 */
import { ElfFile } from '../elf/file.js';
import type { ByteSource } from '../source.js';
import { readAranges, unitOf, type AddressRanges } from './aranges.js';
import {
  C_LANGUAGES,
  DW_AT_call_file,
  DW_AT_call_line,
  DW_TAG_class_type,
  DW_TAG_inlined_subroutine,
  DW_TAG_lexical_block,
  DW_TAG_namespace,
  DW_TAG_structure_type,
  DW_TAG_subprogram,
  libdw,
  type Libdw,
} from './libdw.js';

/** One frame of an address, root first in `SourceLocation.frames`. */
export interface SourceFrame {
  readonly name?: string;
  readonly file?: string;
  readonly line?: number;
  /** True for an inlined call (every frame but the first). */
  readonly inline: boolean;
}

interface Scope {
  readonly ranges: readonly number[];
  readonly name?: string;
  readonly callFile?: number;
  readonly callLine?: number;
  readonly children: Scope[];
}

interface CompileUnit {
  /** The CU's DIE, kept in native memory for the run: no `dwarf_offdie` per address. */
  readonly die: unknown;
  readonly files: (index: number) => string | null;
  /** Top-level functions, by the low end of each range (a split hot/cold function appears twice). */
  readonly lows: Float64Array;
  readonly highs: Float64Array;
  readonly scopes: readonly Scope[];
}

function contains(scope: Scope, address: number): boolean {
  const r = scope.ranges;
  for (let i = 0; i < r.length; i += 2) if (address >= r[i]! && address < r[i + 1]!) return true;
  return false;
}

export class DwarfFile {
  /** By CU DIE offset. */
  private readonly cus = new Map<number, CompileUnit>();
  private readonly cudie: unknown;
  private readonly dies: unknown[] = [];
  private closed = false;
  private cuRanges?: { lows: Float64Array; highs: Float64Array; offsets: number[] };
  /** Whether the CU being indexed may define functions inside classes and structures (not C). */
  private intoTypes = true;
  /** CU DIE offset by CU header offset (what .debug_aranges names). */
  private unitDies?: Map<number, number>;

  private constructor(
    private readonly dw: Libdw,
    private readonly dwarf: unknown,
    /** .debug_aranges read in JS; undefined: ask libdw (`dwarf_addrdie`) per address. */
    private readonly aranges: AddressRanges | undefined,
  ) {
    this.cudie = dw.allocDie();
  }

  /** Opens the DWARF of a file with an open descriptor; undefined when libdw is missing or the file has no usable DWARF. */
  static open(source: ByteSource): DwarfFile | undefined {
    const dw = libdw();
    if (!dw || source.fd === undefined) return undefined;
    const dwarf = dw.begin(source.fd);
    if (dwarf === null) return undefined;
    let aranges: AddressRanges | undefined;
    try {
      aranges = readAranges(new ElfFile(source));
    } catch {
      aranges = undefined; // libdw reads it instead
    }
    return new DwarfFile(dw, dwarf, aranges);
  }

  /** Frames at `address` (an ELF virtual address), root first; empty when DWARF does not cover it. */
  frames(address: number, inline: boolean): SourceFrame[] {
    if (this.closed) return [];
    const offset = this.findCu(address);
    if (offset < 0) return [];
    let cu = this.cus.get(offset);
    if (!cu) {
      const die = this.dw.allocDie();
      if (!this.dw.offdie(this.dwarf, offset, die)) return [];
      cu = this.index(die);
      this.cus.set(offset, cu);
    }
    const line = this.dw.getsrcDie(cu.die, address);
    const leafFile = line === null ? undefined : (this.dw.linesrc(line) ?? undefined);
    const leafLine = line === null ? undefined : this.dw.lineno(line) || undefined;

    const chain: Scope[] = [];
    const top = this.topScope(cu, address);
    if (top) {
      chain.push(top);
      let children = top.children;
      for (let depth = 0; depth < 256; depth++) {
        const next = children.find((s) => contains(s, address));
        if (!next) break;
        chain.push(next);
        children = next.children;
      }
    }
    if (chain.length === 0) return [{ file: leafFile, line: leafLine, inline: false }];
    const frames: SourceFrame[] = [];
    const last = inline ? chain.length - 1 : 0;
    for (let i = 0; i <= last; i++) {
      // A frame's own line is where it calls the next inlined function, or the row itself for the last.
      const callee = i < chain.length - 1 ? chain[i + 1] : undefined;
      const file = callee ? (callee.callFile !== undefined ? (cu.files(callee.callFile) ?? undefined) : undefined) : leafFile;
      const lineNo = callee ? callee.callLine : leafLine;
      frames.push({ name: chain[i]!.name, file, line: lineNo, inline: i > 0 });
    }
    return frames;
  }

  /**
   * The DIE offset of the CU holding `address`, or −1: through .debug_aranges, or, for files
   * without it (clang does not emit it by default, and libdw 0.188 does not make it up), through
   * the ranges of every CU, read once.
   */
  private findCu(address: number): number {
    if (this.aranges) {
      const unit = unitOf(this.aranges, address);
      if (unit >= 0) {
        const die = this.unitDie(unit);
        if (die !== undefined) return die;
      }
    } else if (this.dw.addrdie(this.dwarf, address, this.cudie)) return this.dw.dieoffset(this.cudie);
    if (!this.cuRanges) {
      const entries: { low: number; high: number; offset: number }[] = [];
      for (const offset of this.dw.cuOffsets(this.dwarf)) {
        if (!this.dw.offdie(this.dwarf, offset, this.cudie)) continue;
        const r = this.dw.ranges(this.cudie);
        for (let i = 0; i < r.length; i += 2) entries.push({ low: r[i]!, high: r[i + 1]!, offset });
      }
      entries.sort((a, b) => a.low - b.low);
      this.cuRanges = { lows: Float64Array.from(entries, (e) => e.low), highs: Float64Array.from(entries, (e) => e.high), offsets: entries.map((e) => e.offset) };
    }
    const { lows, highs, offsets } = this.cuRanges;
    let lo = 0;
    let hi = lows.length - 1;
    if (hi < 0 || address < lows[0]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (lows[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return address < highs[lo]! ? offsets[lo]! : -1;
  }

  /** The DIE offset of the CU whose header is at `unit` (headers differ in size by DWARF version). */
  private unitDie(unit: number): number | undefined {
    if (!this.unitDies) {
      this.unitDies = new Map();
      for (const { header, die } of this.dw.units(this.dwarf)) this.unitDies.set(header, die);
    }
    return this.unitDies.get(unit);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dw.end(this.dwarf);
  }

  private topScope(cu: CompileUnit, address: number): Scope | undefined {
    const lows = cu.lows;
    let lo = 0;
    let hi = lows.length - 1;
    if (hi < 0 || address < lows[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (lows[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return address < cu.highs[lo]! ? cu.scopes[lo] : undefined;
  }

  private die(depth: number): unknown {
    while (this.dies.length <= depth) this.dies.push(this.dw.allocDie());
    return this.dies[depth];
  }

  /** Walks a CU's DIEs once: functions, inlined calls, and what may contain them. */
  private index(cudie: unknown): CompileUnit {
    const top: Scope[] = [];
    // C structures hold only members: a quarter of libc's DIEs, each a native call or two, skipped.
    this.intoTypes = !C_LANGUAGES.has(this.dw.srclang(cudie));
    this.walk(cudie, 0, top, 0);
    const entries: { low: number; high: number; scope: Scope }[] = [];
    for (const scope of top) for (let i = 0; i < scope.ranges.length; i += 2) entries.push({ low: scope.ranges[i]!, high: scope.ranges[i + 1]!, scope });
    entries.sort((a, b) => a.low - b.low);
    return {
      die: cudie,
      files: this.dw.srcfiles(cudie),
      lows: Float64Array.from(entries, (e) => e.low),
      highs: Float64Array.from(entries, (e) => e.high),
      scopes: entries.map((e) => e.scope),
    };
  }

  private walk(parent: unknown, depth: number, into: Scope[], inFunction: number): void {
    const dw = this.dw;
    const die = this.die(depth);
    if (depth > 64 || dw.child(parent, die) !== 0) return;
    do {
      const tag = dw.tag(die);
      if (tag === DW_TAG_subprogram || tag === DW_TAG_inlined_subroutine) {
        const ranges = dw.ranges(die);
        if (ranges.length > 0) {
          const inlined = tag === DW_TAG_inlined_subroutine;
          const scope: Scope = {
            ranges,
            name: dw.name(die) ?? undefined,
            callFile: inlined ? dw.udata(die, DW_AT_call_file) : undefined,
            callLine: inlined ? dw.udata(die, DW_AT_call_line) : undefined,
            children: [],
          };
          // A nested subprogram (a GNU C nested function) is its own top-level function.
          if (tag === DW_TAG_subprogram && inFunction > 0) this.walk(die, depth + 1, scope.children, inFunction + 1);
          else this.walk(die, depth + 1, scope.children, inFunction + 1);
          into.push(scope);
        }
      } else if (tag === DW_TAG_lexical_block || (inFunction === 0 && (tag === DW_TAG_namespace || ((tag === DW_TAG_class_type || tag === DW_TAG_structure_type) && this.intoTypes)))) {
        this.walk(die, depth + 1, into, inFunction);
      }
    } while (dw.sibling(die, die) === 0);
  }
}
