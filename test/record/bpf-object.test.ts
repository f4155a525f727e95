// The committed bpf/profile.bpf.o must be what bpf/build.sh makes from the committed source, so
// users without clang run exactly the reviewed program. About 0.5 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { requiresTools } from '../helpers/requires.js';

if (requiresTools(t, 'clang-14')) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-bpf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'profile.bpf.o');
  execFileSync('bash', [join(ROOT, 'bpf', 'build.sh'), out]);
  const rebuilt = readFileSync(out);
  const committed = readFileSync(join(ROOT, 'bpf', 'profile.bpf.o'));
  t.ok(rebuilt.equals(committed), 'bpf/profile.bpf.o is byte-identical to a rebuild (run `npm run build:bpf` and commit it)');
}
