/** The symbolizer's options and their defaults. */
import { HOST } from '../host/index.js';
import { defaultCacheDirectory } from './cache.js';
import { CONTAINER_DEFAULTS, type ContainerOptions } from './container.js';
import { DEBUG_FILE_DEFAULTS } from './debuginfo.js';
import { debuginfodDefaults, type DebuginfodOptions } from './debuginfod.js';
import { DEMANGLE_DEFAULTS, type DemangleOptions } from './demangle.js';
import { JIT_DEFAULTS, type JitOptions } from './jit.js';
import type { SymbolHost } from './source.js';

export interface SymbolizeOptions extends DemangleOptions, ContainerOptions, JitOptions {
  /** Inlined functions as their own frames (kind `inline`) when DWARF is available. Default true (`--no-inline` turns it off). */
  readonly inline: boolean;
  /** Directories searched for separate debug files by build-id and debuglink. Default `/usr/lib/debug`. */
  readonly debugDirectories: readonly string[];
  /** Warnings (one per file or server), e.g. printed on stderr by the CLI. Default: ignored (they are also in the report). */
  readonly warn: (message: string) => void;
  /** Where kallsyms and binaries are read from. Default: this machine (src/host). */
  readonly host: SymbolHost;
}

export interface SymbolizeOptions extends DebuginfodOptions {
  /** On-disk cache of resolved addresses by build-id. Default `$XDG_CACHE_HOME/profile` (`~/.cache/profile`); undefined: none. */
  readonly cacheDirectory: string | undefined;
}

export const SYMBOLIZE_DEFAULTS: SymbolizeOptions = Object.freeze({
  ...DEMANGLE_DEFAULTS,
  ...CONTAINER_DEFAULTS,
  ...JIT_DEFAULTS,
  inline: true,
  debugDirectories: DEBUG_FILE_DEFAULTS.debugDirectories,
  ...debuginfodDefaults(),
  cacheDirectory: defaultCacheDirectory(),
  warn: () => {},
  host: HOST,
});
