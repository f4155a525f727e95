/**
 * JavaScript frames named by a perf map, mapped back through the script's source map to the
 * original (TypeScript, bundled, minified …) file, line and function.
 *
 * V8 names JIT code `TYPE:TIERname SCRIPT:LINE:COLUMN`, where TYPE is `JS` (node ≥ 18; `LazyCompile`,
 * `Function`, `Script` or `Eval` in older V8s), TIER is `~` (interpreted), `^` (Sparkplug), `+`
 * (Maglev) or `*` (TurboFan), SCRIPT an absolute path, a `file://` URL (ES modules) or `node:…`,
 * and LINE:COLUMN (both 1-based) the function's start, not the sampled instruction: a JIT frame
 * can only be mapped to the function's declaration, never to the hot line inside it.
 *
 * Source maps: `//# sourceMappingURL=` (a file relative to the script, or an inline `data:` URL),
 * else `SCRIPT.map` beside it. Parsing uses `source-map` 0.8, whose WASM core (`mappings.wasm`) is
 * read from its own package directory at run time, so node_modules must ship with the CLI.
 *
 * Reference: https://tc39.es/source-map/ ; V8's name format: src/logging/log.cc (PerfBasicLogger).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceMapConsumer, type BasicSourceMapConsumer, type IndexedSourceMapConsumer, type RawSourceMap } from 'source-map';
import { excerpt } from '../errors.js';
import { readRegularFile } from '../host/files.js';

/** A perf-map name of JavaScript code, taken apart. */
export interface JsCodeName {
  readonly type: string;
  /** `~`, `^`, `+`, `*` or empty. */
  readonly tier: string;
  /** Empty for anonymous functions and top-level code. */
  readonly func: string;
  /** As V8 wrote it: a path, a `file://` URL, `node:…`. */
  readonly script: string;
  readonly line: number;
  /** 1-based; 0 when V8 wrote none (older versions). */
  readonly column: number;
}

// The name may contain spaces (`get total`), the script too: the script is taken to start at the
// first space followed by something that looks like one.
const JS_NAME = /^(JS|LazyCompile|Function|Script|Eval):([~^+*]?)(.*?) ?((?:\/|file:\/\/|node:|https?:\/\/|webpack:\/\/)[^\n]*?):(\d+)(?::(\d+))?$/;

export function parseJsCodeName(name: string): JsCodeName | undefined {
  const match = JS_NAME.exec(name);
  if (!match) return undefined;
  return { type: match[1]!, tier: match[2]!, func: match[3]!, script: match[4]!, line: Number(match[5]), column: match[6] === undefined ? 0 : Number(match[6]) };
}

/** A JavaScript frame as shown: mapped to its original source when a source map says where. */
export interface JsFrame {
  /** `func file:line:column`, so that functions with one name in different files stay apart. */
  readonly name: string;
  readonly func: string;
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  /** True when the position came from a source map. */
  readonly mapped: boolean;
}

export interface SourceMapsOptions {
  /** Called once per script whose source map could not be used. */
  readonly warn?: (message: string) => void;
  /** Reads a file as the profiled process sees it (prefixing `/proc/PID/root`); undefined when absent. */
  readonly readFile?: (path: string) => string | undefined;
  /** Largest script or map read. */
  readonly maxBytes?: number;
}

type Consumer = BasicSourceMapConsumer | IndexedSourceMapConsumer;

interface ScriptMap {
  readonly consumer: Consumer;
  readonly mapPath: string;
  /** Where relative `sources` resolve from. */
  readonly mapDir: string;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The source maps of one run's scripts, loaded once per script. Call `destroy()` at the end:
 * the WASM consumers hold memory outside the JS heap.
 */
export class SourceMaps {
  private readonly scripts = new Map<string, Promise<ScriptMap | undefined>>();
  private readonly frames = new Map<string, Promise<JsFrame | undefined>>();
  /** Maps that failed a look-up: not used again (one warning). */
  private readonly broken = new Set<ScriptMap>();
  private readonly warn: (message: string) => void;
  private readonly readFile: (path: string) => string | undefined;
  private readonly maxBytes: number;
  private destroyed = false;

  constructor(options: SourceMapsOptions = {}) {
    this.warn = options.warn ?? (() => undefined);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.readFile = options.readFile ?? ((path) => readRegularFile(path, this.maxBytes));
  }

