// Types of report.js (plain JS so that the benchmarks run without a TypeScript loader).

/** One measured row: what was measured, our figure, the peer's, their ratio, the target and whether it is met. */
export interface BenchRow {
  what: string;
  ours?: string;
  peer?: string;
  ratio?: string;
  target?: string;
  met?: boolean;
  /** Also in the README's table, under this label (true: under `what`). */
  readme?: string | boolean;
}

/** What a benchmark hands back. */
export interface BenchResult {
  title: string;
  rows: BenchRow[];
  notes?: string[];
}

/** When, where and how a benchmark ran. */
export interface BenchRun {
  name: string;
  date: string;
  commit: string;
  loadBefore: string;
  loadAfter: string;
  command: string;
}

export const RESULT_FILE_VARIABLE: string;
export const README_START: string;
export const README_END: string;
export function rowsTable(rows: BenchRow[]): string;
export function emit(result: BenchResult): void;
export function renderSection(run: BenchRun, result: BenchResult): string;
export function replaceBetween(text: string, begin: string, end: string, section: string): string;
export function replaceSection(text: string, name: string, section: string): string;
export function readmeBlock(results: Record<string, { run: BenchRun; result: BenchResult }>): string;
export function writeAtomic(path: string, text: string): void;
export function record(paths: { results: string; docs: string; readme?: string }, run: BenchRun, result: BenchResult): void;
