import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// templates/ sits three levels above both src/render/svg/ and dist/render/svg/, and ships in the
// package ("files" in package.json), so the same path works from a checkout and an install.
const DIR = fileURLToPath(new URL('../../../templates/svg/', import.meta.url));

export interface SvgTemplates {
  readonly script: string;
  readonly style: string;
}

let cached: SvgTemplates | undefined;

/** The SVG's browser script and style sheet, read once per process. */
export function svgTemplates(): SvgTemplates {
  if (!cached) {
    const script = readFileSync(`${DIR}script.js`, 'utf8');
    const style = readFileSync(`${DIR}style.css`, 'utf8');
    // Both go into CDATA sections: `]]>` would end one early.
    if (script.includes(']]>') || style.includes(']]>')) throw new Error('templates/svg must not contain "]]>"');
    cached = { script, style };
  }
  return cached;
}
