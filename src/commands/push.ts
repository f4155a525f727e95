import { Args, Flags } from '../cli/oclif.js';
import { BaseCommand } from '../cli/base.js';
import { pushFlags } from '../cli/push.js';

export default class Push extends BaseCommand {
  static override summary = 'Send a profile to a Pyroscope-compatible server (Grafana Pyroscope, Grafana Cloud Profiles, Alloy).';
  static override description =
    'FILE may be folded stacks, pprof, speedscope or anything `profile collapse` reads. The profile goes to SERVER/ingest ' +
    '(the Pyroscope ingest API) as pprof, or as folded stacks with --push-format folded. user:password@ in the URL is sent as basic auth. ' +
    'A push that still fails after the retries exits with code 1.';
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
    const [{ loadProfile }, { pushWithFlags }] = await Promise.all([import('../input/index.js'), import('../cli/push.js')]);
    const profile = await loadProfile(args.file);
    await pushWithFlags(profile, flags.server, flags, `${args.file} is unchanged`);
  }
}
