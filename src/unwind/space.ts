/**
 * Free space in one of the kernel's preallocated arrays (`unwind_rows`, `unwind_buckets`), as a
 * first-fit list of free blocks kept sorted by start, neighbours merged when a block is given back.
 * A host holds a few dozen binaries at once, so the list stays short and a linear scan is cheaper
 * than any tree; first fit keeps the low end of the array packed, so the large blocks a node or a
 * cc1 needs stay at the high end instead of being nibbled away by small libraries.
 */
interface Block {
  start: number;
  length: number;
}

export class ArraySpace {
  /** Free blocks, ascending by start, never touching each other (touching blocks are merged). */
  private readonly blocks: Block[];
  private freeTotal: number;

  constructor(readonly capacity: number) {
    this.blocks = capacity > 0 ? [{ start: 0, length: capacity }] : [];
    this.freeTotal = Math.max(0, capacity);
  }

  /** The first index of `length` consecutive free entries, now taken; undefined when no block is that long. */
  allocate(length: number): number | undefined {
    if (!(length > 0)) throw new RangeError(`cannot allocate ${length} entries`);
    for (let i = 0; i < this.blocks.length; i++) {
      const block = this.blocks[i]!;
      if (block.length < length) continue;
      const start = block.start;
      if (block.length === length) this.blocks.splice(i, 1);
      else {
        block.start += length;
        block.length -= length;
      }
      this.freeTotal -= length;
      return start;
    }
    return undefined;
  }

  /** Gives entries start .. start + length - 1 back; they must be taken (a double release is a bug, and throws). */
  release(start: number, length: number): void {
    const end = start + length;
    if (!(length > 0) || start < 0 || end > this.capacity) throw new RangeError(`cannot release ${start}+${length} of ${this.capacity}`);
    // The first free block starting after `start`.
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.blocks[mid]!.start <= start) lo = mid + 1;
      else hi = mid;
    }
    const before = lo > 0 ? this.blocks[lo - 1]! : undefined;
    const after = lo < this.blocks.length ? this.blocks[lo]! : undefined;
    if ((before && before.start + before.length > start) || (after && after.start < end)) {
      throw new RangeError(`entries ${start}+${length} are already free`);
    }
    const joinsBefore = before !== undefined && before.start + before.length === start;
    const joinsAfter = after !== undefined && after.start === end;
    if (joinsBefore && joinsAfter) {
      before.length += length + after.length;
      this.blocks.splice(lo, 1);
    } else if (joinsBefore) before.length += length;
    else if (joinsAfter) {
      after.start = start;
      after.length += length;
    } else this.blocks.splice(lo, 0, { start, length });
    this.freeTotal += length;
  }

  /** The free run that releasing entries start .. start + length - 1 would make, with the free blocks touching them. */
  runIfReleased(start: number, length: number): number {
    let run = length;
    for (const block of this.blocks) {
      if (block.start + block.length === start || block.start === start + length) run += block.length;
      if (block.start > start + length) break;
    }
    return run;
  }

  /** Free entries in all blocks together. */
  get free(): number {
    return this.freeTotal;
  }

  /** The longest run that `allocate` can give now. */
  get largest(): number {
    let longest = 0;
    for (const block of this.blocks) longest = Math.max(longest, block.length);
    return longest;
  }

  /** Free blocks (0 when all is taken, 1 when the free space is one run). */
  get fragments(): number {
    return this.blocks.length;
  }
}

/** Where a binary's table is in the two arrays. */
export interface TableSlot {
  readonly firstRow: number;
  readonly rowCount: number;
  readonly firstBucket: number;
  /** Entries in `unwind_buckets` (the binary's bucket count + 1). */
  readonly bucketEntries: number;
}

export interface TableSpaceStats {
  /** Rows taken (idle binaries' included). */
  readonly rows: number;
  /** The most rows taken at once. */
  readonly peakRows: number;
  readonly idleBinaries: number;
  readonly idleRows: number;
  /** Idle binaries whose space went to another binary, and their rows. */
  readonly evictedBinaries: number;
  readonly evictedRows: number;
  /** Free blocks of `unwind_rows` (0: none free; 1: all free space in one run). */
  readonly freeRowBlocks: number;
}

