// `profile doctor` on this machine: as root every required check passes (and the BPF program
// really loads); as an unprivileged user (any machine) it fails with the fix. About 2 s.
import t from 'tap';
import { spawn } from 'node:child_process';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { RECORD_DEFAULTS } from '../../src/record/defaults.js';
import { isRoot, requiresBpf } from '../helpers/requires.js';

// Runs anywhere: as root the check drops to nobody with setpriv; as anyone else doctor runs as them.
t.test('unprivileged: ✗ with the fix, exit 1', async (t) => {
  const uid = isRoot() ? 65534 : process.getuid!();
  // `env -i`: tap hooks injected into child environments would try to write as nobody.
  const drop = isRoot() ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'] : [];
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn('env', ['-i', `PATH=${process.env.PATH}`, 'HOME=/nonexistent', ...drop, process.execPath, BIN, 'doctor'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('close', (code) => resolve({ code, stdout }));
  });
  t.equal(result.code, 1);
  t.match(result.stdout, new RegExp(`^✗ privileges: uid ${uid} — fix: run profile as root`, 'm'));
  t.notMatch(result.stdout, /recording:/, 'no load attempt without privileges');
});

if (requiresBpf(t)) {
  t.test('as root: every required check passes, exit 0', async (t) => {
    const result = await runCli(['doctor']);
    t.equal(result.code, 0, result.stdout);
    const lines = result.stdout.trim().split('\n');
    for (const name of ['kernel', 'BTF', 'privileges', 'libbpf', 'perf_event_paranoid', 'kptr_restrict', 'kallsyms', 'BPF object', 'recording']) {
      t.ok(lines.some((l) => l.startsWith(`✓ ${name}: `)), `✓ ${name}`);
    }
    t.match(result.stdout, /libbpf\.so\.1 version 1\.\d+/);
    const rows = RECORD_DEFAULTS.unwindRows;
    const size = `${rows.toLocaleString('en')} rows, ${((rows * 12) / 2 ** 20).toFixed(0)} MiB`;
    const unwinding = result.stdout.match(new RegExp(`^✓ unwinding: walker loaded with unwind tables \\(${size}, ([\\d,]+) instructions verified\\)`, 'm'));
    t.ok(unwinding, 'the unwind-table walker loads: record --unwind auto uses tables');
    // Searches kept inside bpf_loop callbacks verify in ~5k instructions (10 ms); a branch that
    // leaks into the frame loop multiplies the paths (half a million, 1.5 s of loading).
    const verified = Number(unwinding?.[1]?.replaceAll(',', ''));
    t.ok(verified > 1000 && verified < 50_000, `the sampling program verified in ${verified} instructions (< 50,000)`);
    t.match(result.stdout, /^✓ unwinder kernel: Linux \S+ with BTF/m);
  });
}
