import { Command, Flags } from './oclif.js';
import { ProfileError, printable } from '../errors.js';
import { OUTPUT_FORMATS } from '../output/index.js';

/**
 * Every command's base: turns `ProfileError`s into the one-line `profile: FILE:LINE: message`
 * form with their exit code, and anything unexpected into one line too (the stack only with
 * PROFILE_DEBUG=1), so users never see a stack trace for bad input.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof ProfileError) {
      process.stderr.write(`${error.toLine()}\n`);
      return this.exit(error.exitCode);
    }
    // oclif's own errors (bad flags, exit requests) keep oclif's message and exit code.
    if (error.oclif !== undefined) return super.catch(error);
    if (process.env.PROFILE_DEBUG) process.stderr.write(`${error.stack}\n`);
    process.stderr.write(`${printable(`profile: internal error: ${error.message}`)} (set PROFILE_DEBUG=1 for details)\n`);
    return this.exit(70);
  }
}

/** `-o/--output` and `--format`, shared by every command that writes a profile. */
export const outputFlags = {
  output: Flags.string({
    char: 'o',
    summary: 'Write to FILE; the format follows its extension (.folded .txt .svg .html .png .speedscope.json .pb.gz).',
    helpValue: 'FILE',
  }),
  format: Flags.option({
    options: OUTPUT_FORMATS,
    multiple: false,
    summary: 'Output format, overriding the extension of --output (default: folded).',
  })(),
};