/**
 * The rows and buckets of every placed binary. A binary no process maps is not freed at once but
 * kept idle, its table intact, so one that comes back (a compiler run again and again, a shell
 * tool) costs no write; its space is taken only when a binary that does not fit in the free space
 * needs it: the smallest idle binary whose space alone (with the free space around it) is enough,
 * else the least recently idle ones, one after another, until the free blocks merge into a run
 * long enough. So a small library does not evict a compiler's half a million rows while a small
 * idle binary would do.
 */
export class TableSpace {
  private readonly rowSpace: ArraySpace;
  private readonly bucketSpace: ArraySpace;
  /** Idle binaries by key, least recently idle first (a Map keeps insertion order). */
  private readonly idle = new Map<string, TableSlot>();
  private idleRows = 0;
  private idleBuckets = 0;
  private peakRows = 0;
  private evictedBinaries = 0;
  private evictedRows = 0;

  constructor(
    rowCapacity: number,
    bucketCapacity: number,
    /** An idle binary's space was given to another one: its slot is no more. */
    private readonly onEvict: (key: string) => void,
  ) {
    this.rowSpace = new ArraySpace(rowCapacity);
    this.bucketSpace = new ArraySpace(bucketCapacity);
  }

  /**
   * A slot for `rows` rows and `buckets` bucket entries: from free space, else by evicting idle
   * binaries while all free and idle space together could hold it (fragmentation aside).
   */
  take(rows: number, buckets: number): TableSlot | undefined {
    for (;;) {
      const firstRow = this.rowSpace.allocate(rows);
      if (firstRow !== undefined) {
        const firstBucket = this.bucketSpace.allocate(buckets);
        if (firstBucket !== undefined) {
          this.peakRows = Math.max(this.peakRows, this.rowSpace.capacity - this.rowSpace.free);
          return { firstRow, rowCount: rows, firstBucket, bucketEntries: buckets };
        }
        this.rowSpace.release(firstRow, rows);
      }
      if (this.idle.size === 0 || this.reclaimableRows < rows || this.bucketSpace.free + this.idleBuckets < buckets) return undefined;
      const [key, slot] = this.victim(rows, buckets);
      this.dropIdle(key, slot);
      this.rowSpace.release(slot.firstRow, slot.rowCount);
      this.bucketSpace.release(slot.firstBucket, slot.bucketEntries);
      this.evictedBinaries++;
      this.evictedRows += slot.rowCount;
      this.onEvict(key);
    }
  }

  /** No process maps the binary any more: its space may go to another binary from now on. */
  setIdle(key: string, slot: TableSlot): void {
    if (this.idle.has(key)) return;
    this.idle.set(key, slot);
    this.idleRows += slot.rowCount;
    this.idleBuckets += slot.bucketEntries;
  }

  /** A process maps the binary again: true when it was idle (its table is still in place). */
  revive(key: string): boolean {
    const slot = this.idle.get(key);
    if (!slot) return false;
    this.dropIdle(key, slot);
    return true;
  }

  /** Rows free now or held by idle binaries. */
  get reclaimableRows(): number {
    return this.rowSpace.free + this.idleRows;
  }

  stats(): TableSpaceStats {
    return {
      rows: this.rowSpace.capacity - this.rowSpace.free,
      peakRows: this.peakRows,
      idleBinaries: this.idle.size,
      idleRows: this.idleRows,
      evictedBinaries: this.evictedBinaries,
      evictedRows: this.evictedRows,
      freeRowBlocks: this.rowSpace.fragments,
    };
  }

  /** Which idle binary gives its space next (there is one). */
  private victim(rows: number, buckets: number): [string, TableSlot] {
    let best: [string, TableSlot] | undefined;
    for (const entry of this.idle) {
      const slot = entry[1];
      if (best !== undefined && slot.rowCount >= best[1].rowCount) continue;
      if (this.rowSpace.runIfReleased(slot.firstRow, slot.rowCount) >= rows && this.bucketSpace.runIfReleased(slot.firstBucket, slot.bucketEntries) >= buckets) best = entry;
    }
    return best ?? this.idle.entries().next().value!;
  }

  private dropIdle(key: string, slot: TableSlot): void {
    this.idle.delete(key);
    this.idleRows -= slot.rowCount;
    this.idleBuckets -= slot.bucketEntries;
  }
}
