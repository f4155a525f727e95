/**
 * Unwind tables compiled on a worker thread, so that a recording's event loop keeps capturing new
 * processes while a large binary's table is built: node's takes ~0.3–0.8 s the first time (then it
 * comes from the on-disk cache), and a process that lives 3 ms must not wait for it. This module is
 * also the worker's entry point.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { fromDescriptor, openFile, ownVdso } from '../host/binary.js';
import { ElfFile } from '../symbolize/elf/file.js';
import type { ByteSource } from '../symbolize/source.js';
import { tableOfOpenBinary } from './captured.js';
import { buildRowIndex, type RowIndex } from './rows.js';

/** Which file to read: a descriptor captured while its process lived, else a path (through the process's root). */
export interface TableRequest {
  readonly path: string;
  readonly fd?: number;
  readonly paths: readonly string[];
}

export interface CompiledBinary {
  readonly rows: Uint8Array;
  readonly rowCount: number;
  /** Where the walker's row search starts, by pc bucket. */
  readonly index: RowIndex;
  /** The executable PT_LOAD segments, for each mapping's bias. */
  readonly segments: readonly { readonly offset: number; readonly vaddr: number; readonly filesz: number }[];
}

export type CompileFailure = 'no-unwind-info' | 'unreadable';

const PF_X = 1;
const ROLE = 'profile-unwind-compiler';

function openRequested(request: TableRequest): ByteSource | undefined {
  if (request.path === '[vdso]') return ownVdso()?.source;
  if (request.fd !== undefined) {
    const source = fromDescriptor(request.fd, request.path);
    if (source) return source;
  }
  for (const path of request.paths) {
    const source = openFile(path);
    if (source) return source;
  }
  return undefined;
}

/** The table of one binary, in this thread. */
export function compileRequested(request: TableRequest): CompiledBinary | CompileFailure {
  const source = openRequested(request);
  if (!source) return 'unreadable';
  try {
    const elf = new ElfFile(source);
    const table = tableOfOpenBinary(source);
    if (!table || table.rowCount === 0) return 'no-unwind-info';
    const segments = elf.segments.filter((s) => (s.flags & PF_X) !== 0).map((s) => ({ offset: s.offset, vaddr: s.vaddr, filesz: s.filesz }));
    return { rows: table.rows, rowCount: table.rowCount, index: buildRowIndex(table), segments };
  } catch {
    return 'unreadable';
  } finally {
    source.close();
  }
}

/** One worker thread, requests answered in order; `close()` ends it. */
export class TableCompiler {
  private worker: Worker | undefined;
  private next = 0;
  private readonly waiting = new Map<number, (result: CompiledBinary | CompileFailure) => void>();

  compile(request: TableRequest): Promise<CompiledBinary | CompileFailure> {
    const worker = this.start();
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, request });
    });
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
    for (const resolve of this.waiting.values()) resolve('unreadable');
    this.waiting.clear();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: ROLE } });
    worker.unref();
    worker.on('message', (message: { id: number; result: CompiledBinary | CompileFailure }) => {
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message.result);
    });
    const failAll = (): void => {
      for (const resolve of this.waiting.values()) resolve('unreadable');
      this.waiting.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', failAll);
    worker.on('exit', failAll);
    this.worker = worker;
    return worker;
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  parentPort!.on('message', ({ id, request }: { id: number; request: TableRequest }) => {
    const result = compileRequested(request);
    if (typeof result === 'string') parentPort!.postMessage({ id, result });
    else {
      // A copy of its own: the table may be a view into a larger buffer (the cache file's, Node's pool).
      const rows = result.rows.slice();
      parentPort!.postMessage({ id, result: { ...result, rows } }, [rows.buffer, result.index.starts.buffer as ArrayBuffer]);
    }
  });
}
