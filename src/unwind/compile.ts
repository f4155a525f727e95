/**
 * `.eh_frame` or `.debug_frame` bytes → the sorted rows of rows.ts.
 *
 * The section is walked linearly rather than through `.eh_frame_hdr`: every FDE is needed anyway,
 * a sequential pass over the bytes is the cheapest way to visit them, `.debug_frame` has no index,
 * and sorting the FDE start addresses afterwards costs a few milliseconds even for node's 76k.
 *
 * Rows of one FDE are emitted in address order; FDEs are then ordered by (pc_begin, section
 * offset). Overlaps are resolved so that every address has one row: an FDE ends where the next
 * one (in that order) starts, and of several FDEs starting at one address the first in the
 * section wins. A NONE row follows each FDE unless the next one starts exactly at its end. FDEs
 * that cannot describe code of this binary are dropped: empty ranges, a start of 0 (discarded
 * functions in linked `.debug_frame`) and anything reaching past 2^32 (tombstones, and addresses
 * a u32 row cannot hold).
 *
 * Reference: https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/ehframechpt.html
 */
import { CfaRule, ROW_BYTES } from './rows.js';
import { CfiError, CfiReader, DW_EH_PE_omit, type PointerBases } from './reader.js';
import { initialState, Interpreter, packRules, RowSink, type Cie } from './program.js';

export interface FrameSection {
  readonly kind: 'eh_frame' | 'debug_frame';
  readonly bytes: Uint8Array;
  /** The section's virtual address (the base of pcrel pointers in `.eh_frame`). */
  readonly address: number;
}

export interface CompiledRows {
  readonly rows: Uint8Array;
  readonly rowCount: number;
  readonly functionStarts: Uint32Array;
  /** FDEs whose CIE uses an augmentation or version this reader does not know: their code has no rows. */
  readonly skippedFdes: number;
}

const U32_LIMIT = 2 ** 32;
const DW_EH_PE_absptr = 0x00;
const DW_EH_PE_udata4 = 0x03;

/** A CIE this reader cannot use; its FDEs are skipped, not misread. */
const UNUSABLE = Symbol('unusable CIE');

interface Fdes {
  begin: number[];
  end: number[];
  firstRow: number[];
  rowCount: number[];
}

/** Throws a CfiError (with the section offset) on corrupt input. */
export function compileFrames(section: FrameSection, bases: Omit<PointerBases, 'section'>): CompiledRows {
  const eh = section.kind === 'eh_frame';
  const r = new CfiReader(section.bytes);
  const size = section.bytes.length;
  const pointerBases: PointerBases = { ...bases, section: section.address };
  const cies = new Map<number, Cie | typeof UNUSABLE>();
  const sink = new RowSink();
  const interpreter = new Interpreter(r, pointerBases);
  const fdes: Fdes = { begin: [], end: [], firstRow: [], rowCount: [] };
  let skippedFdes = 0;

  /** [contentStart, end, is64] of the entry at `offset`, or undefined for a terminator. */
  const entryBounds = (offset: number): [number, number, boolean] | undefined => {
    r.pos = offset;
    r.limit = size;
    let length = r.u32();
    let is64 = false;
    if (length === 0xffffffff) {
      length = r.u64();
      is64 = true;
    }
    if (length === 0) return undefined;
    const start = r.pos;
    if (length > size - start) r.fail(`entry length ${length} runs past the section end`, offset);
    return [start, start + length, is64];
  };

  /** The CIE at `offset`, named by the field at `from` (where an error is reported). */
  const cieAt = (offset: number, from: number): Cie | typeof UNUSABLE => {
    const known = cies.get(offset);
    if (known !== undefined) return known;
    if (offset < 0 || offset + 4 > size) r.fail(`CIE pointer ${offset < 0 ? '-' : ''}0x${Math.abs(offset).toString(16)} outside the section`, from);
    const bounds = entryBounds(offset);
    if (!bounds) return r.fail('CIE pointer names a terminator', from);
    const [, end, is64] = bounds;
    const id = eh || !is64 ? r.u32() : r.u64();
    if (id !== (eh ? 0 : is64 ? 0xffffffff * U32_LIMIT + 0xffffffff : 0xffffffff)) r.fail('CIE pointer names an FDE', from);
    const cie = parseCie(r, end, eh, pointerBases, interpreter);
    cies.set(offset, cie);
    return cie;
  };

  let offset = 0;
  // Each entry advances `offset` by at least 4 bytes: the walk ends.
  while (offset + 4 <= size) {
    const bounds = entryBounds(offset);
    if (!bounds) {
      if (eh) break; // the zero terminator ends .eh_frame
      offset += 4; // padding in .debug_frame
      continue;
    }
    const [start, end, is64] = bounds;
    const idAt = r.pos;
    const id = eh || !is64 ? r.u32() : r.u64();
    const isCie = eh ? id === 0 : id === (is64 ? 0xffffffff * U32_LIMIT + 0xffffffff : 0xffffffff);
    if (isCie) {
      cieAt(offset, offset);
    } else {
      const cie = cieAt(eh ? idAt - id : id, idAt);
      r.pos = start + (eh || !is64 ? 4 : 8);
      r.limit = end;
      if (cie === UNUSABLE) skippedFdes++;
      else readFde(r, cie, end, pointerBases, interpreter, sink, fdes);
    }
    offset = end;
  }
  return assemble(sink, fdes, skippedFdes);
}

