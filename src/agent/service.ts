/**
 * Which service a sample belongs to, for the agent's one series per service: the container (as
 * `--container` names it), else the systemd unit of the process's cgroup, else the process name.
 * The result is a Pyroscope label value, so it is reduced to characters that survive the
 * `name{key=value,…}` syntax of the ingest API; names come from the profiled system and are untrusted.
 */
import type { ProcessSnapshot, RawSample } from '../profile/raw.js';
import { containerFromCgroup, containerFrameName } from '../symbolize/container.js';

export const OTHER_SERVICE = 'other';
const MAX_LABEL_LENGTH = 100;

/** A label value: characters other than letters, digits and `._-:/@` become `_`, at most 100 of them. */
export function labelValue(text: string): string {
  const value = text.replace(/[^A-Za-z0-9._\-:/@]/g, '_').slice(0, MAX_LABEL_LENGTH);
  return value === '' ? '_' : value;
}

/**
 * The innermost systemd service of a cgroup path (`/system.slice/nginx.service` → `nginx.service`),
 * or a scope that is not a login session (`…/docker-….scope` is a container, found before this).
 * The per-user manager (`user@1000.service`) only counts when nothing inside it is a unit.
 */
export function systemdUnit(cgroup: string): string | undefined {
  const parts = cgroup.split('/').filter((p) => p !== '');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    if (/^session-[^/]*\.scope$/.test(part)) return undefined;
    if (/\.(service|scope)$/.test(part) && !/^user@\d+\.service$/.test(part)) return part.replace(/\\x2d/g, '-');
  }
  const manager = parts.find((p) => /^user@\d+\.service$/.test(p));
  return manager;
}

/** The service of a process: container, systemd unit, or `comm`. */
export function serviceOf(snapshot: ProcessSnapshot | undefined, comm: string): string {
  const cgroup = snapshot?.cgroup;
  if (cgroup !== undefined) {
    const container = containerFromCgroup(cgroup);
    if (container) return labelValue(containerFrameName(container));
    const unit = systemdUnit(cgroup);
    if (unit !== undefined) return labelValue(unit);
  }
  return labelValue(comm);
}

export interface ServiceSplit {
  /** The series of each sample, in order of `samples`. */
  readonly serviceOfSample: readonly string[];
  /** Services that got a series, by samples (most first); `other` last when used. */
  readonly services: readonly string[];
  /** Services merged into `other` because of the cap. */
  readonly mergedIntoOther: number;
}

/**
 * The series of an interval: each sample's service, the `maxSeries - 1` busiest kept as they
 * are and the rest merged into `other` (all of them kept when they fit), so the number of series
 * stays bounded however many processes come and go.
 */
export function splitByService(samples: readonly RawSample[], processes: ReadonlyMap<number, ProcessSnapshot>, maxSeries: number): ServiceSplit {
  const named = samples.map((sample) => serviceOf(processes.get(sample.pid), sample.comm));
  const weight = new Map<string, number>();
  named.forEach((service, i) => weight.set(service, (weight.get(service) ?? 0) + samples[i]!.count));
  const ranked = [...weight.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([service]) => service);
  if (ranked.length <= maxSeries) return { serviceOfSample: named, services: ranked, mergedIntoOther: 0 };
  const kept = new Set(ranked.slice(0, Math.max(0, maxSeries - 1)));
  kept.delete(OTHER_SERVICE);
  return {
    serviceOfSample: named.map((service) => (kept.has(service) ? service : OTHER_SERVICE)),
    services: [...kept, OTHER_SERVICE],
    mergedIntoOther: ranked.length - kept.size,
  };
}
