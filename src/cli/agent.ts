import { Flags } from './oclif.js';
import { ProfileError } from '../errors.js';
import { AGENT_DEFAULTS } from '../agent/defaults.js';

/** `profile record`'s flags for the continuous agent (`--push` without `--duration`, or `--push-interval`). */
export const agentFlags = {
  'push-interval': Flags.string({
    summary: `With --push: push a profile per service every SECONDS until SIGTERM or Ctrl-C (the agent; default ${AGENT_DEFAULTS.intervalSeconds} when --push is given without --duration).`,
    helpValue: 'SECONDS',
  }),
  'spool-dir': Flags.string({ summary: 'Agent: where intervals the server did not take wait (default $STATE_DIRECTORY/spool, $XDG_STATE_HOME/profile/spool or /var/lib/profile/spool).', helpValue: 'DIR' }),
  'spool-size': Flags.string({ summary: 'Agent: bytes the spool holds before its oldest intervals are dropped (and counted); K, M and G suffixes count 1024s.', default: AGENT_DEFAULTS.spoolSize, helpValue: 'SIZE' }),
  'push-queue': Flags.integer({ summary: 'Agent: finished intervals kept in memory while the server is away, before they go to the spool.', default: AGENT_DEFAULTS.memoryIntervals, min: 0 }),
  'max-series': Flags.integer({ summary: 'Agent: services per interval pushed as their own series; the rest go to the series service_name=other.', default: AGENT_DEFAULTS.maxSeries, min: 1 }),
  metrics: Flags.boolean({ summary: 'Agent: a JSON line on stderr per interval (pushed, retried, spooled, dropped, samples, RSS) and one at the end.' }),
};

/** The interval in seconds when `record` runs as the agent, undefined when it records one profile. */
export function agentInterval(flags: { push?: string; 'push-interval'?: string; output?: string; open?: boolean }, duration: number | undefined, command: readonly string[] | undefined): number | undefined {
  if (flags['push-interval'] === undefined && (flags.push === undefined || duration !== undefined || command !== undefined)) return undefined;
  if (flags.push === undefined) throw new ProfileError('--push-interval needs --push URL');
  const seconds = flags['push-interval'] === undefined ? AGENT_DEFAULTS.intervalSeconds : Number(flags['push-interval']);
  if (!(seconds >= 1 && seconds <= 3600)) throw new ProfileError(`--push-interval must be from 1 to 3600 seconds, not ${JSON.stringify(flags['push-interval'])}`);
  if (flags.output !== undefined) throw new ProfileError('the agent (--push without --duration, or --push-interval) pushes every interval and writes no file: leave out -o, or give --duration for one profile');
  return seconds;
}

/** `--spool-size`: `262144`, `64K`, `256M`, `1G` (powers of 1024). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * 1024 ** ' KMG'.indexOf(match[2]!.toUpperCase() || ' ') : NaN;
  if (!(bytes >= 1)) throw new ProfileError(`--spool-size: expected a size such as 256M, not ${JSON.stringify(text)}`);
  return bytes;
}
