/**
 * Runs DWARF call frame instructions (a CIE's initial instructions, then an FDE's) and emits one
 * row per address range, already mapped to the walker's rules (rows.ts). Only the rules the
 * walker uses are tracked — the CFA, rbp (DWARF register 6) and the return address column — but
 * every instruction is parsed, so an unknown or truncated one is reported, not misread.
 *
 * Reference: DWARF 5, section 6.4 (https://dwarfstd.org/doc/DWARF5.pdf); GNU extensions as in
 * https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/dwarfext.html
 */
import { CfaRule, RbpRule } from './rows.js';
import type { CfiReader, PointerBases } from './reader.js';

const RSP = 7;
const RBP = 6;

/** How a register is recovered (DWARF 6.4.1); UNSET: never mentioned, which x86-64 treats as same value. */
const enum Reg { UNSET, SAME, UNDEFINED, OFFSET, VAL_OFFSET, REGISTER, EXPRESSION, VAL_EXPRESSION }
const enum Cfa { REGISTER, PLT, EXPRESSION }

/** The rules at one point of a program; copied by DW_CFA_remember_state. */
export interface RuleState {
  cfa: Cfa;
  cfaRegister: number;
  cfaOffset: number;
  /** PLT threshold: 10 or 11. */
  plt: number;
  rbp: Reg;
  rbpOffset: number;
  ra: Reg;
  raOffset: number;
}

export function initialState(): RuleState {
  return { cfa: Cfa.REGISTER, cfaRegister: RSP, cfaOffset: 0, plt: 0, rbp: Reg.UNSET, rbpOffset: 0, ra: Reg.UNSET, raOffset: 0 };
}

const UNSET_STATE = initialState();
const copy = (s: RuleState): RuleState => assign(initialState(), s);

/** Field by field: cheaper than Object.assign or a spread, which run once per FDE (76k in node). */
function assign(to: RuleState, from: RuleState): RuleState {
  to.cfa = from.cfa;
  to.cfaRegister = from.cfaRegister;
  to.cfaOffset = from.cfaOffset;
  to.plt = from.plt;
  to.rbp = from.rbp;
  to.rbpOffset = from.rbpOffset;
  to.ra = from.ra;
  to.raOffset = from.raOffset;
  return to;
}

export interface Cie {
  readonly codeAlign: number;
  readonly dataAlign: number;
  readonly raColumn: number;
  /** Encoding of FDE addresses (and DW_CFA_set_loc). */
  readonly fdeEncoding: number;
  /** 'z': FDEs carry an augmentation data length. */
  readonly hasAugmentationData: boolean;
  /** 'S': the FDEs are signal trampolines. */
  readonly signal: boolean;
  /** The rules after the initial instructions: every FDE's starting point, and what DW_CFA_restore returns to. */
  initial: RuleState;
}

/** Growable columns of emitted rows (no object per row): pc, CFA offset, and the rules packed with rbp's offset. */
export class RowSink {
  pc = new Uint32Array(1 << 14);
  cfaOffset = new Int32Array(1 << 14);
  /** The row's last 4 bytes as a little-endian u32: rbp_offset & 0xffff | cfa_rule << 16 | rbp_rule << 24. */
  rules = new Int32Array(1 << 14);
  length = 0;

  push(pc: number, cfaOffset: number, rules: number): void {
    if (this.length === this.pc.length) {
      const grow = <T extends Uint32Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.pc = grow(this.pc, (n) => new Uint32Array(n));
      this.cfaOffset = grow(this.cfaOffset, (n) => new Int32Array(n));
      this.rules = grow(this.rules, (n) => new Int32Array(n));
    }
    this.pc[this.length] = pc;
    this.cfaOffset[this.length] = cfaOffset;
    this.rules[this.length] = rules;
    this.length++;
  }
}

const fitsS32 = (n: number): boolean => Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
const fitsS16 = (n: number): boolean => Number.isInteger(n) && n >= -0x8000 && n <= 0x7fff;
export const packRules = (cfa: number, rbp: number, rbpOffset: number): number => (rbpOffset & 0xffff) | (cfa << 16) | (rbp << 24);

