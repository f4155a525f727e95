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

/** Per-frame facts the report needs, kept with each resolved address. */
export interface FrameFacts {
  readonly module: string;
  readonly path?: string;
  readonly named: boolean;
  /** False for a named frame of a binary without DWARF. Kernel frames are always true. */
  readonly debugInfo: boolean;
}

/** Debian's debug packages for a few packages whose name does not follow `<pkg>-dbgsym`. */
const DEBUG_PACKAGES: Readonly<Record<string, string>> = { libc6: 'libc6-dbg', 'libc6-i386': 'libc6-dbg', 'libc6-amd64': 'libc6-dbg' };

export function debugPackageFor(pkg: string): string {
  return DEBUG_PACKAGES[pkg] ?? `${pkg}-dbgsym`;
}

export class GapCounter {
  private readonly gaps = new Map<string, { path?: string; unnamed: number; noDebug: number }>();
  private total = 0;

  /** One sample's frames (each module counted once per sample). */
  add(facts: readonly FrameFacts[], weight: number): void {
    this.total += weight;
    let unnamed: Set<string> | undefined;
    let noDebug: Set<string> | undefined;
    for (const f of facts) {
      if (f.named && f.debugInfo) continue;
      if (!f.named && !(unnamed ??= new Set()).has(f.module)) {
        unnamed.add(f.module);
        this.gap(f).unnamed += weight;
      }
      if (!f.debugInfo && !(noDebug ??= new Set()).has(f.module)) {
        noDebug.add(f.module);
        this.gap(f).noDebug += weight;
      }
    }
  }

  private gap(f: FrameFacts): { path?: string; unnamed: number; noDebug: number } {
    let gap = this.gaps.get(f.module);
    if (!gap) {
      gap = { path: f.path, unnamed: 0, noDebug: 0 };
      this.gaps.set(f.module, gap);
    }
    return gap;
  }

  finish(packageOf: (paths: readonly string[]) => ReadonlyMap<string, string>, warnings: readonly string[]): SymbolizeReport {
    const paths = [...this.gaps.values()].map((g) => g.path).filter((p): p is string => p !== undefined);
    // Merged /usr: dpkg knows a file under /bin or /lib or under /usr/…, not always both.
    const other = (p: string): string => (/^\/usr\/(bin|sbin|lib)/.test(p) ? p.slice(4) : /^\/(bin|sbin|lib)/.test(p) ? `/usr${p}` : p);
    const alternatives = paths.map(other);
    let owners: ReadonlyMap<string, string> = new Map();
    try {
      owners = paths.length > 0 ? packageOf([...new Set([...paths, ...alternatives])]) : owners;
    } catch {
      // no dpkg: no advice
    }
    const modules: ModuleGap[] = [];
    for (const [module, gap] of this.gaps) {
      const path = gap.path;
      const pkg = path === undefined ? undefined : (owners.get(path) ?? owners.get(other(path)));
      modules.push({
        module,
        path,
        unnamedSamples: gap.unnamed,
        samplesWithoutDebugInfo: gap.noDebug,
        package: pkg,
        fix: pkg === undefined ? undefined : debugPackageFor(pkg),
      });
    }
    modules.sort((a, b) => b.unnamedSamples + b.samplesWithoutDebugInfo - (a.unnamedSamples + a.samplesWithoutDebugInfo) || a.module.localeCompare(b.module));
    return { modules, samples: this.total, warnings };
  }
}

/** One line per module, for stderr and the run's notes. */
export function reportLines(report: SymbolizeReport, limit = 10): string[] {
  const lines: string[] = [];
  const pct = (n: number): string => (report.samples > 0 ? `${((100 * n) / report.samples).toFixed(1)}%` : `${n}`);
  for (const gap of report.modules.slice(0, limit)) {
    const parts: string[] = [];
    if (gap.unnamedSamples > 0) parts.push(`${gap.unnamedSamples} samples (${pct(gap.unnamedSamples)}) without symbols`);
    if (gap.samplesWithoutDebugInfo > 0) parts.push(`${gap.samplesWithoutDebugInfo} (${pct(gap.samplesWithoutDebugInfo)}) without debug info`);
    const fix = gap.fix ? `; install ${gap.fix}` : '';
    lines.push(`${gap.module}: ${parts.join(', ')}${fix}`);
  }
  if (report.modules.length > limit) lines.push(`… and ${report.modules.length - limit} more modules`);
  return lines;
}
