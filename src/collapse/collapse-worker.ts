/**
 * A worker thread of src/collapse/parallel.ts: parses the parts of a perf script file it is sent
 * with one parser, whose tables carry over from part to part, and replies with each part's stacks.
 */
import { openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PerfParser } from './perf.js';
import type { PartRequest, WorkerReply, WorkerSetup } from './parallel.js';

const setup = workerData as WorkerSetup;
const fd = openSync(setup.path, 'r');
const buffer = Buffer.allocUnsafeSlow(1 << 20);
const parser = new PerfParser(setup.path, setup.options);

parentPort!.on('message', (request: PartRequest) => {
  let reply: WorkerReply;
  try {
    for (let position = request.start; position < request.end; ) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, request.end - position), position);
      if (bytesRead === 0) break;
      parser.write(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    const { stacks, part } = parser.takePart();
    reply = { index: request.index, stacks, part };
  } catch (error) {
    // The parser is left mid-line: the file goes to one parser, and this thread is stopped.
    reply = { index: request.index, error: (error as Error).message };
  }
  // Copied, not transferred: the first detached ArrayBuffer in a thread throws away every
  // optimized function that reads a typed array (V8's detaching protector), mid-input here.
  parentPort!.postMessage(reply);
});
