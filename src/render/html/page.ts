import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProfileError } from '../../errors.js';
import type { ReportData } from './data.js';
import { packReport } from './pack.js';

// src/render/html and dist/render/html sit at the same depth under the package root.
const ROOT = new URL('../../../', import.meta.url);
const TEMPLATES = fileURLToPath(new URL('templates/html/', ROOT));
/** The page's script, d3-flame-graph and its d3 modules in one file, bundled by scripts/bundle-report.js at build time. */
const BUNDLE = fileURLToPath(new URL('dist/report/', ROOT));

interface Templates {
  readonly page: string;
  readonly style: string;
  readonly script: string;
}

let templates: Templates | undefined;

function loadTemplates(): Templates {
  if (templates) return templates;
  let script: string;
  let bundledStyle: string;
  try {
    script = readFileSync(`${BUNDLE}report.js`, 'utf8');
    bundledStyle = readFileSync(`${BUNDLE}report.css`, 'utf8');
  } catch {
    throw new ProfileError(`the HTML report's script is not built (${BUNDLE}report.js): run npm run build`);
  }
  templates = {
    page: readFileSync(`${TEMPLATES}page.html`, 'utf8'),
    // d3-flame-graph's own rules first, so the report's style can override them.
    style: `${bundledStyle.trim()}\n${readFileSync(`${TEMPLATES}style.css`, 'utf8')}`,
    script,
  };
  return templates;
}

/**
 * JSON that is safe inside `<script type="application/json">`: no `<`, `>` or `&` (so no
 * `</script>` or `<!--` can end or alter the element), and nothing outside ASCII (U+2028/U+2029
 * included). JSON.stringify already writes lone surrogates as `\udxxx` escapes. An all-ASCII page
 * also decodes on chromium's fast path: ~60 ms less before the script runs on a 1.3 MB report.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Text for an HTML text node or attribute: markup characters escaped, lone surrogates and
 * control characters replaced, anything outside ASCII as a character reference (see `embedJson`).
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd')
    .replace(/[&<>"']|[^\u0000-\u007f]/gu, (c) => `&#${c.codePointAt(0)};`);
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The whole page as one string. The Content-Security-Policy allows exactly our one inline script
 * and one inline style (by hash), images only from data: URLs, and nothing from the network, so
 * even a name that slipped through as markup could neither run script nor fetch anything.
 */
export function assemblePage(data: ReportData): string {
  const { page, style, script } = loadTemplates();
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const values: Record<string, string> = {
    CSP: escapeHtml(csp),
    TITLE: escapeHtml(data.title),
    STYLE: style,
    SCRIPT: script,
    DATA: embedJson(packReport(data)),
  };
  // Split on the placeholders rather than String.replace, whose `$&`-style patterns would act on
  // replacement text that comes from the profile.
  return page.split(/\{\{([A-Z]+)\}\}/).map((part, i) => (i % 2 === 1 ? values[part] ?? '' : part)).join('');
}
