import { printable } from '../errors.js';
import { formatCount } from '../profile/folded.js';
import type { FunctionChange } from './changes.js';

export interface ChangeSummary {
  readonly beforeTotal: number;
  readonly afterTotal: number;
  readonly normalize: boolean;
  readonly unit: string;
}

const signed = (value: number, digits: number): string => {
  const text = value.toFixed(digits);
  // -0.00 says "shrank" about something that did not change.
  if (Number(text) === 0) return (0).toFixed(digits);
  return value > 0 ? `+${text}` : text;
};

const count = (value: number): string => formatCount(Math.round(value * 100) / 100);

/**
 * The terminal table of the biggest changes. Names come from the profiled system: every control,
 * line-separator and bidi character is shown escaped, so a symbol cannot move the cursor or
 * recolour the terminal.
 */
export function formatChangesTable(rows: readonly FunctionChange[], summary: ChangeSummary): string {
  const header = [
    `BEFORE ${count(summary.beforeTotal)} ${summary.unit}, AFTER ${count(summary.afterTotal)} ${summary.unit}` +
      (summary.normalize ? '; sample changes with BEFORE scaled to AFTER\'s total' : '; raw sample changes (not normalised)'),
  ];
  const table: string[][] = [['self pts', 'total pts', `self ${summary.unit}`, `total ${summary.unit}`, 'before self/total', 'after self/total', 'function']];
  for (const r of rows) {
    table.push([
      signed(r.selfPoints, 2),
      signed(r.totalPoints, 2),
      signed(r.selfDelta, r.selfDelta % 1 === 0 ? 0 : 1),
      signed(r.totalDelta, r.totalDelta % 1 === 0 ? 0 : 1),
      `${count(r.before.self)}/${count(r.before.total)}`,
      `${count(r.after.self)}/${count(r.after.total)}`,
      printable(r.name) + (r.kind === 'kernel' ? ' [k]' : ''),
    ]);
  }
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  const lines = table.map((row) =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padStart(widths[column]!))).join('  '),
  );
  if (rows.length === 0) lines.push('(no functions)');
  return [...header, ...lines].join('\n') + '\n';
}

/** The same rows for scripts: stable keys, raw numbers, names as they are (JSON escapes them). */
export function changesJson(rows: readonly FunctionChange[], summary: ChangeSummary): unknown {
  return {
    before: { total: summary.beforeTotal },
    after: { total: summary.afterTotal },
    normalized: summary.normalize,
    unit: summary.unit,
    functions: rows,
  };
}
