/**
 * koffi bindings to libbpf.so.1 (Debian `libbpf1`) and the two syscalls libbpf does not wrap for
 * us. Only src/record uses them. Pointers come back from koffi as opaque values (null for NULL);
 * functions that fail return NULL with errno set, or a negative errno (libbpf 1.x conventions).
 */
import koffi from 'koffi';
import { ProfileError } from '../errors.js';

export type Pointer = unknown;

export interface LibBpf {
  readonly version: string;
  /** Messages libbpf printed since the last `takeLog()` (warnings and errors only). */
  takeLog(): string[];
  objectOpenMem(buffer: Buffer): Pointer;
  objectLoad(obj: Pointer): number;
  objectClose(obj: Pointer): void;
  findMap(obj: Pointer, name: string): Pointer;
  findProgram(obj: Pointer, name: string): Pointer;
  mapSetMaxEntries(map: Pointer, entries: number): number;
  mapFd(map: Pointer): number;
  /** The map's initial contents (used on `.rodata` before load), as a live view of libbpf's copy. */
  mapInitialValue(map: Pointer): Uint8Array | null;
  programSetAutoload(prog: Pointer, autoload: boolean): number;
  /** How many instructions the verifier processed to load `prog` (bpf_prog_info.verified_insns, Linux 5.16+); undefined when unknown. */
  verifiedInstructions(prog: Pointer): number | undefined;
  attachPerfEvent(prog: Pointer, perfFd: number): Pointer;
  attach(prog: Pointer): Pointer;
  linkDestroy(link: Pointer): number;
  lookupElem(fd: number, key: Uint8Array, value: Uint8Array): number;
  updateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  /** bpf_map_update_elem on a libuv worker thread, for updates that block (a map-of-maps waits for RCU). */
  updateElemAsync(fd: number, key: Uint8Array, value: Uint8Array, flags: number): Promise<number>;
  /** bpf_map_lookup_batch; `count` is in/out (one-element Uint32Array). */
  lookupBatch(fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: Uint32Array): number;
  /** bpf_map_lookup_and_delete_batch: reads and removes up to `count` entries. */
  lookupAndDeleteBatch(fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: Uint32Array): number;
  /** bpf_map_update_batch: `count` entries of `keys` and `values` (in/out: how many were written). */
  updateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: Uint32Array): number;
  deleteElem(fd: number, key: Uint8Array): number;
  /** The key after `key` (the first one when `key` is null); a negative errno (-ENOENT) at the end. */
  getNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): number;
  ringBufferNew(mapFd: number, onEvent: (data: Buffer) => void): Pointer;
  ringBufferConsume(rb: Pointer): number;
  /** Calls `onReadable` (on the event loop) whenever the ring buffer has data; returns a stopper. */
  ringBufferWatch(fd: number, onReadable: () => void): () => void;
  ringBufferFree(rb: Pointer): void;
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** How many slots a per-CPU map value has (possible CPUs, not just online ones). */
  numPossibleCpus(): number;
  close(fd: number): number;
  errno(): number;
}

let cached: LibBpf | undefined;

/** include/uapi/linux/bpf.h struct bpf_prog_info: verified_insns follows recursion_misses (208). */
const VERIFIED_INSNS_OFFSET = 216;
const BPF_PROG_INFO_SIZE = 232;
/** glibc's sigset_t, and pthread_sigmask's `how` that replaces the mask (Linux). */
const SIGSET_BYTES = 128;
const SIG_SETMASK = 2;

// x86-64 and arm64 syscall numbers (asm/unistd_64.h, asm-generic/unistd.h).
const SYSCALL_PERF_EVENT_OPEN: Record<string, number> = { x64: 298, arm64: 241 };

