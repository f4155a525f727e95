/** Options of a push (src/export/push.ts), apart so that the CLI's flags load without the pusher. */
export const PUSH_FORMATS = ['pprof', 'folded'] as const;
export type PushFormat = (typeof PUSH_FORMATS)[number];

export interface PushOptions {
  /** Server base URL (`http://pyroscope:4040`) or the full ingest URL; `user:password@` becomes basic auth. */
  readonly server: string;
  /** Application name, with optional labels: `myapp{env=prod}`. For pprof Pyroscope appends the profile type (`myapp.cpu`). Default `profile`. */
  readonly name: string;
  /** Body format. pprof keeps processes as labels and the exact sample period. Default `pprof`. */
  readonly format: PushFormat;
  /** Bearer token (Authorization: Bearer …); the CLI also reads PROFILE_PUSH_TOKEN. Default none. */
  readonly token?: string;
  /** Tenant for multi-tenant servers (X-Scope-OrgID). Default none. */
  readonly tenant?: string;
  /** `spyName` query parameter. Default `ebpfspy` (what Pyroscope calls eBPF profilers). */
  readonly spyName: string;
  /** Attempts after the first one, for network errors, 408, 429 and 5xx. Default 3. */
  readonly retries: number;
  /** First back-off in ms, doubled per retry (capped at 10 s) and honouring Retry-After. Default 500. */
  readonly backoffMs: number;
  /** Per-request time-out in ms. Default 30000. */
  readonly timeoutMs: number;
}

export const PUSH_DEFAULTS: PushOptions = Object.freeze({
  server: '',
  name: 'profile',
  format: 'pprof',
  spyName: 'ebpfspy',
  retries: 3,
  backoffMs: 500,
  timeoutMs: 30_000,
});
