/**
 * Which Debian package owns each file with a gap in naming, so the report can say what to install
 * (`libc6-dbg`, `<pkg>-dbgsym`). `dpkg -S` takes 0.1–0.3 s a run: the first modules with a gap are
 * asked at once, in the background, and the answers are kept in the cache directory by the
 * package database's stamp.
 */
import { otherUsrPath, type Gap, type PackageLookup } from './report.js';
import type { SymbolHost } from './source.js';

export class PackageOwners {
  /** Package owners asked of the host, by path (in flight or answered). */
  private readonly owners = new Map<string, Promise<string | undefined>>();
  private keptOwners: Record<string, string> | undefined | null = null;

  constructor(
    private readonly host: SymbolHost,
    private readonly cacheDirectory: string | undefined,
  ) {}

  /**
   * The first modules with a gap have their packages looked up at once, in the background: the
   * answers are usually there when the report is made.
   */
  prefetch(gap: Gap): void {
    // A few at once (each is a dpkg run); modules found later are asked together at the end.
    if (gap.path === undefined || this.owners.size >= 8) return;
    const lookup = this.lookup();
    if (this.keptOwners === null) this.keptOwners = lookup.load?.();
    if (this.keptOwners?.[gap.path] !== undefined) return;
    void this.ask([gap.path, otherUsrPath(gap.path)]);
  }

  /** One `packageOf` for the paths not asked yet; paths in flight are shared. */
  private ask(paths: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const fresh = [...new Set(paths)].filter((p) => !this.owners.has(p));
    if (fresh.length > 0) {
      const answer = (async () => {
        try {
          return await this.host.packageOf(fresh);
        } catch {
          return new Map<string, string>();
        }
      })();
      for (const p of fresh) this.owners.set(p, answer.then((owners) => owners.get(p)));
    }
    return Promise.all(paths.map(async (p): Promise<[string, string | undefined]> => [p, await this.owners.get(p)])).then(
      (entries) => new Map(entries.filter((e): e is [string, string] => e[1] !== undefined)),
    );
  }

  lookup(): PackageLookup {
    const host = this.host;
    const directory = this.cacheDirectory;
    const stamp = directory === undefined ? undefined : host.packageDatabaseStamp?.();
    const path = directory === undefined ? '' : `${directory}/packages.json`;
    return {
      packageOf: (paths) => this.ask(paths),
      load: () => {
        if (this.keptOwners !== null) return this.keptOwners ? { ...this.keptOwners } : undefined;
        if (stamp === undefined) return undefined;
        try {
          const data = JSON.parse(host.readFile(path)?.toString('utf8') ?? 'null') as { stamp?: string; owners?: Record<string, string> } | null;
          return data?.stamp === stamp && data.owners && typeof data.owners === 'object' ? { ...data.owners } : undefined;
        } catch {
          return undefined;
        }
      },
      save: (owners) => {
        if (stamp === undefined) return;
        try {
          host.writeFileAtomic(path, JSON.stringify({ stamp, owners }));
        } catch {
          // read-only cache: asked again next time
        }
      },
    };
  }
}
