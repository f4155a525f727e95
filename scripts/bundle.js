#!/usr/bin/env node
// Bundles the CLI (run by `npm run build`, `prepare` and `pretest`, after tsc) into one CommonJS
// file, dist/bundle/cli.cjs, that bin/run.js loads: oclif and every command's flags run when it
// loads; what a command runs is in the same file but only evaluated when the command imports it
// (esbuild wraps each such module in a function), so `profile collapse` never loads the recorder,
// the symbolizer, koffi or a browser driver. One file instead of ~250 modules to find, read and
// link, and a V8 code cache beside it (cli.cjs.cache, written here by a first run), are most of the
// start-up time saved (docs/development.md, "Start-up"). Packages with native code or files of
// their own (koffi, puppeteer-core …) stay in node_modules.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const BUNDLED = new Set(['@oclif/core']);
// What oclif loads only for TypeScript sources or plugins, never here: left out of the bundle.
const OCLIF_OPTIONAL = ['typescript', 'source-map-support'];

// Modules find files beside them (templates/, bpf/, node_modules) from import.meta.url, counted
// from where tsc puts them (dist/render/html/page.js …): in the bundle each one's import.meta.url
// becomes that same URL, so both builds find the same files. And `await import(x)` of a package
// or file (not of a module of ours, which esbuild bundles) goes through bin/run.js's import: an
// import() compiled from a V8 code cache fails in Node 20 ("A dynamic import callback was not
// specified").
const BUNDLE_URL = '__profileBundleUrl';
const IMPORT = '__profileImport';
const banner = [
  `var ${BUNDLE_URL} = require('node:url').pathToFileURL(__filename).href;`,
  `var ${IMPORT} = globalThis[Symbol.for('profile.import')] ?? ((specifier) => import(specifier));`,
].join('\n');
const distUrls = {
  name: 'dist-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url') && !EXTERNAL_IMPORT.test(source)) return undefined;
      const target = relative(outdir, join(root, 'dist', relative(join(root, 'src'), args.path))).replace(/\.ts$/, '.js');
      const contents = source
        .replaceAll('import.meta.url', `new URL(${JSON.stringify(target)}, ${BUNDLE_URL}).href`)
        .replace(new RegExp(EXTERNAL_IMPORT.source, 'g'), `await ${IMPORT}(`);
      return { contents, loader: 'ts' };
    });
  },
};
// `await import(` not followed by a relative path: a package or a file URL.
const EXTERNAL_IMPORT = /\bawait import\((?!\s*['"]\.)/;

rmSync(outdir, { recursive: true, force: true });
// An oclif.manifest.json left from an older build would make oclif list stale commands and flags.
rmSync(join(root, 'oclif.manifest.json'), { force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: [...Object.keys(pkg.dependencies).filter((name) => !BUNDLED.has(name)), ...OCLIF_OPTIONAL],
  banner: { js: banner },
  plugins: [distUrls],
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
if (process.env.BUNDLE_METAFILE) (await import('node:fs')).writeFileSync(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));

// A first run writes the code cache (bin/run.js): a small collapse, so that the cache holds what
// oclif and the commonest command compile, not only the start of every command.
const SAMPLE = 'bundle 1 1.0: 1 cpu-clock:\n\tffffffff81000000 schedule ([kernel.kallsyms])\n\t401000 main (/bin/true)\n\n';
const env = { ...process.env };
delete env.NODE_OPTIONS;
const first = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'collapse'], { input: SAMPLE, env, encoding: 'utf8' });
if (first.status !== 0) {
  console.error(`bundle: the first run of the bundled CLI failed (exit ${first.status}): ${first.stderr}`);
  process.exit(1);
}
console.log(`dist/bundle/cli.cjs: ${(bytes / 1024).toFixed(0)} KiB, code cache written by a first run`);
