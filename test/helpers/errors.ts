import { ProfileError } from '../../src/errors.js';

/** Resolves to the one-line message of the ProfileError that `work` rejects with (fails otherwise). */
export async function errorLine(work: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (error) {
    if (error instanceof ProfileError) return error.toLine();
    throw error;
  }
  throw new Error('expected a ProfileError, but the work succeeded');
}
