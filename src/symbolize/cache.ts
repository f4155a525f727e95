/**
 * On-disk cache of resolved addresses, one file per build-id (`<dir>/v1/<build-id>.json`), so a
 * second run over the same binaries skips symbol tables and DWARF for every address seen before.
 * A build-id names exact bytes, so entries never go stale — except when debug info appears later
 * (a -dbgsym package installed): each file records whether DWARF was used, and a file written
 * without it is ignored once DWARF is there. Unreadable, corrupt or other-version files are
 * ignored and rewritten.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SymbolHost } from './source.js';

/** One frame: name (undefined when unnamed), file, line; root first, inlined calls after. */
export type CachedFrame = readonly [name: string | null, file: string | null, line: number];

const FORMAT = 'profile-symbol-cache';
const VERSION = 1;

export function defaultCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'profile');
}

interface Entry {
  readonly withDwarf: boolean;
  readonly addresses: Map<number, readonly CachedFrame[]>;
  dirty: boolean;
}

export class SymbolCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly directory: string | undefined,
    private readonly host: SymbolHost,
  ) {}

  private path(buildId: string): string {
    return join(this.directory!, `v${VERSION}`, `${buildId}.json`);
  }

  private entry(buildId: string, withDwarf: boolean): Entry {
    let entry = this.entries.get(buildId);
    if (!entry) {
      entry = { withDwarf, addresses: new Map(), dirty: false };
      if (this.directory !== undefined) {
        try {
          const bytes = this.host.readFile(this.path(buildId));
          const data = bytes && (JSON.parse(bytes.toString('utf8')) as { format?: string; version?: number; buildId?: string; withDwarf?: boolean; addresses?: Record<string, CachedFrame[]> });
          if (data && data.format === FORMAT && data.version === VERSION && data.buildId === buildId && data.withDwarf === withDwarf && data.addresses) {
            for (const [key, frames] of Object.entries(data.addresses)) if (Array.isArray(frames)) entry.addresses.set(parseInt(key, 16), frames);
          }
        } catch {
          // corrupt: ignored, rewritten at the end of the run
        }
      }
      this.entries.set(buildId, entry);
    }
    return entry;
  }

  get(buildId: string, withDwarf: boolean, vaddr: number): readonly CachedFrame[] | undefined {
    return this.entry(buildId, withDwarf).addresses.get(vaddr);
  }

  set(buildId: string, withDwarf: boolean, vaddr: number, frames: readonly CachedFrame[]): void {
    const entry = this.entry(buildId, withDwarf);
    entry.addresses.set(vaddr, frames);
    entry.dirty = true;
  }

  /** Writes every build-id that gained addresses; failures only cost the next run its speed. */
  flush(): void {
    if (this.directory === undefined) return;
    for (const [buildId, entry] of this.entries) {
      if (!entry.dirty) continue;
      const addresses: Record<string, readonly CachedFrame[]> = {};
      for (const [vaddr, frames] of entry.addresses) addresses[vaddr.toString(16)] = frames;
      try {
        this.host.writeFileAtomic(this.path(buildId), JSON.stringify({ format: FORMAT, version: VERSION, buildId, withDwarf: entry.withDwarf, addresses }));
        entry.dirty = false;
      } catch {
        // read-only or full cache directory
      }
    }
  }
}