function parseCie(r: CfiReader, end: number, eh: boolean, bases: PointerBases, interpreter: Interpreter): Cie | typeof UNUSABLE {
  r.limit = end;
  const version = r.u8();
  if (version !== 1 && version !== 3 && !(version === 4 && !eh)) return UNUSABLE;
  const augmentation = r.cstring();
  let addressSize = 8;
  if (augmentation.startsWith('eh')) r.skip(8); // old GCC: a pointer to exception data
  if (version === 4) {
    addressSize = r.u8();
    if (r.u8() !== 0) return UNUSABLE; // segmented addresses
    if (addressSize !== 4 && addressSize !== 8) return UNUSABLE;
  }
  const codeAlign = r.uleb();
  const dataAlign = r.sleb();
  const raColumn = version === 1 ? r.u8() : r.uleb();
  let fdeEncoding = eh ? DW_EH_PE_absptr : addressSize === 4 ? DW_EH_PE_udata4 : DW_EH_PE_absptr;
  let signal = false;
  const hasAugmentationData = augmentation.startsWith('z');
  if (hasAugmentationData) {
    const length = r.uleb();
    const dataEnd = r.pos + length;
    if (dataEnd > end) r.fail('CIE augmentation data runs past the entry');
    for (let i = 1; i < augmentation.length; i++) {
      const letter = augmentation[i];
      if (letter === 'R') fdeEncoding = r.u8();
      else if (letter === 'L') r.u8(); // LSDA encoding: FDEs' augmentation data is skipped by length
      else if (letter === 'P') r.skipPointer(r.u8(), bases);
      else if (letter === 'S') signal = true;
      else return UNUSABLE;
    }
    r.pos = dataEnd;
  } else {
    // Without 'z' only letters that add no data can be read safely: gas writes "S" into .debug_frame.
    for (const letter of augmentation.replace(/^eh/, '')) {
      if (letter === 'S') signal = true;
      else return UNUSABLE;
    }
  }
  if (fdeEncoding === DW_EH_PE_omit) r.fail('CIE gives no FDE pointer encoding');
  const cie: Cie = { codeAlign, dataAlign, raColumn, fdeEncoding, hasAugmentationData, signal, initial: initialState() };
  cie.initial = interpreter.initialRules(cie, r.pos, end);
  return cie;
}

function readFde(r: CfiReader, cie: Cie, end: number, bases: PointerBases, interpreter: Interpreter, sink: RowSink, fdes: Fdes): void {
  const begin = r.pointer(cie.fdeEncoding, bases);
  const range = r.pointer(cie.fdeEncoding, bases, false);
  if (cie.hasAugmentationData) r.skip(r.uleb());
  if (!(begin > 0 && range > 0 && begin + range <= U32_LIMIT)) return;
  const firstRow = sink.length;
  const count = interpreter.rows(cie, r.pos, end, begin, begin + range, sink);
  fdes.begin.push(begin);
  fdes.end.push(begin + range);
  fdes.firstRow.push(firstRow);
  fdes.rowCount.push(count);
}

// begin < 2^32 and FDE index < 2^21 (8 bytes at least per FDE: a 16 MB section at most; larger is refused): key < 2^53.
const ORDER_SCALE = 2 ** 21;
const NONE_RULES = packRules(CfaRule.NONE, 0, 0);

/** FDEs in address order, overlaps cut, NONE rows in the gaps, equal neighbours merged. */
function assemble(sink: RowSink, fdes: Fdes, skippedFdes: number): CompiledRows {
  const n = fdes.begin.length;
  // Sorted by (begin, index): the index is the section order, so of equal starts the first in
  // the section comes first. Both in one float key: a plain numeric sort, no comparator calls.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = fdes.begin[i]! * ORDER_SCALE + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = keys[k]! % ORDER_SCALE;

  const out = new RowSink();
  const starts: number[] = [];
  const put = (pc: number, cfaOffset: number, rules: number): void => {
    const last = out.length - 1;
    if (last >= 0 && out.cfaOffset[last] === cfaOffset && out.rules[last] === rules) return;
    if (last >= 0 && out.pc[last] === pc) {
      out.cfaOffset[last] = cfaOffset;
      out.rules[last] = rules;
      if (last > 0 && out.cfaOffset[last - 1] === cfaOffset && out.rules[last - 1] === rules) out.length--;
      return;
    }
    out.push(pc, cfaOffset, rules);
  };
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const begin = fdes.begin[i]!;
    if (k > 0 && fdes.begin[order[k - 1]!] === begin) continue;
    let next = k + 1;
    while (next < n && fdes.begin[order[next]!] === begin) next++;
    const nextBegin = next < n ? fdes.begin[order[next]!]! : U32_LIMIT;
    const end = Math.min(fdes.end[i]!, nextBegin);
    starts.push(begin);
    const first = fdes.firstRow[i]!;
    for (let j = first; j < first + fdes.rowCount[i]!; j++) {
      if (sink.pc[j]! >= end) break;
      put(sink.pc[j]!, sink.cfaOffset[j]!, sink.rules[j]!);
    }
    if (end < nextBegin && end < U32_LIMIT) put(end, 0, NONE_RULES);
  }

  const rows = new Uint8Array(out.length * ROW_BYTES);
  const view = new DataView(rows.buffer);
  for (let j = 0; j < out.length; j++) {
    const at = j * ROW_BYTES;
    view.setUint32(at, out.pc[j]!, true);
    view.setInt32(at + 4, out.cfaOffset[j]!, true);
    view.setInt32(at + 8, out.rules[j]!, true);
  }
  return { rows, rowCount: out.length, functionStarts: Uint32Array.from(starts), skippedFdes };
}

export { CfiError };
