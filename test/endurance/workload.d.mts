// Types of workload.mjs (plain JS so that the benchmark can import it without a TypeScript loader).
export declare const SHORT_COMM: string;
export declare function buildShortLived(): string;
export declare function startForkLoops(binary: string, count: number, ms?: number): { stop(): Promise<number> };
export interface RssSample {
  readonly ms: number;
  readonly kb: number;
}
export declare function rssSampler(pid: number, intervalMs?: number): {
  readonly samples: RssSample[];
  mark(name: string): void;
  before(name: string): RssSample[];
  peakKb(): number;
  stop(): void;
};
export declare function dropsOf(counters: Readonly<Record<string, number>>): number;
export interface CommSummary {
  samples: number;
  own: number;
  named: number;
}
export declare function summarizeFolded(text: string): { byComm: Map<string, CommSummary>; total: number };