/** The walker's view of `s`: [cfa_offset, packed rules]. Rules that stop the walk carry no offsets, so they merge. */
function mapRow(s: RuleState, cie: Cie, out: [number, number]): void {
  if (cie.signal) return void ((out[0] = 0), (out[1] = packRules(CfaRule.SIGNAL, RbpRule.SAME, 0)));
  if (s.ra === Reg.UNDEFINED) return void ((out[0] = 0), (out[1] = packRules(CfaRule.END, RbpRule.SAME, 0)));
  let cfa: number = CfaRule.INVALID;
  let cfaOffset = 0;
  if (s.ra === Reg.OFFSET && s.raOffset === -8) {
    if (s.cfa === Cfa.PLT) {
      cfa = CfaRule.PLT;
      cfaOffset = s.plt;
    } else if (s.cfa === Cfa.REGISTER && (s.cfaRegister === RSP || s.cfaRegister === RBP) && fitsS32(s.cfaOffset)) {
      cfa = s.cfaRegister === RSP ? CfaRule.RSP : CfaRule.RBP;
      cfaOffset = s.cfaOffset;
    }
  }
  if (cfa === CfaRule.INVALID) return void ((out[0] = 0), (out[1] = packRules(CfaRule.INVALID, RbpRule.SAME, 0)));
  let rbp: number = RbpRule.INVALID;
  let rbpOffset = 0;
  if (s.rbp === Reg.UNSET || s.rbp === Reg.SAME) rbp = RbpRule.SAME;
  else if (s.rbp === Reg.OFFSET && fitsS16(s.rbpOffset)) {
    rbp = RbpRule.OFFSET;
    rbpOffset = s.rbpOffset;
  }
  out[0] = cfaOffset;
  out[1] = packRules(cfa, rbp, rbpOffset);
}

/** DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit{10,11}; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus. */
const PLT_EXPRESSION = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, -1, 0x2a, 0x33, 0x24, 0x22];

function pltThreshold(bytes: Uint8Array, start: number, length: number): number | undefined {
  if (length !== PLT_EXPRESSION.length) return undefined;
  for (let i = 0; i < length; i++) {
    const want = PLT_EXPRESSION[i]!;
    if (want >= 0 && bytes[start + i] !== want) return undefined;
  }
  const literal = bytes[start + 6]!;
  return literal === 0x3a || literal === 0x3b ? literal - 0x30 : undefined;
}

/**
 * Runs instructions. `rows` emits the rows of [pcBegin, pcEnd) into it, merging rows
 * whose rules are the same; without one it runs a CIE's initial instructions (no rows; location
 * advances are parsed and ignored). One interpreter serves every FDE of a section: closures and
 * state objects made per FDE were a large part of compiling node's table (76k FDEs).
 */
export class Interpreter {
  private readonly state = initialState();
  private readonly stack: RuleState[] = [];
  private readonly mapped: [number, number] = [0, 0];
  private sink: RowSink | undefined;
  private cie!: Cie;
  private first = 0;
  private loc = 0;
  private pcEnd = 0;

  constructor(
    private readonly r: CfiReader,
    private readonly bases: PointerBases,
  ) {}

  /** The rules after a CIE's initial instructions. */
  initialRules(cie: Cie, start: number, end: number): RuleState {
    assign(this.state, UNSET_STATE);
    this.sink = undefined;
    this.execute(cie, start, end);
    return copy(this.state);
  }

  /** Emits the rows of an FDE; returns how many. */
  rows(cie: Cie, start: number, end: number, pcBegin: number, pcEnd: number, sink: RowSink): number {
    assign(this.state, cie.initial);
    this.sink = sink;
    this.first = sink.length;
    this.loc = pcBegin;
    this.pcEnd = pcEnd;
    if (this.execute(cie, start, end)) this.emit();
    return sink.length - this.first;
  }

  private emit(): void {
    const sink = this.sink!;
    const loc = this.loc;
    if (loc >= this.pcEnd) return;
    const mapped = this.mapped;
    mapRow(this.state, this.cie, mapped);
    const n = sink.length;
    const first = this.first;
    if (n > first && sink.cfaOffset[n - 1] === mapped[0] && sink.rules[n - 1] === mapped[1]) return;
    if (n > first && sink.pc[n - 1] === loc) {
      // Two rows at one address (an advance of 0): the later rules hold there.
      sink.cfaOffset[n - 1] = mapped[0];
      sink.rules[n - 1] = mapped[1];
      if (n - 1 > first && sink.cfaOffset[n - 2] === mapped[0] && sink.rules[n - 2] === mapped[1]) sink.length--;
      return;
    }
    sink.push(loc, mapped[0], mapped[1]);
  }

  /** Returns false once the location is past the FDE: later instructions cannot matter. */
  private advanceTo(next: number): boolean {
    if (!this.sink) return true;
    if (next < this.loc) this.r.fail('DW_CFA_set_loc moves backwards');
    if (next > this.loc) {
      this.emit();
      this.loc = next;
    }
    return this.loc < this.pcEnd;
  }

  private setRule(reg: number, kind: Reg, offset: number): void {
    const state = this.state;
    if (reg === RBP) {
      state.rbp = kind;
      state.rbpOffset = offset;
    } else if (reg === this.cie.raColumn) {
      state.ra = kind;
      state.raOffset = offset;
    }
  }

