/**
 * The agent's spool: finished intervals that could not be sent yet, one file each
 * (`<seq>.interval`, written to a temporary name and renamed, so a crash leaves whole files or
 * none), bounded in bytes with the oldest dropped first. A restarted agent finds them here and
 * sends them before its own.
 *
 * A file is a 4-byte little-endian header length, a JSON header (the interval and, per series,
 * its push parameters and body size), then the bodies one after the other.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ProfileError } from '../errors.js';
import type { EncodedPush } from '../export/push.js';
import type { EncodedInterval } from './interval.js';

/**
 * The spool directory when --spool-dir is not given: systemd's StateDirectory ($STATE_DIRECTORY),
 * else $XDG_STATE_HOME/profile/spool, else /var/lib/profile/spool for root and
 * ~/.local/state/profile/spool for others.
 */
export function defaultSpoolDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.STATE_DIRECTORY?.split(':')[0];
  if (state) return join(state, 'spool');
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'profile', 'spool');
  if (process.getuid?.() === 0) return '/var/lib/profile/spool';
  return join(homedir(), '.local', 'state', 'profile', 'spool');
}

interface SpoolEntry {
  readonly seq: number;
  readonly bytes: number;
}

const FILE = /^(\d{12})\.interval$/;
const fileName = (seq: number): string => `${String(seq).padStart(12, '0')}.interval`;

export function serializeInterval(interval: EncodedInterval): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      seq: interval.seq,
      from: interval.from,
      until: interval.until,
      samples: interval.samples,
      series: interval.series.map(({ body, ...rest }) => ({ ...rest, size: body.length })),
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, ...interval.series.map((s) => Buffer.from(s.body.buffer, s.body.byteOffset, s.body.length))]);
}

export function deserializeInterval(data: Buffer): EncodedInterval {
  const length = data.readUInt32LE(0);
  const header = JSON.parse(data.subarray(4, 4 + length).toString('utf8')) as Omit<EncodedInterval, 'series'> & { series: (Omit<EncodedPush, 'body'> & { size: number })[] };
  let at = 4 + length;
  const series = header.series.map(({ size, ...rest }) => {
    if (at + size > data.length) throw new Error('truncated');
    const body = data.subarray(at, at + size);
    at += size;
    return { ...rest, body };
  });
  return { seq: header.seq, from: header.from, until: header.until, samples: header.samples, series };
}

export class Spool {
  private entries: SpoolEntry[] = [];
  private total = 0;

  constructor(
    readonly directory: string,
    readonly maxBytes: number,
  ) {
    try {
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      for (const name of readdirSync(directory)) {
        if (name.endsWith('.tmp')) rmSync(join(directory, name), { force: true }); // a write a crash cut short
        const match = FILE.exec(name);
        if (match) this.entries.push({ seq: Number(match[1]), bytes: statSync(join(directory, name)).size });
      }
    } catch (error) {
      throw new ProfileError(`--spool-dir ${directory}: ${(error as Error).message}`, { exitCode: 1 });
    }
    this.entries.sort((a, b) => a.seq - b.seq);
    this.total = this.entries.reduce((sum, e) => sum + e.bytes, 0);
  }

  get length(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.total;
  }

  /** The highest sequence number held (-1 when empty): a restarted agent numbers its intervals after it. */
  get lastSeq(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.seq : -1;
  }

  get oldestSeq(): number | undefined {
    return this.entries[0]?.seq;
  }

  /**
   * Stores `interval` (replacing a file of the same seq), then drops the oldest files while the
   * spool is over its bound, `interval` itself last. Returns the seqs dropped.
   */
  put(interval: EncodedInterval): number[] {
    const data = serializeInterval(interval);
    const path = join(this.directory, fileName(interval.seq));
    writeFileSync(`${path}.tmp`, data, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    this.forget(interval.seq);
    const at = this.entries.findIndex((e) => e.seq > interval.seq);
    this.entries.splice(at < 0 ? this.entries.length : at, 0, { seq: interval.seq, bytes: data.length });
    this.total += data.length;
    const dropped: number[] = [];
    while (this.total > this.maxBytes && this.entries.length > 0) {
      const seq = this.entries[0]!.seq;
      this.remove(seq);
      dropped.push(seq);
    }
    return dropped;
  }

  /** The oldest interval held; undefined when empty. A file that cannot be read is removed and reported through `onDamaged`. */
  oldest(onDamaged: (seq: number) => void): EncodedInterval | undefined {
    for (let entry = this.entries[0]; entry !== undefined; entry = this.entries[0]) {
      try {
        return deserializeInterval(readFileSync(join(this.directory, fileName(entry.seq))));
      } catch {
        this.remove(entry.seq);
        onDamaged(entry.seq);
      }
    }
    return undefined;
  }

  remove(seq: number): void {
    rmSync(join(this.directory, fileName(seq)), { force: true });
    this.forget(seq);
  }

  private forget(seq: number): void {
    const at = this.entries.findIndex((e) => e.seq === seq);
    if (at < 0) return;
    this.total -= this.entries[at]!.bytes;
    this.entries.splice(at, 1);
  }
}
