/**
 * The on-disk frame tables of a run, one per build-id (src/symbolize/cache.ts has the format),
 * and the other files kept beside them (the kernel's symbols): read on first use, written back
 * when they gained addresses.
 */
import { join } from 'node:path';
import { FrameTable, VERSION } from './cache.js';
import type { SymbolHost } from './source.js';

/** The suffix of a table's file of additions. */
const ADDED = '.add';
/** Additions are written on their own while they are at most 1/ADDED_SHARE of the table's file. */
const ADDED_SHARE = 8;

export class SymbolCache {
  private readonly tables = new Map<string, FrameTable>();

  constructor(
    private readonly directory: string | undefined,
    private readonly host: SymbolHost,
  ) {}

  private path(buildId: string, suffix = ''): string {
    return join(this.directory!, `v${VERSION}`, `${buildId}${suffix}.bin`);
  }

  /**
   * The table of a build-id, read from disk on first use (empty when there is none): its file,
   * and the file of what runs added since (`<build-id>.add.bin`).
   */
  table(buildId: string, withDwarf: boolean): FrameTable {
    let table = this.tables.get(buildId);
    if (!table || table.withDwarf !== withDwarf) {
      table?.close();
      table = this.open(buildId, '', withDwarf) ?? new FrameTable(withDwarf);
      const additions = this.open(buildId, ADDED, withDwarf);
      if (additions) {
        table.adopt(additions);
        additions.close();
      }
      this.tables.set(buildId, table);
    }
    return table;
  }

  /** A table file, or undefined when there is none or it is not valid (rewritten at the end of the run). */
  private open(buildId: string, suffix: string, withDwarf: boolean): FrameTable | undefined {
    if (this.directory === undefined || !/^[0-9a-f]+$/.test(buildId)) return undefined;
    const source = this.host.openFile(this.path(buildId, suffix));
    if (!source) return undefined;
    const table = new FrameTable(withDwarf);
    try {
      if (table.open(source, buildId)) return table;
    } catch {
      // corrupt
    }
    source.close();
    return undefined;
  }

  /** Another cached file of this version (`kernel-<build-id>.bin`), or undefined. */
  readFile(name: string): Buffer | undefined {
    if (this.directory === undefined || !/^[0-9a-z.-]+$/.test(name)) return undefined;
    return this.host.readFile(join(this.directory, `v${VERSION}`, name));
  }

  /** Keeps `bytes` under `name` for the next run; false when there is no (writable) cache. */
  writeFile(name: string, bytes: Uint8Array): boolean {
    if (this.directory === undefined || !/^[0-9a-z.-]+$/.test(name)) return false;
    try {
      this.host.writeFileAtomic(join(this.directory, `v${VERSION}`, name), bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes every build-id that gained addresses; failures only cost the next run its speed. */
  flush(): void {
    for (const [buildId, table] of this.tables) this.write(buildId, table);
  }

  /** Writes what gained addresses and closes every table's file. */
  close(): void {
    this.flush();
    for (const table of this.tables.values()) table.close();
    this.tables.clear();
  }

  /** Writes a build-id's table if it gained addresses, and drops it from memory (its binary is gone). */
  forget(buildId: string): void {
    const table = this.tables.get(buildId);
    if (!table) return;
    this.write(buildId, table);
    table.close();
    this.tables.delete(buildId);
  }

  /** Tables held in memory. */
  get size(): number {
    return this.tables.size;
  }

  /**
   * Writes what a table gained. While the additions are few beside what its file holds, only they
   * are written, to a file of their own: rewriting node's 20 MB file to add a few hundred
   * addresses was most of the cache's cost at the end of a run. Past an eighth, the whole table
   * is written and the additions' file emptied.
   */
  private write(buildId: string, table: FrameTable): void {
    if (this.directory === undefined || !table.dirty || !/^[0-9a-f]+$/.test(buildId)) return;
    try {
      if (table.baseCount > 0 && table.addedCount * ADDED_SHARE <= table.baseCount) {
        this.host.writeFileAtomic(this.path(buildId, ADDED), table.serializeAdded(buildId));
      } else {
        this.host.writeFileAtomic(this.path(buildId), table.serialize(buildId));
        this.host.writeFileAtomic(this.path(buildId, ADDED), new FrameTable(table.withDwarf).serialize(buildId));
      }
      table.dirty = false;
    } catch {
      // read-only or full cache directory
    }
  }
}
