// PNG through Debian's chromium: a real image of the SVG or the HTML report, and one clear line
// when chromium is missing. ~6 s.
import t from 'tap';
import { Readable } from 'node:stream';
import { readFolded } from '../../src/profile/folded.js';
import { markupToPng, writePng } from '../../src/render/png.js';
import { ProfileError } from '../../src/errors.js';
import { requireBrowser } from '../helpers/browser.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const size = (png: Uint8Array) => {
  const b = Buffer.from(png);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
};

t.test('markup becomes a PNG of the drawn size', async (t) => {
  if (!requireBrowser(t)) return;
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="321" height="45"><rect width="321" height="45" fill="red"/></svg>';
  const png = await markupToPng(svg, 'svg');
  t.same(Buffer.from(png.subarray(0, 8)), PNG_SIGNATURE);
  t.same(size(png), { width: 321, height: 45 });
});

t.test('writePng draws the profile (SVG by default, or the HTML report)', async (t) => {
  if (!requireBrowser(t)) return;
  const profile = await readFolded(Readable.from(['main;work 3\nmain;idle 1\n']), 'x.folded');
  const chunks: Uint8Array[] = [];
  await writePng(profile, { write: (c) => void chunks.push(c as Uint8Array) }, { render: { width: 800 } });
  t.same(size(chunks[0]!).width, 800);
  const html: Uint8Array[] = [];
  await writePng(profile, { write: (c) => void html.push(c as Uint8Array) }, { render: { png: { source: 'html', viewportWidth: 900 } } });
  t.same(size(html[0]!).width, 900);
  t.ok(size(html[0]!).height > 300, 'the whole report page');
});

t.test('without chromium: one line saying how to install it', async (t) => {
  const error = await markupToPng('<svg/>', 'svg', { executablePath: '/nonexistent/chromium' }).catch((e: unknown) => e);
  t.type(error, ProfileError);
  t.equal((error as ProfileError).toLine(), 'profile: PNG output needs chromium, not found at /nonexistent/chromium; install chromium: apt-get install chromium');
});
