/**
 * What could not be named, per module: how many samples had a frame there without a symbol, and
 * how many ran through it without debug information (no file:line, no inlined frames), with the
 * Debian package that would fix it. Carried in the profile's metadata and printed by `record`.
 */

export interface ModuleGap {
  readonly module: string;
  /** The path mapped, when the module is a file. */
  readonly path?: string;
  /** Samples with at least one frame in this module that kept only module+offset. */
  readonly unnamedSamples: number;
  /** Samples through this module while it had no DWARF (so no file:line and no inlined frames). */
  readonly samplesWithoutDebugInfo: number;
  /** The package owning the file (`dpkg -S`). */
  readonly package?: string;
  /** What to install: `libc6-dbg`, `<pkg>-dbgsym` (from the debug archive), … */
  readonly fix?: string;
}

export interface SymbolizeReport {
  /** Modules with gaps, most samples first. */
  readonly modules: readonly ModuleGap[];
  /** Total weight of the samples symbolized. */
  readonly samples: number;
  /** One warning per file or server (unreadable, corrupt, refused debug file, debuginfod failure). */
  readonly warnings: readonly string[];
}

/** One module's gap counts; symbolized addresses point at it, so counting a sample allocates nothing. */
export class Gap {
  unnamed = 0;
  noDebug = 0;
  /** The last sample counted, so a module is counted once per sample. */
  lastUnnamed = -1;
  lastNoDebug = -1;
  constructor(
    readonly module: string,
    readonly path: string | undefined,
  ) {}
}

/** Debian's debug packages for a few packages whose name does not follow `<pkg>-dbgsym`. */
const DEBUG_PACKAGES: Readonly<Record<string, string>> = { libc6: 'libc6-dbg', 'libc6-i386': 'libc6-dbg', 'libc6-amd64': 'libc6-dbg' };

export function debugPackageFor(pkg: string): string {
  return DEBUG_PACKAGES[pkg] ?? `${pkg}-dbgsym`;
}

export interface PackageLookup {
  readonly packageOf: (paths: readonly string[]) => ReadonlyMap<string, string> | Promise<ReadonlyMap<string, string>>;
  /** Keeps answers between runs (by the package database's stamp). */
  readonly load?: () => Record<string, string> | undefined;
  readonly save?: (owners: Record<string, string>) => void;
}

export class GapCounter {
  private readonly gaps = new Map<string, Gap>();
  private total = 0;
  private sample = 0;

  /** `onFirst`: a module's first gap, e.g. to start the package look-up while symbolization goes on. */
  constructor(private readonly onFirst?: (gap: Gap) => void) {}

  gap(module: string, path: string | undefined): Gap {
    let gap = this.gaps.get(module);
    if (!gap) {
      gap = new Gap(module, path);
      this.gaps.set(module, gap);
    }
    return gap;
  }

  /** Starts the next sample. */
  begin(weight: number): void {
    this.total += weight;
    this.sample++;
  }

  /** One frame of the current sample in `gap`'s module (each module counted once per sample). */
  count(gap: Gap, unnamed: boolean, noDebug: boolean, weight: number): void {
    if (gap.unnamed === 0 && gap.noDebug === 0 && this.onFirst) this.onFirst(gap);
    if (unnamed && gap.lastUnnamed !== this.sample) {
      gap.lastUnnamed = this.sample;
      gap.unnamed += weight;
    }
    if (noDebug && gap.lastNoDebug !== this.sample) {
      gap.lastNoDebug = this.sample;
      gap.noDebug += weight;
    }
  }

  /**
   * The report. Packages are asked only for modules with unnamed frames and for those shown
   * (the first `shown`), in one `dpkg -S`, with answers kept between runs.
   */
  async finish(lookup: PackageLookup, warnings: readonly string[], shown = REPORT_LIMIT): Promise<SymbolizeReport> {
    const gaps = [...this.gaps.values()]
      .filter((g) => g.unnamed > 0 || g.noDebug > 0)
      .sort((a, b) => b.unnamed + b.noDebug - (a.unnamed + a.noDebug) || a.module.localeCompare(b.module));
    const asked = gaps.filter((g, i) => g.path !== undefined && (g.unnamed > 0 || i < shown)).map((g) => g.path!);
    const other = otherUsrPath;
    const kept: Record<string, string> = (asked.length > 0 ? lookup.load?.() : undefined) ?? {};
    const missing = [...new Set(asked.flatMap((p) => [p, other(p)]))].filter((p) => kept[p] === undefined);
    if (missing.length > 0) {
      try {
        const owners = await lookup.packageOf(missing);
        // '' marks a path no package owns, so it is not asked again either.
        for (const p of missing) kept[p] = owners.get(p) ?? '';
        lookup.save?.(kept);
      } catch {
        // no dpkg: no advice
      }
    }
    const modules: ModuleGap[] = gaps.map((gap) => {
      const path = gap.path;
      const pkg = path === undefined ? undefined : kept[path] || kept[other(path)] || undefined;
      return {
        module: gap.module,
        path,
        unnamedSamples: gap.unnamed,
        samplesWithoutDebugInfo: gap.noDebug,
        package: pkg,
        fix: pkg === undefined ? undefined : debugPackageFor(pkg),
      };
    });
    return { modules, samples: this.total, warnings };
  }
}

const REPORT_LIMIT = 10;

/** Merged /usr: dpkg knows a file under /bin or /lib or under /usr/…, not always both. */
export function otherUsrPath(p: string): string {
  return /^\/usr\/(bin|sbin|lib)/.test(p) ? p.slice(4) : /^\/(bin|sbin|lib)/.test(p) ? `/usr${p}` : p;
}

/** One line per module, for stderr and the run's notes. */
export function reportLines(report: SymbolizeReport, limit = REPORT_LIMIT): string[] {
  const lines: string[] = [];
  const pct = (n: number): string => (report.samples > 0 ? `${((100 * n) / report.samples).toFixed(1)}%` : `${n}`);
  for (const gap of report.modules.slice(0, limit)) {
    const parts: string[] = [];
    const samples = (n: number): string => `${n} sample${n === 1 ? '' : 's'} (${pct(n)})`;
    if (gap.unnamedSamples > 0) parts.push(`${samples(gap.unnamedSamples)} without symbols`);
    if (gap.samplesWithoutDebugInfo > 0) parts.push(`${gap.unnamedSamples > 0 ? `${gap.samplesWithoutDebugInfo} (${pct(gap.samplesWithoutDebugInfo)})` : samples(gap.samplesWithoutDebugInfo)} without debug info`);
    const fix = gap.fix ? `; install ${gap.fix}` : gap.module === '[anon]' ? ' (JIT code without a perf map: e.g. node --perf-basic-prof)' : '';
    lines.push(`${gap.module}: ${parts.join(', ')}${fix}`);
  }
  if (report.modules.length > limit) lines.push(`… and ${report.modules.length - limit} more modules`);
  return lines;
}
