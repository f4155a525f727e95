/**
 * The oracle for the unwind compiler: `readelf --debug-dump=frames-interp` (readelf -wF), parsed
 * (only the file's own sections: readelf would also print those of a separate debug file),
 * and each of its rows mapped to the rule the walker's contract demands (docs/unwinding.md).
 * Compared row by row with a compiled table by `compareWithReadelf`.
 */
import { execFileSync } from 'node:child_process';
import { CfaRule, RbpRule, decodeRow, describeRow, findRow, type Row, type UnwindTable } from '../../src/unwind/index.js';

export interface ReadelfRow {
  readonly loc: number;
  readonly cfa: string;
  readonly rbp: string | undefined;
  readonly ra: string | undefined;
}

export interface ReadelfFde {
  readonly offset: number;
  readonly cie: number;
  readonly begin: number;
  readonly end: number;
  readonly rows: ReadelfRow[];
}

export interface ReadelfFrames {
  readonly cies: Map<number, { readonly augmentation: string; readonly rows: ReadelfRow[] }>;
  readonly fdes: ReadelfFde[];
}

/** The entries of one section (`.eh_frame` or `.debug_frame`) of `readelf -wF path`. */
export function readelfFrames(path: string, section: '.eh_frame' | '.debug_frame'): ReadelfFrames {
  const text = execFileSync('readelf', ['--debug-dump=no-follow-links', '--debug-dump=frames-interp', path], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const cies: ReadelfFrames['cies'] = new Map();
  const fdes: ReadelfFde[] = [];
  let inSection = false;
  let columns: string[] = [];
  let rows: ReadelfRow[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('Contents of the ')) {
      inSection = line.startsWith(`Contents of the ${section} section`);
      rows = undefined;
      continue;
    }
    if (!inSection) continue;
    let m = /^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE "([^"]*)"/.exec(line);
    if (m) {
      rows = [];
      cies.set(parseInt(m[1]!, 16), { augmentation: m[2]!, rows });
      continue;
    }
    m = /^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (m) {
      rows = [];
      fdes.push({ offset: parseInt(m[1]!, 16), cie: parseInt(m[2]!, 16), begin: parseInt(m[3]!, 16), end: parseInt(m[4]!, 16), rows });
      continue;
    }
    if (!rows) continue;
    if (line.startsWith('   LOC')) {
      columns = line.trim().split(/\s+/);
      continue;
    }
    if (line.includes('ZERO terminator')) {
      rows = undefined;
      continue;
    }
    m = /^([0-9a-f]{16}) (.*)$/.exec(line);
    if (m) {
      // A register rule prints as `r10 (r10)`: the name in parentheses belongs to the value before it.
      const values: string[] = [];
      for (const token of m[2]!.trim().split(/\s+/)) {
        if (token.startsWith('(') && values.length > 0) values[values.length - 1] += ` ${token}`;
        else values.push(token);
      }
      const get = (name: string): string | undefined => {
        const i = columns.indexOf(name);
        return i < 1 ? undefined : values[i - 1];
      };
      rows.push({ loc: parseInt(m[1]!, 16), cfa: get('CFA')!, rbp: get('rbp'), ra: get('ra') });
    }
  }
  return { cies, fdes };
}

/** The contract's rules for one readelf row. `exp` CFAs may be PLT or INVALID: `expression` says which are acceptable. */
export function expectedRules(row: ReadelfRow, signal: boolean): { cfa: number[]; cfaOffset?: number; rbp?: number; rbpOffset?: number } {
  if (signal) return { cfa: [CfaRule.SIGNAL] };
  if (row.ra === 'u') return { cfa: [CfaRule.END] };
  if (row.ra !== 'c-8') return { cfa: [CfaRule.INVALID] };
  const m = /^(rsp|rbp)([+-]\d+)$/.exec(row.cfa);
  let cfa: number[];
  let cfaOffset: number | undefined;
  if (m) {
    cfa = [m[1] === 'rsp' ? CfaRule.RSP : CfaRule.RBP];
    cfaOffset = Number(m[2]);
  } else if (row.cfa === 'exp') cfa = [CfaRule.PLT, CfaRule.INVALID];
  else return { cfa: [CfaRule.INVALID] };
  const rbp = row.rbp;
  if (rbp === undefined || rbp === 'u' || rbp === 's') return { cfa, cfaOffset, rbp: RbpRule.SAME, rbpOffset: 0 };
  const c = /^c([+-]\d+)$/.exec(rbp);
  if (c && Math.abs(Number(c[1])) <= 0x7fff) return { cfa, cfaOffset, rbp: RbpRule.OFFSET, rbpOffset: Number(c[1]) };
  return { cfa, cfaOffset, rbp: RbpRule.INVALID, rbpOffset: 0 };
}

