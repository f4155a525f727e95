/** How `profile collapse` reads perf script output; the defaults are stackcollapse-perf.pl's. */
export interface PerfOptions {
  /** Weight a sample by the period perf printed (`period`, as stackcollapse-perf.pl does) or count it once (`samples`). Default `period`. */
  readonly weight: 'period' | 'samples';
  /** Keep only samples of this event; empty means the first event seen (summing cycles with instructions misleads). Default ''. */
  readonly eventFilter: string;
  /** Keep the address in frames perf could not name: `[libc.so.6 <7f12ab>]` (`--addrs`). Default false. */
  readonly addrs: boolean;
  /** Drop the `L` of Java class names in processes whose comm starts with `java`. Default true. */
  readonly tidyJava: boolean;
  /** Drop argument lists, quotes, and `;` from names, as stackcollapse-perf.pl does. Default true. */
  readonly tidyGeneric: boolean;
}

export const PERF_DEFAULTS: PerfOptions = Object.freeze({
  weight: 'period',
  eventFilter: '',
  addrs: false,
  tidyJava: true,
  tidyGeneric: true,
});
