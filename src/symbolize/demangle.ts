/**
 * C++ (Itanium) and Rust (legacy and v0) demangling through the WASM build of the demangler the
 * Firefox Profiler uses (`gecko-profiler-demangle`, Rust's `cpp_demangle` + `rustc-demangle`).
 *
 * Reference: https://github.com/mstange/gecko-profiler-demangle
 *
 * The package's entry point imports its `.wasm` as an ES module, which Node 20 refuses
 * (ERR_UNKNOWN_FILE_EXTENSION), so the shipped `.wasm` is compiled here by hand and handed to the
 * package's own wasm-bindgen glue (`index_bg.js`), which does the string marshalling.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface Demangler {
  /** The readable form of `name`, or `name` itself when it is not mangled or cannot be demangled. */
  demangle(name: string): string;
}

// Just what is used here: the project's `lib` (ES2022) has no WebAssembly declarations.
declare namespace WebAssembly {
  type Exports = Record<string, unknown>;
  type ModuleImports = Record<string, unknown>;
  interface Module {}
  interface Instance {
    readonly exports: Exports;
  }
  // Synchronous compilation: allowed for any size outside browsers' main threads.
  const Module: new (bytes: Uint8Array) => Module;
  const Instance: new (module: Module, imports: Record<string, ModuleImports>) => Instance;
}

/** What the wasm-bindgen glue module exports (it has no type declarations of its own). */
interface Glue {
  demangle_any(name: string): string;
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
}

// `_Z` Itanium C++ and Rust legacy (`_ZN…17h<hash>E`), `_R` Rust v0; a second leading underscore
// is the Mach-O form, seen in symbols copied from macOS tools.
const MANGLED = /^_{1,2}[ZR]/;

/** True when `name` looks like a mangled C++ or Rust symbol (a cheap test before the WASM call). */
export function isMangled(name: string): boolean {
  return MANGLED.test(name);
}

export interface DemangleOptions {
  /** Show C++ and Rust names demangled (`--no-demangle` turns it off). Default true. */
  readonly demangle: boolean;
}

export const DEMANGLE_DEFAULTS: DemangleOptions = Object.freeze({ demangle: true });

/** The demangler the options ask for. */
export function demanglerFor(options: Partial<DemangleOptions> = {}): Promise<Demangler> {
  return (options.demangle ?? DEMANGLE_DEFAULTS.demangle) ? loadDemangler() : Promise.resolve(IDENTITY_DEMANGLER);
}

let loading: Promise<Demangler> | undefined;

/**
 * The demangler, loaded once per process. Its 0.5 MB module is compiled on the first name to
 * demangle (~10 ms): a run whose names all come demangled from the on-disk cache never compiles it.
 */
export function loadDemangler(): Promise<Demangler> {
  loading ??= instantiate();
  return loading;
}

/** A demangler that leaves every name as it is (`--no-demangle`). */
export const IDENTITY_DEMANGLER: Demangler = Object.freeze({ demangle: (name: string) => name });

async function instantiate(): Promise<Demangler> {
  const require = createRequire(import.meta.url);
  const gluePath = require.resolve('gecko-profiler-demangle/index_bg.js');
  const wasmPath = require.resolve('gecko-profiler-demangle/index_bg.wasm');
  const glue = (await import(pathToFileURL(gluePath).href)) as Glue;
  let ready = false;
  const start = (): void => {
    const module = new WebAssembly.Module(readFileSync(wasmPath));
    // The module imports its helpers from the glue under the name the bundler would have used.
    const instance = new WebAssembly.Instance(module, { './index_bg.js': glue as unknown as WebAssembly.ModuleImports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    ready = true;
  };
  return Object.freeze({
    demangle: (name: string) => {
      if (!isMangled(name)) return name;
      if (!ready) start();
      return demangleWith(glue, name);
    },
  });
}

function demangleWith(glue: Glue, name: string): string {
  if (!isMangled(name)) return name;
  // ThinLTO renames promoted local symbols `x.llvm.<hash of the module>`; the hash changes with
  // every build and says nothing about the function, so it would only split a flame graph's frames.
  const input = name.replace(LLVM_SUFFIX, '');
  let out: string;
  try {
    out = glue.demangle_any(input);
  } catch {
    // A Rust panic inside the module surfaces as a JS exception; a name is never worth a crash.
    return name;
  }
  // When no demangler accepts a name, one of them still strips its leading underscore (seen on
  // v8's SFINAE templates that c++filt handles); the mangled name says more than that.
  if (out.length === 0 || out === input.slice(1) || out === input.slice(2)) return name;
  // cpp_demangle reads the first parameter of a templated constructor as its return type, so the
  // parameter list it prints is wrong (`pair<A&, B&>::pair<…>(B&)`); drop it rather than mislead.
  if (TEMPLATED_CONSTRUCTOR.test(input)) return dropParameters(out);
  return out;
}

const LLVM_SUFFIX = /\.llvm\.\d+$/;
const TEMPLATED_CONSTRUCTOR = /C[1-5]I/;

/** `a::b<c>(d, e(f))` → `a::b<c>`; anything not ending in a parameter list is returned as is. */
function dropParameters(name: string): string {
  if (!name.endsWith(')')) return name;
  let depth = 0;
  for (let i = name.length - 1; i >= 0; i--) {
    const c = name[i];
    if (c === ')') depth++;
    else if (c === '(' && --depth === 0) return name.slice(0, i);
  }
  return name;
}