export interface Comparison {
  readonly fdes: number;
  readonly rows: number;
  /** FDEs left out: overlapping another, or dropped by the compiler by design (start 0, past 2^32, empty). */
  readonly skipped: number;
  readonly mismatches: string[];
  /** How many compared rows had each rule. */
  readonly rules: Map<string, number>;
}

/** Every row of every (or every `sample`-th) FDE readelf shows must match the table at its address. */
export function compareWithReadelf(table: UnwindTable, frames: ReadelfFrames, options: { sampleEvery?: number } = {}): Comparison {
  const sorted = [...frames.fdes].filter((f) => f.begin > 0 && f.end > f.begin && f.end <= 2 ** 32).sort((a, b) => a.begin - b.begin);
  const overlapping = new Set<ReadelfFde>();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end) {
      overlapping.add(sorted[i]!);
      overlapping.add(sorted[i - 1]!);
    }
  }
  const begins = new Set(sorted.map((f) => f.begin));
  const mismatches: string[] = [];
  const rules = new Map<string, number>();
  let fdes = 0;
  let rowCount = 0;
  const every = options.sampleEvery ?? 1;
  sorted.forEach((fde, index) => {
    if (overlapping.has(fde) || index % every !== 0) return;
    fdes++;
    const cie = frames.cies.get(fde.cie);
    if (!cie) return void mismatches.push(`FDE 0x${fde.offset.toString(16)}: readelf shows no CIE 0x${fde.cie.toString(16)}`);
    // readelf prints no rows for an FDE without instructions: the CIE's row holds for all of it.
    const shown = fde.rows.length > 0 ? fde.rows : cie.rows.map((r) => ({ ...r, loc: fde.begin }));
    const byLoc = new Map<number, ReadelfRow>();
    for (const r of shown) if (r.loc >= fde.begin && r.loc < fde.end) byLoc.set(r.loc, r);
    const signal = cie.augmentation.includes('S');
    for (const r of byLoc.values()) {
      rowCount++;
      const at = findRow(table, r.loc);
      const ours: Row | undefined = at >= 0 ? decodeRow(table, at) : undefined;
      const want = expectedRules(r, signal);
      const where = `FDE 0x${fde.offset.toString(16)} pc 0x${r.loc.toString(16)} (readelf ${r.cfa} rbp=${r.rbp ?? '-'} ra=${r.ra ?? '-'})`;
      if (!ours) {
        mismatches.push(`${where}: no row`);
        continue;
      }
      const kind = describeRow(ours).replace(/[-+]?\d+/g, 'N');
      rules.set(kind, (rules.get(kind) ?? 0) + 1);
      const bad =
        !want.cfa.includes(ours.cfaRule) ||
        (want.cfaOffset !== undefined && ours.cfaRule !== CfaRule.PLT && ours.cfaRule !== CfaRule.INVALID && ours.cfaOffset !== want.cfaOffset) ||
        (want.rbp !== undefined && ours.cfaRule !== CfaRule.INVALID && (ours.rbpRule !== want.rbp || ours.rbpOffset !== want.rbpOffset));
      if (bad || (ours.cfaRule === CfaRule.PLT && ours.cfaOffset !== 10 && ours.cfaOffset !== 11)) mismatches.push(`${where}: ours ${describeRow(ours)}`);
    }
    // Merging only removes rows: every row of ours inside the FDE starts where readelf has one.
    let i = findRow(table, fde.begin);
    for (; i >= 0 && i < table.rowCount; i++) {
      const row = decodeRow(table, i);
      if (row.pc >= fde.end) break;
      if (row.pc >= fde.begin && !byLoc.has(row.pc)) mismatches.push(`FDE 0x${fde.offset.toString(16)}: our row at 0x${row.pc.toString(16)} is at no readelf row`);
    }
    // Where no FDE follows at once, a NONE row starts at the end (else the next FDE's rows are checked).
    if (!begins.has(fde.end)) {
      const after = findRow(table, fde.end);
      const row = after >= 0 ? decodeRow(table, after) : undefined;
      if (!row || row.pc !== fde.end || row.cfaRule !== CfaRule.NONE) mismatches.push(`FDE 0x${fde.offset.toString(16)}: no NONE row at its end 0x${fde.end.toString(16)}`);
    }
  });
  return { fdes, rows: rowCount, skipped: frames.fdes.length - sorted.length + overlapping.size, mismatches, rules };
}
