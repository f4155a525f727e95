// The leak check itself (test/helpers/bpf.ts): a recorder outside this test's process tree — what
// a concurrent test run or a peer looks like — is not counted as ours although its programs and
// maps carry our names, while this test's own recorder is, by the pid that holds the descriptors.
// About 6 s.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfMark, bpfObjects, createdSince, isOurProcess, leakedSince, ourBpfNames } from '../helpers/bpf.js';
import { BIN, ROOT, cliEnv, cliSpawnArgs } from '../helpers/cli.js';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-leakcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const until = async (what: () => boolean, ms = 15000): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (what()) return true;
    return false;
  };

  t.test('objects are attributed by the pid holding them, not by name', async (t) => {
    const mark = bpfMark();
    // A recorder in its own session whose parent exits at once: reparented, not our descendant.
    const pidFile = join(dir, 'foreign.pid');
    spawnSync('setsid', ['-f', 'sh', '-c', `echo $$ > ${pidFile}; exec env -u NODE_OPTIONS ${process.execPath} ${BIN} record -F 99 --duration 4 -o ${join(dir, 'foreign.folded')}`], { env: cliEnv(), stdio: 'ignore' });
    t.ok(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== ''), 'the foreign recorder started');
    const foreign = Number(readFileSync(pidFile, 'utf8'));
    t.notOk(isOurProcess(foreign), `pid ${foreign} is not in this test's process tree`);
    const names = ourBpfNames();
    t.ok(await until(() => bpfObjects().some((o) => o.kind === 'prog' && o.pids.includes(foreign))), 'its program is loaded and held by its pid');
    const foreignObjects = bpfObjects().filter((o) => o.id > mark.maxId[o.kind] && o.pids.includes(foreign));
    t.ok(foreignObjects.some((o) => names.has(o.name)), `it carries our names: ${foreignObjects.map((o) => o.name).join(', ')}`);
    t.same(createdSince(mark).filter((o) => o.pids.includes(foreign)), [], 'none of its objects is counted as ours');

    const own = spawn(...cliSpawnArgs(['record', '-F', '99', '--duration', '2', '-o', join(dir, 'own.folded')]), { cwd: ROOT, env: cliEnv(), stdio: 'ignore' });
    const closed = new Promise((r) => own.on('close', r));
    t.ok(await until(() => createdSince(mark).some((o) => o.kind === 'prog' && o.pids.includes(own.pid!))), 'our recorder\'s program is counted as ours, by its pid');
    const ours = createdSince(mark);
    t.ok(ours.some((o) => o.kind === 'map') && ours.some((o) => o.kind === 'link'), `its maps and links too: ${ours.map((o) => `${o.kind}:${o.name || o.type}`).join(', ')}`);
    t.ok(ours.every((o) => !o.pids.includes(foreign)), 'and nothing of the foreign one');
    await closed;
    t.same(await leakedSince(mark), [], 'ours is gone after it exits (while the foreign one may still run)');
    await until(() => { try { process.kill(foreign, 0); return false; } catch { return true; } }, 10000);
    t.same(await leakedSince(mark), [], 'nothing left after both');
  });
}
