// Endurance, short version (bench/endurance.bench.js runs 10 minutes or an hour): a system-wide
// recording at 999 Hz while two shell loops start thousands of processes that live a few
// milliseconds. The recorder's RSS stays bounded while it samples, the short processes are sampled
// and named from memory maps captured while they were alive, every probe firing is accounted for,
// and nothing BPF is left. PROFILE_ENDURANCE_TEST_SECONDS (default 20); about 30 s in all.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfMark, leakedSince } from '../helpers/bpf.js';
import { ROOT, cliEnv } from '../helpers/cli.js';
import { buildShortLived, dropsOf, rssSampler, startForkLoops, SHORT_COMM, summarizeFolded } from './workload.mjs';
import { requiresBpf } from '../helpers/requires.js';

if (requiresBpf(t)) {
  const seconds = Number(process.env.PROFILE_ENDURANCE_TEST_SECONDS ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'profile-endurance-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  t.test(`${seconds} s at 999 Hz system-wide with a fork-heavy workload`, async (t) => {
    const binary = buildShortLived();
    const mark = bpfMark();
    const loops = startForkLoops(binary, 2);
    t.teardown(() => loops.stop());
    const out = join(dir, 'endurance.folded');
    const recorder = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, join(ROOT, 'test', 'endurance', 'recorder.mjs'), out, String(seconds), '999'], {
      cwd: ROOT,
      env: cliEnv({ ENDURANCE_COMM: SHORT_COMM }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const rss = rssSampler(recorder.pid!, 250);
    let stdout = '';
    let stderr = '';
    recorder.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    recorder.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/recording ended/.test(d)) rss.mark('recording ended');
    });
    const code = await new Promise<number | null>((resolve) => recorder.on('close', resolve));
    rss.stop();
    const started = await loops.stop();
    t.equal(code, 0, `recorder exit: ${stderr.slice(-2000)}`);
    const report = JSON.parse(stdout) as {
      counters: Record<string, number>;
      dropped: Record<string, number>;
      processesSeen: number;
      processesCaptured: number;
      watched: { pidsSampled: number; pidsCaptured: number };
    };
    const c = report.counters;
    const drops = dropsOf(c);
    t.equal(c.COLLECTED! + drops + c.FILTERED!, c.PROBE_FIRINGS!, `${c.COLLECTED} collected + ${drops} dropped + ${c.FILTERED} filtered (idle) = ${c.PROBE_FIRINGS} probe firings`);
    // Thousands of ASLR'd processes fill any stack map; the recorder empties it while sampling
    // (harvests), so only the rare double hash collision drops a sample (77 % were lost before).
    t.ok(drops < 0.02 * c.PROBE_FIRINGS!, `${drops} of ${c.PROBE_FIRINGS} samples dropped (< 2 %)`);

    // RSS while sampling: exited processes are folded once the recorder holds 50,000 entries, so
    // RSS must not grow with the number of processes or samples beyond the entries held.
    const sampling = rss.before('recording ended').filter((s) => s.ms > 3000);
    t.ok(sampling.length >= 10, `${sampling.length} RSS samples while recording`);
    const third = Math.floor(sampling.length / 3);
    const early = Math.max(...sampling.slice(0, third).map((s) => s.kb));
    const late = Math.max(...sampling.slice(-third).map((s) => s.kb));
    const peak = rss.peakKb();
    t.ok(late - early < 32 * 1024 + 32 * report.processesSeen, `RSS while recording: ${(early / 1024).toFixed(0)} MB early, ${(late / 1024).toFixed(0)} MB late, ${report.processesSeen} processes seen (growth < 32 MB + 32 KB per process)`);
    t.ok(peak < 512 * 1024, `peak RSS ${(peak / 1024).toFixed(0)} MB, symbolizing included (< 512 MB)`);

    const folded = summarizeFolded(readFileSync(out, 'utf8'));
    const short = folded.byComm.get(SHORT_COMM) ?? { samples: 0, own: 0, named: 0 };
    t.ok(started >= 1000, `the loops started ${started} short processes`);
    t.ok(report.watched.pidsSampled >= Math.min(500, started / 4), `${report.watched.pidsSampled} of them were sampled`);
    // Capturing a 3 ms process races its exit: the share depends on how soon the host schedules the
    // recorder while both CPUs run the fork loops. 99-100 % on quieter VMs, 88-89 % on this kind
    // (the code before unwind tables measured the same here); below 80 % the recorder falls behind.
    t.ok(report.watched.pidsCaptured >= 0.8 * report.watched.pidsSampled, `${report.watched.pidsCaptured} of ${report.watched.pidsSampled} sampled short processes captured alive`);
    t.ok(short.own > 0 && short.named / short.own >= 0.8, `${short.named} of the ${short.own} samples in ${SHORT_COMM}'s own code are named (main, endurance_*), of ${short.samples} in all`);
    t.equal(folded.total, c.COLLECTED, 'the output holds every collected sample');
    t.same(await leakedSince(mark), [], 'nothing BPF left');
    t.comment(
      `endurance ${seconds} s: ${c.PROBE_FIRINGS} firings, ${c.COLLECTED} samples, ${drops} dropped ${JSON.stringify(report.dropped)}, unaccounted ${c.PROBE_FIRINGS! - c.COLLECTED! - drops - c.FILTERED!}; ` +
        `${started} short processes started, ${report.watched.pidsSampled} sampled, ${report.watched.pidsCaptured} captured; RSS early ${(early / 1024).toFixed(0)} MB, late ${(late / 1024).toFixed(0)} MB, peak ${(peak / 1024).toFixed(0)} MB`,
    );
  });
}