  /**
   * The frame for a perf-map name, or undefined when the name is not JavaScript code.
   * `root` is prefixed to every path read (`/proc/PID/root` for a process in a container, `''` on the host).
   */
  frameFor(name: string, root = ''): Promise<JsFrame | undefined> {
    const key = `${root}\0${name}`;
    let frame = this.frames.get(key);
    if (frame === undefined) {
      frame = this.resolveFrame(name, root);
      this.frames.set(key, frame);
    }
    return frame;
  }

  destroy(): void {
    this.destroyed = true;
    for (const script of this.scripts.values()) void script.then((s) => s?.consumer.destroy());
    this.scripts.clear();
    this.frames.clear();
  }

  private async resolveFrame(name: string, root: string): Promise<JsFrame | undefined> {
    const code = parseJsCodeName(name);
    if (code === undefined) return undefined;
    const path = scriptPath(code.script);
    const plain = jsFrame(code.func, path ?? code.script, code.line, code.column, false);
    if (path === undefined || code.line === 0) return plain;
    const map = await this.scriptMap(path, root);
    if (map === undefined || this.destroyed) return plain;
    // source-map lines are 1-based, columns 0-based; V8's column is 1-based.
    const at = { line: code.line, column: Math.max(0, code.column - 1) };
    if (this.broken.has(map)) return plain;
    let original: ReturnType<Consumer['originalPositionFor']>;
    try {
      original = map.consumer.originalPositionFor({ ...at, bias: SourceMapConsumer.GREATEST_LOWER_BOUND });
      if (original.source === null || original.line === null) original = map.consumer.originalPositionFor({ ...at, bias: SourceMapConsumer.LEAST_UPPER_BOUND });
    } catch (error) {
      // source-map checks lazily: an indexed map's sections are parsed, and a mapping's source
      // and name indexes checked, only when a look-up reaches them (found by fuzzing).
      this.broken.add(map);
      this.warn(`${path}: source map not used: ${map.mapPath}: bad mappings (${excerpt((error as Error).message, 120)})`);
      return plain;
    }
    if (original.source === null || original.line === null) return plain;
    const file = sourcePath(original.source, map.mapDir);
    return jsFrame(original.name ?? code.func, file, original.line, original.column === null ? undefined : original.column + 1, true);
  }

