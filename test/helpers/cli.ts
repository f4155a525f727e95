/**
 * Runs the real CLI (`node bin/run.js …`, built dist/) as a child process, feeding stdin from a
 * string, a buffer or a generator of chunks (with back-pressure, so hundreds of MB can stream
 * through), and reports exit code, output and the child's peak RSS (VmHWM, polled).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'run.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak resident set size in KB as last seen in /proc/PID/status (VmHWM). */
  readonly peakRssKb: number;
}

export interface CliOptions {
  readonly input?: string | Uint8Array | (() => AsyncIterable<Uint8Array | string>);
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

function peakRss(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * How to start the CLI as a user would: `env -u NODE_OPTIONS node bin/run.js …`. tap's
 * process-info hook puts itself into NODE_OPTIONS of every child (even when the env passed to
 * spawn lacks it) and listens for SIGINT/SIGTERM there, which changes how the CLI ends on
 * signals: a second Ctrl-C took ~0.9 s instead of ~20 ms under it. `env` execs node in place,
 * so the child's pid is the CLI's.
 */
export function cliSpawnArgs(args: readonly string[]): [string, string[]] {
  return ['env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args]];
}

export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PROFILE_DEBUG: '', ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(...cliSpawnArgs(args), {
      cwd: options.cwd ?? ROOT,
      env: cliEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout.length < 1 << 24 ? (stdout += d) : undefined));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const poll = setInterval(() => (peak = Math.max(peak, peakRss(child.pid!))), 100);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdin.on('error', () => undefined); // the CLI may stop reading early (an error on line 1)
    const input = options.input;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'function') {
      (async () => {
        for await (const chunk of input()) {
          if (child.stdin.destroyed) return;
          if (!child.stdin.write(chunk)) await new Promise<void>((r) => { child.stdin.once('drain', r); child.stdin.once('close', r); });
        }
        child.stdin.end();
      })().catch(() => child.stdin.destroy());
    } else child.stdin.end(input);
    child.on('error', reject);
    child.on('exit', () => (peak = Math.max(peak, peakRss(child.pid!))));
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, peakRssKb: peak });
    });
  });
}

/** The assertions every user-facing error shares: exit 2, one line `profile: …`, no stack trace. */
export function oneLineError(result: CliResult): string | undefined {
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  if (result.code !== 2) return `exit code ${result.code} (signal ${result.signal}), stderr: ${result.stderr.slice(0, 500)}`;
  if (lines.length !== 1) return `expected one line on stderr, got ${lines.length}: ${result.stderr.slice(0, 500)}`;
  if (!lines[0]!.startsWith('profile: ')) return `stderr does not start with 'profile: ': ${lines[0]}`;
  if (/\n\s+at /.test(result.stderr) || /internal error/.test(result.stderr)) return `stack trace or internal error: ${result.stderr}`;
  return undefined;
}
