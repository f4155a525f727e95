import { Flags } from './oclif.js';
import { ProfileError } from '../errors.js';
import { PUSH_DEFAULTS, PUSH_FORMATS } from '../export/push-options.js';
import type { Profile } from '../profile/model.js';

/** Flags shared by `profile push` and `profile record --push`. */
export const pushFlags = {
  name: Flags.string({ summary: 'Application name sent to the server, optionally with labels: myapp{env=prod}.', default: PUSH_DEFAULTS.name }),
  'push-format': Flags.option({ options: PUSH_FORMATS, summary: 'Body sent to the server.', default: PUSH_DEFAULTS.format })(),
  token: Flags.string({ summary: 'Bearer token for the server (default: $PROFILE_PUSH_TOKEN).', env: 'PROFILE_PUSH_TOKEN' }),
  tenant: Flags.string({ summary: 'Tenant of a multi-tenant server (sent as X-Scope-OrgID).' }),
  'spy-name': Flags.string({ summary: 'spyName reported to the server.', default: PUSH_DEFAULTS.spyName }),
  retries: Flags.integer({ summary: 'Push retries after a network error, 408, 429 or 5xx, with doubling back-off.', default: PUSH_DEFAULTS.retries, min: 0, max: 10 }),
};

type PushFlagValues = { name: string; 'push-format': (typeof PUSH_FORMATS)[number]; token?: string; tenant?: string; 'spy-name': string; retries: number };

/**
 * Pushes `profile` as the flags say and reports on stderr. A failure is one line ending with
 * where the profile still is (`kept`), and exit code 1.
 */
export async function pushWithFlags(profile: Profile, server: string, flags: PushFlagValues, kept: string): Promise<void> {
  const { pushProfile } = await import('../export/push.js');
  try {
    const result = await pushProfile(
      profile,
      { server, name: flags.name, format: flags['push-format'], token: flags.token, tenant: flags.tenant, spyName: flags['spy-name'], retries: flags.retries },
      // Retry notices only on a terminal: on a pipe or in a log, failure stays one line.
      (message) => (process.stderr.isTTY ? process.stderr.write(`profile: ${message}\n`) : undefined),
    );
    process.stderr.write(`profile: pushed to ${result.url}\n`);
  } catch (error) {
    if (error instanceof ProfileError) throw new ProfileError(`${error.message}; ${kept}`, { exitCode: 1 });
    throw error;
  }
}
