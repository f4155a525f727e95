// The committed bpf/profile.bpf.o must be what bpf/build.sh makes from the committed source, so
// users without clang run exactly the reviewed program. About 0.5 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

let clang = true;
try {
  execFileSync('clang-14', ['--version'], { stdio: 'ignore' });
} catch {
  clang = false;
}
if (!clang && process.env.CI === 'true') t.fail('clang-14 is missing: cannot prove bpf/profile.bpf.o matches its source');
if (!clang) t.plan(0, 'clang-14 is not installed');
else {
  const dir = mkdtempSync(join(tmpdir(), 'profile-bpf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'profile.bpf.o');
  execFileSync('bash', [join(ROOT, 'bpf', 'build.sh'), out]);
  const rebuilt = readFileSync(out);
  const committed = readFileSync(join(ROOT, 'bpf', 'profile.bpf.o'));
  t.ok(rebuilt.equals(committed), 'bpf/profile.bpf.o is byte-identical to a rebuild (run `npm run build:bpf` and commit it)');
}
