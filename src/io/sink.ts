import { open, rename, unlink, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { ProfileError } from '../errors.js';
import { linkAnonymousFile, openAnonymousFile } from './anonymous-file.js';
import { describeFsError } from './lines.js';

/** Where writers put their bytes. `write` may be awaited for back-pressure. */
export interface Sink {
  write(chunk: string | Uint8Array): Promise<void> | void;
}

/** A sink over a Node stream that honours back-pressure. */
export function streamSink(stream: Writable): Sink {
  return {
    write(chunk) {
      if (stream.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          stream.off('error', onError);
          resolve();
        };
        const onError = (error: Error): void => {
          stream.off('drain', onDrain);
          reject(error);
        };
        stream.once('drain', onDrain);
        stream.once('error', onError);
      });
    },
  };
}

/** Collects everything written into one string (for tests and small outputs). */
export function stringSink(): Sink & { text(): string } {
  const parts: string[] = [];
  const decoder = new TextDecoder();
  return {
    write(chunk) {
      parts.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk));
    },
    text: () => parts.join(''),
  };
}

// Temporary files of our own that a killed run may leave behind are recognisable by this marker.
const TEMP_MARKER = '.profile-tmp-';

/**
 * Writes `path` atomically: everything goes to a temporary file in the same directory (unnamed,
 * O_TMPFILE, where the file system has it), which is flushed, named and renamed over `path` only
 * when `produce` finished. A crash, a signal or an error
 * leaves either the old file or the complete new one, never a truncated one.
 */
export async function writeFileAtomic(path: string, produce: (sink: Sink) => Promise<void>): Promise<void> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new ProfileError('is a directory, cannot write the output there', { file: path });
  } catch (error) {
    if (error instanceof ProfileError) throw error;
  }
  // Unpredictable enough to keep two writers apart ('wx' refuses a name taken anyway); node:crypto
  // would cost every command that writes to standard output a few milliseconds to load.
  const suffix = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  const temp = join(dirname(path), `.${basename(path)}${TEMP_MARKER}${process.pid}-${suffix}`);
  // Unnamed until complete where the file system allows it, so even SIGKILL leaves nothing.
  let handle = await openAnonymousFile(dirname(path));
  let named = handle === undefined;
  try {
    handle ??= await open(temp, 'wx', 0o644);
  } catch (error) {
    throw new ProfileError(`cannot write: ${describeFsError(error)}`, { file: path });
  }
  let buffered: string[] = [];
  let bufferedLength = 0;
  const fileHandle = handle;
  const flush = async (): Promise<void> => {
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    bufferedLength = 0;
    await fileHandle.write(text);
  };
  try {
    await produce({
      async write(chunk) {
        if (typeof chunk === 'string') {
          buffered.push(chunk);
          bufferedLength += chunk.length;
          if (bufferedLength >= 1 << 20) await flush();
        } else {
          await flush();
          await fileHandle.write(chunk);
        }
      },
    });
    await flush();
    await fileHandle.sync();
    if (!named) {
      await linkAnonymousFile(fileHandle, temp);
      named = true;
    }
    await fileHandle.close();
    await rename(temp, path);
  } catch (error) {
    await fileHandle.close().catch(() => undefined);
    if (named) await unlink(temp).catch(() => undefined);
    if (error instanceof ProfileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new ProfileError(`cannot write: ${describeFsError(error)}`, { file: path });
    throw error;
  }
}
