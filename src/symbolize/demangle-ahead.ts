/**
 * Names demangled on a worker thread while the main one goes on naming: the WASM demangler costs
 * ~10 µs a name (a cold run over node's code meets ~23k of them: ~0.25 s), time in which the main
 * thread reads DWARF and kallsyms. The main thread takes what the worker has finished without
 * waiting (`receiveMessageOnPort`), and demangles itself any name the worker has not reached yet,
 * so the result is the same whichever thread demangled a name. This module is also the worker's
 * entry point.
 */
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { isMangled, loadDemangler } from './demangle.js';

const ROLE = 'profile-demangler';
/** Below this many names, starting a thread (~30 ms of CPU) would cost more than it saves. */
export const DEMANGLE_AHEAD_MIN = 2000;
/** Names per answer: small enough that the first ones arrive early. */
const BATCH = 256;

/**
 * A worker demangling the mangled names that `walk` finds, when there are enough: `walk(step,
 * visit)` hands `visit` the symbol name of every `step`-th address its frame tables do not know
 * (a warm run's tables know them all). A look at every 64th address first decides.
 */
export function demangleAhead(walk: (step: number, visit: (name: string | undefined) => void) => void): DemangleAhead | undefined {
  let sampled = 0;
  walk(64, (name) => {
    if (name !== undefined && isMangled(name)) sampled++;
  });
  if (sampled * 64 < DEMANGLE_AHEAD_MIN) return undefined;
  const names = new Set<string>();
  walk(1, (name) => {
    if (name !== undefined && isMangled(name)) names.add(name);
  });
  return names.size >= DEMANGLE_AHEAD_MIN ? new DemangleAhead([...names]) : undefined;
}

export class DemangleAhead {
  private readonly done = new Map<string, string>();
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private waiting: number;

  constructor(private readonly names: readonly string[]) {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: ROLE, port: port2 }, transferList: [port2] });
    worker.unref();
    // A worker that fails leaves every name to the main thread.
    worker.on('error', () => this.close());
    this.worker = worker;
    this.port = port1;
    this.waiting = names.length;
    port1.postMessage(names);
  }

  /** `name` demangled, when the worker has done it. */
  get(name: string): string | undefined {
    const found = this.done.get(name);
    if (found !== undefined || this.waiting === 0 || !this.port) return found;
    for (let message = receiveMessageOnPort(this.port); message; message = receiveMessageOnPort(this.port)) {
      const { from, results } = message.message as { from: number; results: string[] };
      for (let i = 0; i < results.length; i++) this.done.set(this.names[from + i]!, results[i]!);
      this.waiting -= results.length;
    }
    return this.done.get(name);
  }

  close(): void {
    this.port?.close();
    this.port = undefined;
    void this.worker?.terminate();
    this.worker = undefined;
    this.waiting = 0;
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const port = (workerData as { port: MessagePort }).port;
  void loadDemangler().then((demangler) => {
    port.on('message', (names: string[]) => {
      for (let from = 0; from < names.length; from += BATCH) {
        const results = names.slice(from, from + BATCH).map((name) => demangler.demangle(name));
        port.postMessage({ from, results });
      }
    });
  });
}
