/**
 * Sends a profile to a Pyroscope-compatible ingest endpoint (Grafana Pyroscope, Grafana Cloud
 * Profiles, Grafana Alloy's `pyroscope.receive_http`, qryn …).
 *
 * Reference: https://grafana.com/docs/pyroscope/latest/configure-server/about-server-api/
 * (`POST /ingest?name=…&from=…&until=…&format=…&sampleRate=…&spyName=…&units=…`; pprof as the
 * `profile` file of a multipart form; the tenant in `X-Scope-OrgID`).
 */
import { ProfileError, printable } from '../errors.js';
import { foldedLines } from '../profile/folded.js';
import type { Profile } from '../profile/model.js';
import { encodePprof } from './pprof.js';

export { PUSH_DEFAULTS, PUSH_FORMATS, type PushFormat, type PushOptions } from './push-options.js';
import { PUSH_DEFAULTS, type PushFormat, type PushOptions } from './push-options.js';

const MAX_BACKOFF_MS = 10_000;

export interface PushRequest {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: FormData | string;
}

/** The ingest URL without credentials (safe to show), and the basic-auth header its userinfo asks for. */
function ingestUrl(server: string): { url: URL; basic?: string } {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ProfileError(`--server must be a URL such as http://localhost:4040, not ${JSON.stringify(server)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProfileError(`--server must be an http or https URL, not ${url.protocol}`);
  const basic = url.username || url.password ? Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64') : undefined;
  url.username = '';
  url.password = '';
  if (!url.pathname.endsWith('/ingest')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/ingest`;
  return { url, basic };
}

/** The time range a profile covers, in UNIX seconds, from its metadata (ending now when unknown). */
function timeRange(profile: Profile, now: number): { from: number; until: number } {
  const start = profile.metadata.startTime === undefined ? NaN : Date.parse(profile.metadata.startTime);
  const duration = profile.metadata.durationSeconds ?? 0;
  if (Number.isFinite(start)) return { from: Math.floor(start / 1000), until: Math.max(Math.floor(start / 1000) + 1, Math.ceil(start / 1000 + duration)) };
  const until = Math.ceil(now / 1000);
  return { from: Math.floor(until - Math.max(duration, 1)), until };
}

/**
 * A profile already encoded for the ingest API: what the agent queues and spools, so that a
 * restarted agent sends it as it was built. `from`/`until` are UNIX seconds.
 */
export interface EncodedPush {
  /** Application name with labels: `profile{service_name=nginx.service,hostname=web-1}`. */
  readonly name: string;
  readonly from: number;
  readonly until: number;
  readonly sampleRate?: number;
  readonly units: 'samples' | 'nanoseconds';
  readonly format: PushFormat;
  readonly body: Uint8Array;
}

/** `profile` encoded as `options` ask, covering its metadata's time range unless `range` is given. */
export function encodeForPush(profile: Profile, options: Partial<PushOptions> = {}, range?: { from: number; until: number }, now = Date.now()): EncodedPush {
  const opts = { ...PUSH_DEFAULTS, ...options };
  const { from, until } = range ?? timeRange(profile, now);
  const body = opts.format === 'pprof' ? new Uint8Array(encodePprof(profile)) : Buffer.from(foldedLines(profile).join('\n') + '\n');
  return {
    name: opts.name,
    from,
    until,
    sampleRate: profile.metadata.frequencyHz === undefined ? undefined : Math.round(profile.metadata.frequencyHz),
    units: profile.metadata.unit === 'nanoseconds' ? 'nanoseconds' : 'samples',
    format: opts.format,
    body,
  };
}

/** The request that sends `encoded` to `options.server` with its credentials. */
export function pushRequestOf(encoded: EncodedPush, options: Partial<PushOptions> & { server: string }): PushRequest {
  const opts = { ...PUSH_DEFAULTS, ...options };
  const { url, basic } = ingestUrl(opts.server);
  const params = url.searchParams;
  params.set('name', encoded.name);
  params.set('from', String(encoded.from));
  params.set('until', String(encoded.until));
  params.set('format', encoded.format);
  params.set('spyName', opts.spyName);
  if (encoded.sampleRate !== undefined) params.set('sampleRate', String(encoded.sampleRate));
  params.set('units', encoded.units);
  params.set('aggregationType', 'sum');
  const headers: Record<string, string> = { 'User-Agent': 'profile (eBPF flame-graph profiler)' };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  else if (basic) headers.Authorization = `Basic ${basic}`;
  if (opts.tenant) headers['X-Scope-OrgID'] = opts.tenant;
  let body: FormData | string;
  if (encoded.format === 'pprof') {
    body = new FormData();
    // A copy in a plain ArrayBuffer: Blob takes no view of a Buffer's possibly shared pool.
    body.append('profile', new Blob([new Uint8Array(encoded.body)], { type: 'application/octet-stream' }), 'profile.pb.gz');
  } else {
    headers['Content-Type'] = 'text/plain; charset=utf-8';
    body = Buffer.from(encoded.body).toString('utf8');
  }
  return { url, headers, body };
}

/** The request `pushProfile` sends (exposed for tests and `--dry-run`-style inspection). */
export function buildPushRequest(profile: Profile, options: Partial<PushOptions> & { server: string }, now = Date.now()): PushRequest {
  // The URL is checked first: a bad --server is reported before any encoding work.
  ingestUrl(options.server);
  return pushRequestOf(encodeForPush(profile, options, undefined, now), options);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

export interface PushResult {
  readonly status: number;
  readonly attempts: number;
  readonly url: string;
}

/**
 * Pushes `profile`, retrying what may pass on a second try (network errors, time-outs, 408, 429,
 * 5xx) with a bounded, doubling back-off. Failure is one ProfileError line naming the server (never
 * its credentials) and the last reason.
 */
export async function pushProfile(
  profile: Profile,
  options: Partial<PushOptions> & { server: string },
  log: (message: string) => void = () => undefined,
): Promise<PushResult> {
  return sendPush(buildPushRequest(profile, options), options, log);
}

/** Sends `request` with `pushProfile`'s retries and back-off; `signal` gives up at once (an agent shutting down). */
export async function sendPush(
  request: PushRequest,
  options: Partial<PushOptions>,
  log: (message: string) => void = () => undefined,
  signal?: AbortSignal,
): Promise<PushResult> {
  const opts = { ...PUSH_DEFAULTS, ...options };
  const shown = `${request.url.origin}${request.url.pathname}`;
  let delay = opts.backoffMs;
  let reason = '';
  for (let attempt = 1; attempt <= opts.retries + 1; attempt++) {
    let wait = delay;
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs),
        redirect: 'error',
      });
      if (response.ok) {
        await response.body?.cancel();
        return { status: response.status, attempts: attempt, url: shown };
      }
      const text = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
      reason = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${text ? `: ${text}` : ''}`;
      if (!retryable(response.status)) break;
      wait = Math.max(wait, Math.min(retryAfterMs(response.headers.get('retry-after')) ?? 0, MAX_BACKOFF_MS));
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      reason = (error as Error).name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : cause?.code ?? cause?.message ?? (error as Error).message;
    }
    if (signal?.aborted) break;
    if (attempt <= opts.retries) {
      log(printable(`push to ${shown} failed (${reason}); retrying in ${wait} ms`));
      await sleep(wait);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }
  throw new ProfileError(`push to ${shown} failed: ${reason}`);
}
