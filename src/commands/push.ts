import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { ProfileError } from '../errors.js';
import { PUSH_DEFAULTS, PUSH_FORMATS, pushProfile } from '../export/push.js';
import { loadProfile } from '../input/index.js';

/** Flags shared with `profile record --push`. */
export const pushFlags = {
  name: Flags.string({ summary: 'Application name, optionally with labels: myapp{env=prod}.', default: PUSH_DEFAULTS.name }),
  'push-format': Flags.option({ options: PUSH_FORMATS, summary: 'Body sent to the server.', default: PUSH_DEFAULTS.format })(),
  token: Flags.string({ summary: 'Bearer token (default: $PROFILE_PUSH_TOKEN).', env: 'PROFILE_PUSH_TOKEN' }),
  tenant: Flags.string({ summary: 'Tenant of a multi-tenant server (sent as X-Scope-OrgID).' }),
  'spy-name': Flags.string({ summary: 'spyName reported to the server.', default: PUSH_DEFAULTS.spyName }),
  retries: Flags.integer({ summary: 'Retries after a network error, 408, 429 or 5xx, with doubling back-off.', default: PUSH_DEFAULTS.retries, min: 0, max: 10 }),
};

export default class Push extends BaseCommand {
  static override summary = 'Send a profile to a Pyroscope-compatible server (Grafana Pyroscope, Grafana Cloud Profiles, Alloy).';
  static override description =
    'FILE may be folded stacks, pprof, speedscope or anything `profile collapse` reads. The profile goes to SERVER/ingest ' +
    '(the Pyroscope ingest API) as pprof, or as folded stacks with --push-format folded. user:password@ in the URL is sent as basic auth.';
  static override examples = [
    '<%= config.bin %> push cpu.pb.gz --server http://pyroscope:4040 --name "checkout{env=prod}"',
    'PROFILE_PUSH_TOKEN=… <%= config.bin %> push cpu.folded --server https://profiles.example.com --tenant team-a',
    '<%= config.bin %> push cpu.folded --server https://123456:glc_…@profiles-prod-001.grafana.net',
  ];
  static override args = {
    file: Args.string({ description: 'Profile to send.', required: true, ignoreStdin: true }),
  };
  static override flags = {
    server: Flags.string({ summary: 'Server URL, e.g. http://localhost:4040.', required: true, helpValue: 'URL' }),
    ...pushFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Push);
    const profile = await loadProfile(args.file);
    try {
      const result = await pushProfile(
        profile,
        { server: flags.server, name: flags.name, format: flags['push-format'], token: flags.token, tenant: flags.tenant, spyName: flags['spy-name'], retries: flags.retries },
        // Retry notices only on a terminal: on a pipe or in a log, failure stays one line.
        (message) => (process.stderr.isTTY ? process.stderr.write(`profile: ${message}\n`) : undefined),
      );
      process.stderr.write(`profile: pushed ${args.file} to ${result.url}\n`);
    } catch (error) {
      if (error instanceof ProfileError) throw new ProfileError(`${error.message}; ${args.file} is unchanged`, { exitCode: 1 });
      throw error;
    }
  }
}
