import { Readable } from 'node:stream';
import { INPUT_FORMATS } from '../collapse/index.js';

const SNIFF_LINES = 200;
const SNIFF_BYTES = 1 << 20;

/**
 * Whether `input` holds folded stacks (as `profile collapse` would detect them), decided from its
 * first lines, and a stream that replays everything read so far followed by the rest.
 */
export async function sniffFolded(input: Readable): Promise<{ readonly folded: boolean; readonly stream: Readable }> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: (Buffer | string)[] = [];
  let bytes = 0;
  let newlines = 0;
  let done = false;
  while (!done && newlines <= SNIFF_LINES && bytes < SNIFF_BYTES) {
    const step = await iterator.next();
    if (step.done) {
      done = true;
      break;
    }
    chunks.push(step.value);
    bytes += step.value.length;
    for (let i = step.value.indexOf('\n'); i >= 0; i = step.value.indexOf('\n', i + 1)) newlines++;
  }
  const head = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
  const stream = Readable.from(
    (async function* () {
      yield* chunks;
      if (done) return;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    })(),
    { objectMode: false },
  );
  // gzip (pprof or compressed text) and binary data are never folded text.
  if (head[0] === 0x1f && head[1] === 0x8b) return { folded: false, stream };
  const lines = head.toString('utf8').split('\n');
  if (!done) lines.pop();
  const meaningful = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)).slice(0, SNIFF_LINES);
  if (meaningful.every((line) => line.trim().length === 0)) return { folded: false, stream };
  const format = INPUT_FORMATS.find((f) => f.sniff(meaningful));
  return { folded: format?.name === 'folded', stream };
}
