/**
 * The unwinder's side of the kernel maps, as bytes: a process's `process_unwind` value, and batch
 * writes into the preallocated arrays (`unwind_rows`, `unwind_buckets`). The session owns the maps.
 */
import type { UnwindMappingEntry } from '../unwind/loader.js';
import { PROCESS_UNWIND, UNWIND_MAPPING, UNWIND_MAX_MAPPINGS } from './abi.js';
import type { LibBpf } from './libbpf.js';

/** Generations of process entries written so far: each write gets a new one (the walker's row cache keys on it). */
let generations = 0;

/** One value for every write (the kernel copies it): a fresh 3 KB one for each new process cost more than filling it. */
const value = new Uint8Array(PROCESS_UNWIND.size);
const view = new DataView(value.buffer);
/** Mappings the last value held: those past the next one's count are zeroed. */
let lastCount = 0;

/**
 * `struct process_unwind`: the process's first UNWIND_MAX_MAPPINGS mappings with tables (sorted by
 * start). The bytes are valid until the next call.
 */
export function encodeProcessUnwind(startTime: number, mappings: readonly UnwindMappingEntry[], remapAfterNs: bigint): Uint8Array {
  const count = Math.min(mappings.length, UNWIND_MAX_MAPPINGS);
  if (lastCount > count) value.fill(0, PROCESS_UNWIND.mappings + count * UNWIND_MAPPING.size, PROCESS_UNWIND.mappings + lastCount * UNWIND_MAPPING.size);
  lastCount = count;
  view.setBigUint64(PROCESS_UNWIND.start_time, BigInt(startTime), true);
  view.setUint32(PROCESS_UNWIND.count, count, true);
  generations = (generations + 1) >>> 0 || 1;
  view.setUint32(PROCESS_UNWIND.generation, generations, true);
  view.setBigUint64(PROCESS_UNWIND.remap_after_ns, remapAfterNs, true);
  for (let i = 0; i < count; i++) {
    const m = mappings[i]!;
    const at = PROCESS_UNWIND.mappings + i * UNWIND_MAPPING.size;
    view.setBigUint64(at + UNWIND_MAPPING.start, m.start, true);
    view.setBigUint64(at + UNWIND_MAPPING.end, m.end, true);
    view.setBigUint64(at + UNWIND_MAPPING.bias, BigInt.asUintN(64, m.bias), true);
    view.setUint32(at + UNWIND_MAPPING.first_row, m.firstRow, true);
    view.setUint32(at + UNWIND_MAPPING.row_count, m.rowCount, true);
    view.setUint32(at + UNWIND_MAPPING.first_bucket, m.firstBucket, true);
    view.setUint32(at + UNWIND_MAPPING.bucket_count, m.bucketCount, true);
    view.setUint32(at + UNWIND_MAPPING.bucket_base, m.bucketBase, true);
    view.setUint8(at + UNWIND_MAPPING.bucket_shift, m.bucketShift);
  }
  return value;
}

/** Writes entries first .. first + count - 1 of an array map from `values` (`size` bytes each); 0 or a negative errno. */
export function writeArrayEntries(lib: LibBpf, fd: number, first: number, values: Uint8Array, size: number, count: number): number {
  const PER_CALL = 65536;
  for (let done = 0; done < count; done += PER_CALL) {
    const n = Math.min(PER_CALL, count - done);
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = first + done + i;
    const rc = lib.updateBatch(fd, new Uint8Array(keys.buffer), values.subarray(done * size, (done + n) * size), new Uint32Array([n]));
    if (rc !== 0) return rc;
  }
  return 0;
}
