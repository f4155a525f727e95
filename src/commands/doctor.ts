import { Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base.js';
import { DOCTOR_DEFAULTS } from '../doctor/options.js';

export default class Doctor extends BaseCommand {
  static override summary = 'Check what recording needs from this machine, and say how to fix what is missing.';
  static override description =
    'One line per check (✓ or ✗, then what was found; the fix follows a failed check). Exit code 0 when recording can work, ' +
    '1 otherwise; optional checks (debuginfo, browser) do not change it.';
  static override examples = ['<%= config.bin %> doctor', 'sudo <%= config.bin %> doctor'];
  static override flags = {
    'no-try': Flags.boolean({ summary: 'Do not load the BPF program for a test.', default: !DOCTOR_DEFAULTS.tryRecording }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor);
    const { runChecks } = await import('../doctor/index.js');
    const checks = runChecks({ ...DOCTOR_DEFAULTS, tryRecording: !flags['no-try'] });
    for (const check of checks) {
      const mark = check.ok ? '✓' : check.optional ? '!' : '✗';
      const fix = check.ok ? '' : ` — fix: ${check.fix}`;
      process.stdout.write(`${mark} ${check.name}: ${check.detail}${fix}\n`);
    }
    const failed = checks.filter((c) => !c.ok && !c.optional);
    if (failed.length > 0) this.exit(1);
  }
}
