import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { toSpeedscope } from '../../src/export/speedscope.js';
import { loadProfile } from '../../src/input/index.js';
import { writeProfile } from '../../src/output/index.js';
import { ProfileBuilder } from '../../src/profile/builder.js';
import { foldedLines } from '../../src/profile/folded.js';
import { launchBrowser, recordedPage, requireBrowser } from '../helpers/browser.js';
import { ROUND_TRIP_FILES } from './fixtures.js';

const require = createRequire(import.meta.url);
const release = join(dirname(require.resolve('speedscope/package.json')), 'dist/release');
const schema = JSON.parse(readFileSync(join(release, 'file-format-schema.json'), 'utf8'));
const validate = new Ajv({ strict: false }).compile({ ...schema, $ref: '#/definitions/FileFormat.File' });
const dir = mkdtempSync(join(tmpdir(), 'profile-speedscope-'));

function recorded() {
  const b = new ProfileBuilder();
  const main = { name: 'main', kind: 'user' as const, file: 'app.c', line: 40 };
  b.addFrames([main, { name: 'compute_hot', kind: 'user', file: 'app.c', line: 12 }], 60, { comm: 'app', pid: 100, tid: 100 });
  b.addFrames([main, { name: 'vfs_read', kind: 'kernel' }], 20, { comm: 'app', pid: 100, tid: 101 });
  b.addFrames([{ name: 'poll_loop', kind: 'user' }], 20, { comm: 'daemon', pid: 200 });
  return b.build({ title: 'speedscope test' });
}

async function write(profile: ReturnType<typeof recorded>, name: string): Promise<string> {
  const path = join(dir, name);
  await writeProfile(profile, { path });
  return path;
}

t.test('the file validates against the schema shipped with speedscope', async (t) => {
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  for (const file of [...ROUND_TRIP_FILES, 'recorded']) {
    const profile = file === 'recorded' ? recorded() : await loadProfile(file);
    const doc = JSON.parse(readFileSync(await write(profile, 'v.speedscope.json'), 'utf8'));
    t.ok(validate(doc), `${file}: ${JSON.stringify(validate.errors?.slice(0, 2))}`);
    t.same(doc, JSON.parse(JSON.stringify(toSpeedscope(profile))), 'streamed writer equals the document model');
  }
});

t.test('one sampled profile per process, shared frames with file and line', async (t) => {
  const doc = toSpeedscope(recorded());
  t.same(doc.profiles.map((p) => [p.name, p.type, p.endValue]), [['app (pid 100)', 'sampled', 80], ['daemon (pid 200)', 'sampled', 20]]);
  t.same(doc.shared.frames.find((f) => f.name === 'compute_hot'), { name: 'compute_hot', file: 'app.c', line: 12 });
  t.same(doc.shared.frames.find((f) => f.name === 'vfs_read'), { name: 'vfs_read', file: '[kernel.kallsyms]' });
  const hot = doc.shared.frames.findIndex((f) => f.name === 'compute_hot');
  t.ok(doc.profiles[0]!.samples.some((s) => s[s.length - 1] === hot), 'samples are root-first frame indices');
});

t.test('folded → speedscope → folded is identical on real fixture files', async (t) => {
  for (const file of ROUND_TRIP_FILES) {
    const profile = await loadProfile(file);
    const back = await loadProfile(await write(profile, 'rt.speedscope.json'));
    t.same(foldedLines(back), foldedLines(profile), file);
  }
  const profile = recorded();
  const back = await loadProfile(await write(profile, 'rec.speedscope.json'));
  t.same(foldedLines(back, { processFrame: 'comm-pid', annotateKernel: true }), foldedLines(profile, { processFrame: 'comm-pid', annotateKernel: true }), 'processes and kernel frames come back');
});

t.test('the speedscope viewer loads the file and shows the frames', async (t) => {
  if (!requireBrowser(t)) return;
  const file = await write(recorded(), 'view.speedscope.json');
  // speedscope's #localProfilePath loads a script that hands it the file (what its CLI writes).
  const loader = join(dir, 'load.js');
  writeFileSync(loader, `speedscope.loadFileFromBase64(${JSON.stringify('view.speedscope.json')}, ${JSON.stringify(readFileSync(file).toString('base64'))});\n`);
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const url = `${pathToFileURL(join(release, 'index.html')).href}#localProfilePath=${loader}`; // speedscope prefixes file:// itself;
  const { page, record } = await recordedPage(browser.browser, url);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.innerText.includes('Time Order'), { timeout: 30_000 });
  t.same(record.pageErrors, [], 'no page error');
  t.same(record.dialogs, [], 'no alert (speedscope alerts on files it cannot import)');
  const text = await page.evaluate(() => document.body.innerText);
  t.match(text, /app \(pid 100\)/, 'the first process is the active profile');
  t.match(text, /1\/2/, 'two profiles, one per process');
  // The flame chart is WebGL; the Sandwich view (key 3) lists every function as text with its weights.
  await page.keyboard.press('3');
  // The table's header comes first and its rows a frame or more later.
  await page.waitForFunction(() => document.body.innerText.includes('Symbol Name') && document.body.innerText.includes('compute_hot'), { timeout: 10_000 });
  const sandwich = (await page.evaluate(() => document.body.innerText)).replace(/\s+/g, ' ');
  t.match(sandwich, /60 \(75%\) 60 \(75%\) compute_hot/, 'compute_hot: 60 of the process\'s 80 samples, all self');
  t.match(sandwich, /20 \(25%\) 20 \(25%\) vfs_read/);
  t.match(sandwich, /80 \(100%\) 0 \(<0\.01%\) main/);
  t.same(record.pageErrors, [], 'still no page error');
});
