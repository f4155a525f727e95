// Row space given back in a real recording: three copies of a program built without frame
// pointers run one after another under `record --unwind-table-rows N`, N leaving room for the
// libraries placed at start and ONE of the copies. Each copy's table goes where the one before it
// was (the loader finds the earlier copy exited, evicts it, places the new one), so every copy's
// samples must still reach main through its tables. About 10 s.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureProcess } from '../../src/host/index.js';
import { compileRequested } from '../../src/unwind/compiler.js';
import { runCli } from '../helpers/cli.js';
import { requiresBpf, requiresTools } from '../helpers/requires.js';
import { buildWithoutFramePointers, chains, MAIN_ROOT, share } from './programs.js';

if (requiresBpf(t) && requiresTools(t, 'gcc', 'sh')) {
  t.test('copies of a program run one after another through space for one: each walked by its tables', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-row-space-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const built = buildWithoutFramePointers('calltree');
    const copies = ['rs-a', 'rs-b', 'rs-c'].map((name) => {
      const path = join(dir, name);
      copyFileSync(built, path);
      return path;
    });
    const rowsOf = (path: string): number => {
      const table = compileRequested({ path, paths: path === '[vdso]' ? [] : [path] });
      if (typeof table === 'string') throw new Error(`${path}: ${table}`);
      return table.rowCount;
    };
    // What `record` places at start: libc and the dynamic loader as it maps them, the command's binary (sh), the vDSO.
    const own = captureProcess(process.pid)!.mappings.map((m) => m.path).filter((p) => /\/(libc\.so\.6|ld-linux[^/]*\.so\.\d+)$/.test(p));
    const pinned = [...new Set(own.map((p) => realpathSync(p))), realpathSync('/bin/sh'), '[vdso]'];
    const pinnedRows = pinned.reduce((n, p) => n + rowsOf(p), 0);
    const programRows = rowsOf(built);
    const rows = pinnedRows + programRows + Math.floor(programRows / 2);
    t.ok(rows < pinnedRows + 2 * programRows, `${rows} rows: the libraries (${pinnedRows}) and one copy (${programRows}), not two`);

    const script = copies.map((path, i) => `'${path}' 2 '${join(dir, `tally-${i}`)}'`).join('; ');
    const out = join(dir, 'out.folded');
    const result = await runCli(['record', '-F', '499', '--user-only', '--unwind-table-rows', String(rows), '-o', out, '--', 'sh', '-c', script], { timeoutMs: 60_000 });
    t.equal(result.code, 0, result.stderr);
    const all = chains(readFileSync(out, 'utf8'));
    for (const path of copies) {
      const comm = path.slice(path.lastIndexOf('/') + 1);
      const reached = share(all, (c) => c.comm === comm, (c) => MAIN_ROOT.test(c.frames.join(';')));
      t.ok(reached.total > 300, `${comm}: ${reached.total} samples`);
      t.ok(reached.ratio >= 0.9, `${comm}: ${(100 * reached.ratio).toFixed(1)} % of its samples walked to main`);
    }
    t.notMatch(result.stderr, /did not fit/, 'no binary was left without its table');
  });
}