  private scriptMap(path: string, root: string): Promise<ScriptMap | undefined> {
    const key = `${root}\0${path}`;
    let map = this.scripts.get(key);
    if (map === undefined) {
      map = this.loadScriptMap(path, root).catch((error: unknown) => {
        this.warn(`${path}: source map not used: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
      this.scripts.set(key, map);
    }
    return map;
  }

  private read(path: string, root: string): string | undefined {
    const text = this.readFile(root + path);
    if (text !== undefined && text.length > this.maxBytes) throw new Error(`${path} is larger than ${this.maxBytes} bytes`);
    return text;
  }

  private async loadScriptMap(path: string, root: string): Promise<ScriptMap | undefined> {
    const script = this.read(path, root);
    if (script === undefined) return undefined; // gone or unreadable: the JS name stays
    let mapText: string | undefined;
    let mapPath: string;
    const url = sourceMappingUrl(script);
    if (url !== undefined && url.startsWith('data:')) {
      mapText = decodeDataUrl(url);
      mapPath = path;
    } else if (url !== undefined) {
      mapPath = url.startsWith('file://') ? fileURLToPath(url) : resolve(dirname(path), decodeURIComponent(url));
      // We may run as root and the script is the profiled program's: it does not get to make us
      // parse any file it likes (/etc/shadow) as a source map.
      if (!mapPath.endsWith('.map')) throw new Error(`its sourceMappingURL ${excerpt(url)} does not name a .map file`);
      mapText = this.read(mapPath, root);
      if (mapText === undefined) throw new Error(`its sourceMappingURL ${excerpt(url)} cannot be read`);
    } else {
      mapPath = `${path}.map`;
      mapText = this.read(mapPath, root);
      if (mapText === undefined) return undefined; // no source map: plain JavaScript
    }
    let raw: RawSourceMap;
    try {
      raw = JSON.parse(mapText) as RawSourceMap;
    } catch {
      // Not the parser's message: it quotes the file's first bytes, which are not ours to show.
      throw new Error(`${mapPath}: not JSON`);
    }
    if (typeof raw !== 'object' || raw === null || (typeof raw.mappings !== 'string' && !('sections' in raw))) throw new Error(`${mapPath}: not a source map (no "mappings")`);
    if ('sections' in raw) checkSections((raw as { sections: unknown }).sections, mapPath);
    let consumer: Consumer;
    try {
      consumer = await new SourceMapConsumer(raw);
    } catch (error) {
      throw new Error(`${mapPath}: ${(error as Error).message}`);
    }
    // The WASM parser is lazy: bad mappings only fail on the first lookup, so fail them here.
    try {
      consumer.originalPositionFor({ line: 1, column: 0 });
    } catch (error) {
      consumer.destroy();
      throw new Error(`${mapPath}: bad mappings (${(error as Error).message})`);
    }
    if (this.destroyed) {
      consumer.destroy();
      return undefined;
    }
    return { consumer, mapPath, mapDir: dirname(mapPath) };
  }
}

/**
 * source-map 0.8 starts a consumer for each section while it still checks the next one: a bad
 * later section then throws with the earlier consumers' promises unobserved (an unhandled
 * rejection, which ends node, or WASM memory never freed). So the sections are checked first.
 */
function checkSections(sections: unknown, mapPath: string, depth = 0): void {
  if (!Array.isArray(sections) || depth > 8) throw new Error(`${mapPath}: "sections" is not a list`);
  let last = { line: -1, column: 0 };
  for (const section of sections as unknown[]) {
    const s = section as { offset?: { line?: unknown; column?: unknown }; map?: unknown; url?: unknown } | null;
    const offset = s?.offset;
    const ok = typeof s === 'object' && s !== null && s.url === undefined && typeof s.map === 'object' && s.map !== null && typeof offset === 'object' && offset !== null && Number.isInteger(offset.line) && Number.isInteger(offset.column);
    if (!ok) throw new Error(`${mapPath}: a section without "offset" {line, column} and an inline "map"`);
    const at = { line: offset.line as number, column: offset.column as number };
    if (at.line < last.line || (at.line === last.line && at.column < last.column)) throw new Error(`${mapPath}: section offsets out of order`);
    last = at;
    if ('sections' in (s.map as object)) checkSections((s.map as { sections: unknown }).sections, mapPath, depth + 1);
  }
}

function jsFrame(func: string, file: string, line: number, column: number | undefined, mapped: boolean): JsFrame {
  const shown = func === '' ? '(anonymous)' : func;
  const where = line === 0 ? file : column === undefined || column === 0 ? `${file}:${line}` : `${file}:${line}:${column}`;
  return { name: `${shown} ${where}`, func: shown, file, line, column: column === 0 ? undefined : column, mapped };
}

/** A file path for a script V8 named, or undefined for `node:` internals and remote URLs. */
function scriptPath(script: string): string | undefined {
  if (script.startsWith('/')) return script;
  if (script.startsWith('file://')) {
    try {
      return fileURLToPath(script);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Absolute path of an original source (`sources[i]`, with `sourceRoot` already applied by source-map). */
function sourcePath(source: string, mapDir: string): string {
  if (source.startsWith('file://')) {
    try {
      return fileURLToPath(source);
    } catch {
      return source;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) return source; // webpack://, http://: shown as written
  return isAbsolute(source) ? source : resolve(mapDir, source);
}

/**
 * The URL of the last `//# sourceMappingURL=` (or the old `//@`) comment, which wins as in browsers
 * and node. Searched from the end: the comment closes the file, and a bundle can be 10 MB.
 */
function sourceMappingUrl(script: string): string | undefined {
  const KEY = 'sourceMappingURL=';
  for (let at = script.lastIndexOf(KEY); at >= 0; at = at === 0 ? -1 : script.lastIndexOf(KEY, at - 1)) {
    const before = script.slice(Math.max(0, at - 4), at);
    if (!/\/\/[#@] ?$/.test(before)) continue;
    const match = /^[^\s'"]+/.exec(script.slice(at + KEY.length, at + KEY.length + 256 * 1024 * 1024));
    if (match) return match[0];
  }
  return undefined;
}

function decodeDataUrl(url: string): string {
  const comma = url.indexOf(',');
  if (comma < 0) throw new Error('inline source map: malformed data: URL');
  const meta = url.slice(5, comma);
  const data = url.slice(comma + 1);
  return meta.split(';').includes('base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data);
}
