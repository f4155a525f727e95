/**
 * Debug files from debuginfod servers (`DEBUGINFOD_URLS`, space-separated), fetched with plain
 * HTTP `GET /buildid/ID/debuginfo` — the same files libdebuginfod fetches — into the same cache
 * layout (`$DEBUGINFOD_CACHE_PATH` or `~/.cache/debuginfod_client/ID/debuginfo`), so a file either
 * tool fetched serves both.
 *
 * A profiler must not hang on the network: all fetches of a run go out in parallel, each server
 * gets a timeout, a server that fails once (timeout, refused, 5xx) is not asked again in the run
 * and is reported once; a 404 is an answer, not a failure.
 *
 * Reference: https://sourceware.org/elfutils/Debuginfod.html
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface DebuginfodOptions {
  /** Server URLs. Default: `DEBUGINFOD_URLS` split on spaces (none: no fetching). */
  readonly debuginfodUrls: readonly string[];
  /** Cache directory. Default: `DEBUGINFOD_CACHE_PATH`, else `~/.cache/debuginfod_client`. */
  readonly debuginfodCache: string;
  /** Per request. Default 5000 ms (`DEBUGINFOD_TIMEOUT` seconds when set). */
  readonly debuginfodTimeoutMs: number;
}

export function debuginfodDefaults(env: NodeJS.ProcessEnv = process.env): DebuginfodOptions {
  const timeout = Number(env.DEBUGINFOD_TIMEOUT);
  return {
    debuginfodUrls: (env.DEBUGINFOD_URLS ?? '').split(/\s+/).filter((u) => /^https?:\/\//.test(u)),
    debuginfodCache: env.DEBUGINFOD_CACHE_PATH || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'debuginfod_client'),
    debuginfodTimeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 5000,
  };
}

/** What the host does for this module: one download into a file, atomically. */
export type Download = (url: string, destination: string, timeoutMs: number) => Promise<{ readonly ok: true } | { readonly ok: false; readonly missing: boolean; readonly reason: string }>;

export class Debuginfod {
  private readonly failed = new Set<string>();

  constructor(
    private readonly options: DebuginfodOptions,
    private readonly download: Download,
    private readonly exists: (path: string) => boolean,
    private readonly warn: (message: string) => void,
  ) {}

  get enabled(): boolean {
    return this.options.debuginfodUrls.length > 0;
  }

  cachePath(buildId: string): string {
    return join(this.options.debuginfodCache, buildId, 'debuginfo');
  }

  /** The cached or fetched debug file of `buildId`, or undefined. Servers are tried in order. */
  async fetch(buildId: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{8,128}$/.test(buildId)) return undefined;
    const path = this.cachePath(buildId);
    if (this.exists(path)) return path;
    for (const server of this.options.debuginfodUrls) {
      if (this.failed.has(server)) continue;
      const result = await this.download(`${server.replace(/\/+$/, '')}/buildid/${buildId}/debuginfo`, path, this.options.debuginfodTimeoutMs);
      if (result.ok) return path;
      if (!result.missing && !this.failed.has(server)) {
        this.failed.add(server);
        this.warn(`debuginfod ${server}: ${result.reason}; not asked again in this run`);
      }
    }
    return undefined;
  }
}
