import { Config, execute, settings } from './oclif.js';

export { COMMANDS } from './commands.js';
export { describeFsError } from '../io/lines.js';

/**
 * Runs the command line through oclif. This module is the entry of the bundle that bin/run.js
 * loads (scripts/bundle.js); package.json's explicit command target points back at the bundle, so
 * oclif finds the commands in the module already loaded instead of scanning a folder.
 */
export async function main(bundleUrl: string): Promise<void> {
  // What runs is the bundle, never TypeScript sources that oclif could find through tsconfig.json.
  settings.enableAutoTranspile = false;
  const config = await withoutCollation(() => Config.load(bundleUrl));
  await execute({ loadOptions: config });
}

const LOWER_CASE_WORD = /^[a-z]*$/;

/**
 * Runs `load` with a localeCompare that orders strings of lower-case ASCII letters itself. oclif
 * sorts the command ids with localeCompare while loading; the first call loads ICU's collation
 * data, 15-30 ms, a quarter of Node's own start-up. For such strings collation order is code-unit
 * order, so the result is the same; any other string goes to the real localeCompare.
 */
async function withoutCollation<T>(load: () => Promise<T>): Promise<T> {
  const localeCompare = String.prototype.localeCompare;
  String.prototype.localeCompare = function (this: string, that: string, ...rest: unknown[]): number {
    if (rest.length === 0 && LOWER_CASE_WORD.test(this) && LOWER_CASE_WORD.test(that)) return this < that ? -1 : this > that ? 1 : 0;
    return localeCompare.call(this, that, ...(rest as [])) as number;
  };
  try {
    return await load();
  } finally {
    String.prototype.localeCompare = localeCompare;
  }
}