  private restore(reg: number): void {
    const from = this.sink ? this.cie.initial : UNSET_STATE;
    if (reg === RBP) this.setRule(reg, from.rbp, from.rbpOffset);
    else if (reg === this.cie.raColumn) this.setRule(reg, from.ra, from.raOffset);
  }

  /** Runs [start, end); false when it stopped early because the location left the FDE. */
  private execute(cie: Cie, start: number, end: number): boolean {
    const r = this.r;
    const state = this.state;
    const stack = this.stack;
    stack.length = 0;
    this.cie = cie;
    r.pos = start;
    r.limit = end;
    const daf = cie.dataAlign;
    const caf = cie.codeAlign;
    while (r.pos < end) {
      const at = r.pos;
      const op = r.u8();
      const low = op & 0x3f;
      switch (op >> 6) {
        case 1:
          if (!this.advanceTo(this.loc + low * caf)) return false;
          continue;
        case 2:
          this.setRule(low, Reg.OFFSET, r.uleb() * daf);
          continue;
        case 3:
          this.restore(low);
          continue;
      }
      let more = true;
      switch (op) {
        case 0x00: break; // nop
        case 0x01: more = this.advanceTo(r.pointer(cie.fdeEncoding, this.bases)); break;
        case 0x02: more = this.advanceTo(this.loc + r.u8() * caf); break;
        case 0x03: more = this.advanceTo(this.loc + r.u16() * caf); break;
        case 0x04: more = this.advanceTo(this.loc + r.u32() * caf); break;
        case 0x1d: more = this.advanceTo(this.loc + r.u64() * caf); break; // DW_CFA_MIPS_advance_loc8
        case 0x05: { const reg = r.uleb(); this.setRule(reg, Reg.OFFSET, r.uleb() * daf); break; }
        case 0x11: { const reg = r.uleb(); this.setRule(reg, Reg.OFFSET, r.sleb() * daf); break; }
        case 0x2f: { const reg = r.uleb(); this.setRule(reg, Reg.OFFSET, -r.uleb() * daf); break; } // GNU_negative_offset_extended
        case 0x14: { const reg = r.uleb(); this.setRule(reg, Reg.VAL_OFFSET, r.uleb() * daf); break; }
        case 0x15: { const reg = r.uleb(); this.setRule(reg, Reg.VAL_OFFSET, r.sleb() * daf); break; }
        case 0x06: this.restore(r.uleb()); break;
        case 0x07: this.setRule(r.uleb(), Reg.UNDEFINED, 0); break;
        case 0x08: this.setRule(r.uleb(), Reg.SAME, 0); break;
        case 0x09: { const reg = r.uleb(); this.setRule(reg, Reg.REGISTER, r.uleb()); break; }
        case 0x0a: stack.push(copy(state)); break;
        case 0x0b: {
          const saved = stack.pop();
          if (!saved) return r.fail('DW_CFA_restore_state without DW_CFA_remember_state', at);
          assign(state, saved);
          break;
        }
        case 0x0c: state.cfa = Cfa.REGISTER; state.cfaRegister = r.uleb(); state.cfaOffset = r.uleb(); break;
        case 0x12: state.cfa = Cfa.REGISTER; state.cfaRegister = r.uleb(); state.cfaOffset = r.sleb() * daf; break;
        case 0x0d: state.cfa = Cfa.REGISTER; state.cfaRegister = r.uleb(); break;
        case 0x0e: state.cfa = Cfa.REGISTER; state.cfaOffset = r.uleb(); break;
        case 0x13: state.cfa = Cfa.REGISTER; state.cfaOffset = r.sleb() * daf; break;
        case 0x0f: {
          const length = r.uleb();
          const expression = r.pos;
          r.skip(length);
          const plt = pltThreshold(r.bytes, expression, length);
          state.cfa = plt === undefined ? Cfa.EXPRESSION : Cfa.PLT;
          state.plt = plt ?? 0;
          break;
        }
        case 0x10: case 0x16: {
          const reg = r.uleb();
          r.skip(r.uleb());
          this.setRule(reg, op === 0x10 ? Reg.EXPRESSION : Reg.VAL_EXPRESSION, 0);
          break;
        }
        case 0x2e: r.uleb(); break; // GNU_args_size: stack adjustment for landing pads, no effect on rules
        case 0x2d: break; // GNU_window_save (SPARC; AArch64 negate_ra_state): no x86-64 rule
        default: r.fail(`unknown call frame instruction 0x${op.toString(16)}`, at);
      }
      if (!more) return false;
    }
    return true;
  }
}