export function loadLibBpf(): LibBpf {
  if (cached) return cached;
  let lib: ReturnType<typeof koffi.load>;
  let libc: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libbpf.so.1');
    libc = koffi.load('libc.so.6');
  } catch (error) {
    throw new ProfileError(`cannot load libbpf.so.1 (${(error as Error).message}); install it: apt-get install libbpf1`, { exitCode: 1 });
  }
  const log: string[] = [];
  const vsnprintf = libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)');
  // libbpf hands its printf arguments over as a va_list, which only vsnprintf can read.
  const PrintFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *ap)');
  const printer = koffi.register((level: number, fmt: string, ap: Pointer) => {
    if (level > 0 /* LIBBPF_WARN */) return 0;
    const buf = Buffer.alloc(2048);
    const n = vsnprintf(buf, buf.length, fmt, ap) as number;
    const text = buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))).toString('utf8').trimEnd();
    if (log.length < 200) log.push(text);
    return 0;
  }, koffi.pointer(PrintFn));
  lib.func('void *libbpf_set_print(void *fn)')(printer);

  const RingCb = koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)');
  const callbacks = new Map<Pointer, unknown>();
  const ringBufferNew = lib.func('void *ring_buffer__new(int map_fd, void *cb, void *ctx, void *opts)');
  const ringBufferFree = lib.func('void ring_buffer__free(void *rb)');
  const syscall = libc.func('long syscall(long number, void *attr, long pid, long cpu, long group_fd, long flags)');
  const perfNr = SYSCALL_PERF_EVENT_OPEN[process.arch];

  const major = lib.func('uint32_t libbpf_major_version()')() as number;
  const minor = lib.func('uint32_t libbpf_minor_version()')() as number;
  const initialValue = lib.func('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)');
  const closeFd = libc.func('int close(int fd)');
  const lookupBatch = lib.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, void *opts)',
  );
  const lookupAndDeleteBatch = lib.func(
    'int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, void *opts)',
  );
  const updateBatch = lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, void *opts)');
  const updateElem = lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)');
  const openMem = lib.func('void *bpf_object__open_mem(const void *buf, size_t sz, void *opts)');
  const programFd = lib.func('int bpf_program__fd(void *prog)');
  const objectInfo = lib.func('int bpf_obj_get_info_by_fd(int fd, _Inout_ uint8_t *info, _Inout_ uint32_t *info_len)');
  const objectLoad = lib.func('int bpf_object__load(void *obj)');
  const sigfillset = libc.func('int sigfillset(_Out_ uint8_t *set)');
  const sigmask = libc.func('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *old)');

  cached = {
    version: `${major}.${minor}`,
    takeLog: () => log.splice(0, log.length),
    objectOpenMem(buffer) {
      return openMem(buffer, buffer.length, null);
    },
    objectLoad(obj) {
      // The verifier gives up with EAGAIN when a signal arrives while it runs, and libbpf's five
      // retries all fail under a periodic signal faster than one verification (a CPU profiler's
      // SIGPROF every millisecond or two): signals wait, blocked, until the load is done.
      const all = new Uint8Array(SIGSET_BYTES);
      const old = new Uint8Array(SIGSET_BYTES);
      sigfillset(all);
      const blocked = sigmask(SIG_SETMASK, all, old) === 0;
      try {
        return objectLoad(obj) as number;
      } finally {
        if (blocked) sigmask(SIG_SETMASK, old, null);
      }
    },
    objectClose: lib.func('void bpf_object__close(void *obj)') as never,
    findMap: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)') as never,
    findProgram: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)') as never,
    mapSetMaxEntries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)') as never,
    mapFd: lib.func('int bpf_map__fd(void *map)') as never,
    mapInitialValue(map) {
      const size = [0];
      const pointer = initialValue(map, size);
      if (!pointer) return null;
      return new Uint8Array(koffi.view(pointer, Number(size[0])));
    },
    programSetAutoload: lib.func('int bpf_program__set_autoload(void *prog, bool autoload)') as never,
    verifiedInstructions(prog) {
      const fd = programFd(prog) as number;
      // struct bpf_prog_info up to verified_insns (offset 216); an older kernel fills less.
      const info = new Uint8Array(BPF_PROG_INFO_SIZE);
      const length = new Uint32Array([info.length]);
      if (fd < 0 || (objectInfo(fd, info, length) as number) !== 0 || length[0]! < VERIFIED_INSNS_OFFSET + 4) return undefined;
      return new DataView(info.buffer).getUint32(VERIFIED_INSNS_OFFSET, true);
    },
    attachPerfEvent: lib.func('void *bpf_program__attach_perf_event(void *prog, int pfd)') as never,
    attach: lib.func('void *bpf_program__attach(void *prog)') as never,
    linkDestroy: lib.func('int bpf_link__destroy(void *link)') as never,
    lookupElem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)') as never,
    updateElem: updateElem as never,
    updateElemAsync(fd, key, value, flags) {
      return new Promise((resolve, reject) => {
        // koffi keeps `key` and `value` referenced until the call returns.
        updateElem.async(fd, key, value, flags, (error: unknown, result: number) => (error ? reject(error as Error) : resolve(result)));
      });
    },
    lookupBatch(fd, inBatch, outBatch, keys, values, count) {
      return lookupBatch(fd, inBatch, outBatch, keys, values, count, null) as number;
    },
    lookupAndDeleteBatch(fd, inBatch, outBatch, keys, values, count) {
      return lookupAndDeleteBatch(fd, inBatch, outBatch, keys, values, count, null) as number;
    },
    updateBatch(fd, keys, values, count) {
      return updateBatch(fd, keys, values, count, null) as number;
    },
    deleteElem: lib.func('int bpf_map_delete_elem(int fd, const void *key)') as never,
    getNextKey: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)') as never,
    ringBufferNew(mapFd, onEvent) {
      const cb = koffi.register((_ctx: Pointer, data: Pointer, size: number | bigint) => {
        onEvent(Buffer.from(koffi.view(data, Number(size))));
        return 0;
      }, koffi.pointer(RingCb));
      const rb = ringBufferNew(mapFd, cb, null, null);
      if (!rb) {
        koffi.unregister(cb);
        return null;
      }
      callbacks.set(rb, cb);
      return rb;
    },
    ringBufferConsume: lib.func('int ring_buffer__consume(void *rb)') as never,
    ringBufferWatch(fd, onReadable) {
      // koffi calls back with (status, events), unlike its type declaration says.
      const handle = koffi.node.poll(fd, { readable: true }, ((status: number, events: { readable: boolean }) => {
        if (status >= 0 && events.readable) onReadable();
      }) as never);
      handle.unref();
      return () => handle.close();
    },
    ringBufferFree(rb) {
      ringBufferFree(rb);
      const cb = callbacks.get(rb);
      callbacks.delete(rb);
      if (cb !== undefined) koffi.unregister(cb as bigint);
    },
    perfEventOpen(attr, pid, cpu, groupFd, flags) {
      if (perfNr === undefined) throw new ProfileError(`perf_event_open: unsupported architecture ${process.arch}`);
      return Number(syscall(perfNr, attr, pid, cpu, groupFd, flags));
    },
    close: (fd) => closeFd(fd) as number,
    numPossibleCpus: lib.func('int libbpf_num_possible_cpus(void)') as never,
    errno: () => koffi.errno(),
  };
  return cached;
}
