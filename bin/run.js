#!/usr/bin/env node
// Node's modules through process.getBuiltinModule (Node 20.16+), not `import`: an ES module import
// of each one builds a module facade for it, ~10 ms of every start.
const builtin = process.getBuiltinModule ?? (await import('node:module')).createRequire(import.meta.url);
const { readFileSync, renameSync, writeFileSync } = builtin('node:fs');
const Module = builtin('node:module');
const { createRequire } = Module;
const { dirname } = builtin('node:path');
const { fileURLToPath } = builtin('node:url');
const { Script } = builtin('node:vm');

// A closed pipe (`profile collapse | head`) is a normal way to stop reading, not an error. Any
// other failure to write standard output (`> /dev/full`, a full disk behind `> file`) is one line
// and exit 2 like every other error, never a stack trace.
let describe = (error) => error.message;
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`profile: <stdout>: cannot write: ${describe(error)}\n`);
  process.exit(2);
});

// The whole CLI, oclif included, is one CommonJS file (scripts/bundle.js, run by `npm run build`).
const bundle = fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url));
// The bundle's import() of packages and files (scripts/bundle.js): from here, a real ES module.
globalThis[Symbol.for('profile.import')] = (specifier) => import(specifier);
const cacheFile = `${bundle}.cache`;
compileWithCodeCache();
const cli = createRequire(import.meta.url)(bundle);
describe = cli.describeFsError;
await cli.main(new URL(`file://${bundle}`).href);

/**
 * Compiles the bundle with V8's code cache (the compiled functions of an earlier run, written
 * beside it): compiling 1 MB of JavaScript was a fifth of a short command's start-up. A cache that
 * V8 rejects (another Node version or V8 flags, a rebuilt bundle) is written anew when this run
 * ends, if the directory is writable. Node's own compile cache (`module.enableCompileCache`) is
 * Node 22's; this is the same for Node 20, for this one file.
 */
function compileWithCodeCache() {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    if (filename !== bundle) return compile.call(this, content, filename);
    Module.prototype._compile = compile;
    let cachedData;
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
    const script = new Script(Module.wrap(content), { filename, cachedData });
    if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(script));
    const wrapper = script.runInThisContext();
    return wrapper.call(this.exports, this.exports, createRequire(filename), this, filename, dirname(filename));
  };
}

function writeCache(script) {
  try {
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, cacheFile);
  } catch {
    // A read-only install: every run compiles the bundle, a few tens of milliseconds slower.
  }
}
