/**
 * The on-disk frame tables of a run, one per build-id (src/symbolize/cache.ts has the format),
 * and the other files kept beside them (the kernel's symbols): read on first use, written back
 * when they gained addresses.
 */
import { join } from 'node:path';
import { FrameTable, VERSION } from './cache.js';
import type { SymbolHost } from './source.js';

export class SymbolCache {
  private readonly tables = new Map<string, FrameTable>();

  constructor(
    private readonly directory: string | undefined,
    private readonly host: SymbolHost,
  ) {}

  private path(buildId: string): string {
    return join(this.directory!, `v${VERSION}`, `${buildId}.bin`);
  }

  /** The table of a build-id, read from disk on first use (empty when there is none). */
  table(buildId: string, withDwarf: boolean): FrameTable {
    let table = this.tables.get(buildId);
    if (!table || table.withDwarf !== withDwarf) {
      table?.close();
      table = new FrameTable(withDwarf);
      const source = this.directory !== undefined && /^[0-9a-f]+$/.test(buildId) ? this.host.openFile(this.path(buildId)) : undefined;
      let opened = false;
      try {
        opened = source !== undefined && table.open(source, buildId);
      } catch {
        // corrupt: rewritten at the end of the run
      }
      if (!opened) {
        source?.close();
        table = new FrameTable(withDwarf);
      }
      this.tables.set(buildId, table);
    }
    return table;
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

  private write(buildId: string, table: FrameTable): void {
    if (this.directory === undefined || !table.dirty || !/^[0-9a-f]+$/.test(buildId)) return;
    try {
      this.host.writeFileAtomic(this.path(buildId), table.serialize(buildId));
      table.dirty = false;
    } catch {
      // read-only or full cache directory
    }
  }
}
