#!/usr/bin/env node
// Bundles the HTML report's browser script (templates/html/report/main.js) with d3-flame-graph
// and the d3 modules it imports into one minified file, dist/report/report.js, and the CSS its ES
// build imports into dist/report/report.css. The report inlines both, so the page needs no network.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// A warning here has meant code missing from the page (an import dropped as free of side
// effects), which shows only as a wrong drawing in a browser: any warning fails the build.
const result = await build({
  entryPoints: [`${root}templates/html/report/main.js`],
  outfile: `${root}dist/report/report.js`,
  bundle: true,
  format: 'iife',
  minify: process.env.REPORT_BUNDLE_DEBUG !== '1',
  target: 'chrome110',
  // d3-flame-graph tells its hierarchy nodes from raw data by the class name `Node`.
  keepNames: true,
  legalComments: 'none',
  banner: { js: '/* d3-flame-graph 5 (Apache-2.0, Martin Spier) and d3 modules (ISC, Mike Bostock), bundled. */' },
  logLevel: 'warning',
});
if (result.warnings.length > 0) throw new Error(`bundling the report script gave ${result.warnings.length} warning(s), see above`);

// The script is inlined in a <script> element: text that would end or alter that element must not
// appear in it, and the page stays ASCII (src/render/html/page.ts).
for (const name of ['report.js', 'report.css']) {
  const text = readFileSync(`${root}dist/report/${name}`, 'utf8');
  if (/<\/script|<!--|<script/i.test(text)) throw new Error(`dist/report/${name} contains markup that would break the inline element`);
  if (/[^\x00-\x7f]/.test(text)) throw new Error(`dist/report/${name} is not ASCII`);
}
