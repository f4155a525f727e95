/**
 * Running `profile record --push` as the agent against the loopback ingest server, and reading
 * what arrived: series names, intervals and the samples in each pushed pprof.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { Profile as Pprof } from 'pprof-format';
import { ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';
import { kernelFds } from '../helpers/bpf.js';
import type { IngestRequest } from '../helpers/ingest.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Agent {
  readonly child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export function startAgent(args: readonly string[]): Agent {
  const child = spawn(...cliSpawnArgs(['record', ...args]), { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, stderr: () => stderr, exited };
}

/** Resolves once `pid` is sampling (it holds perf events), not while node is still starting. */
export async function recording(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!kernelFds(pid).some((fd) => fd.includes('perf_event')) && Date.now() < deadline) await sleep(50);
}

/** The --metrics lines of a run: `interval` lines and the `summary`. */
export function metrics(stderr: string): { intervals: Record<string, unknown>[]; summary: Record<string, number> | undefined } {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { intervals: lines.filter((l) => l.type === 'interval'), summary: lines.find((l) => l.type === 'summary') as Record<string, number> | undefined };
}

export interface Received {
  readonly name: string;
  readonly service: string;
  readonly from: number;
  readonly until: number;
  /** Samples in the pushed pprof (the `samples` value of every sample added up). */
  readonly samples: number;
  /** `comm` labels of its samples. */
  readonly comms: ReadonlySet<string>;
}

export function received(request: IngestRequest): Received {
  const name = request.query.get('name') ?? '';
  const pprof = Pprof.decode(gunzipSync(request.profileFile!));
  const strings = pprof.stringTable.strings;
  let samples = 0;
  const comms = new Set<string>();
  for (const sample of pprof.sample) {
    samples += Number(sample.value[0]);
    for (const label of sample.label) if (strings[Number(label.key)] === 'comm') comms.add(strings[Number(label.str)]!);
  }
  return {
    name,
    service: /service_name=([^,}]*)/.exec(name)?.[1] ?? '',
    from: Number(request.query.get('from')),
    until: Number(request.query.get('until')),
    samples,
    comms,
  };
}

/** The distinct [from, until] pairs of what arrived, in order of `from`. */
export function intervalsOf(pushes: readonly Received[]): [number, number][] {
  const pairs = new Map(pushes.map((p) => [`${p.from} ${p.until}`, [p.from, p.until] as [number, number]]));
  return [...pairs.values()].sort((a, b) => a[0] - b[0]);
}
