/**
 * Names come from the profiled system: any byte may be in them. Everything that reaches the SVG
 * goes through `xmlText`, which makes it valid XML 1.0 character data that cannot open markup.
 */

// Characters XML 1.0 forbids (C0 but tab/LF/CR are not allowed either, since a name with a line
// break would be shown as a space), DEL and C1 (terminal escapes when the SVG is `cat`ed), lone
// surrogates (invalid UTF-16, not encodable as UTF-8), U+FFFE/U+FFFF, and the five markup characters.
const SPECIAL = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff&<>"']/;
const REPLACE = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff&<>"']|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function replacement(match: string): string {
  if (match.length === 2) return match; // a valid surrogate pair
  const entity = ENTITIES[match];
  if (entity !== undefined) return entity;
  const code = match.charCodeAt(0);
  if (code >= 0xd800) return '\ufffd';
  // Shown as `\x1b`, the same notation the folded writer uses for these bytes.
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

/** `text` as XML character data or attribute value (quoted with either quote). */
export function xmlText(text: string): string {
  return SPECIAL.test(text) ? text.replace(REPLACE, replacement) : text;
}

/**
 * The first `length` UTF-16 units of `text`, without splitting a surrogate pair (a half pair at
 * the cut would become U+FFFD rather than half a character).
 */
export function cut(text: string, length: number): string {
  if (length >= text.length) return text;
  const code = text.charCodeAt(length - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, length - 1) : text.slice(0, length);
}

/** CSS font-family lists only need letters, digits, spaces, commas, hyphens and underscores. */
export function cssFontFamily(font: string): string {
  const clean = font.replace(/[^A-Za-z0-9 ,_-]/g, '').trim();
  return clean.length > 0 ? clean : 'Verdana';
}
