/**
 * Starts `profile record -- COMMAND`: the command must be a target before it runs a single
 * instruction of its own, or the forks it makes early would escape the filter. So it starts as
 * `sh -c 'read _ <&3; exec "$@"'`, which waits on a pipe; once its pid is in the BPF `targets`
 * set the pipe is closed and sh execs the command under the same pid (a few of sh's own samples
 * before the exec are recorded under the comm `sh`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';

export interface LaunchedCommand {
  readonly pid: number;
  /** Lets the command run. */
  release(): void;
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  readonly child: ChildProcess;
}

/** A shell's exit status for a process that exited with `code` or was killed by `signal`: 128 + N. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0);
}

export function launchCommand(argv: readonly string[], stdout: 'inherit' | 'stderr'): LaunchedCommand {
  const child = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec 3<&-; exec "$@"', 'sh', ...argv], {
    stdio: ['inherit', stdout === 'inherit' ? 'inherit' : 'pipe', 'inherit', 'pipe'],
  });
  // With folded stacks on our stdout, the command's output goes to stderr so the two never mix.
  if (stdout === 'stderr') child.stdout!.pipe(process.stderr as unknown as Writable, { end: false });
  const gate = child.stdio[3] as Writable;
  gate.on('error', () => undefined);
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
    child.on('error', () => resolve(127));
  });
  return {
    pid: child.pid ?? -1,
    child,
    exited,
    release: () => gate.end('\n'),
  };
}
