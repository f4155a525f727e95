/**
 * A worker thread of src/collapse/parallel.ts: parses the parts of a perf script file it is sent,
 * each with a parser of its own, and replies with each part's stacks.
 */
import { openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PerfParser } from './perf.js';
import { serializePart, type PartRequest, type WorkerReply, type WorkerSetup } from './parallel.js';

const setup = workerData as WorkerSetup;
const fd = openSync(setup.path, 'r');
const buffer = Buffer.allocUnsafeSlow(1 << 20);

parentPort!.on('message', (request: PartRequest) => {
  let reply: WorkerReply;
  try {
    const parser = new PerfParser(setup.path, setup.options);
    for (let position = request.start; position < request.end; ) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, request.end - position), position);
      if (bytesRead === 0) break;
      parser.write(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    const { profile, part } = parser.endPart();
    reply = serializePart(request.index, profile, part);
  } catch (error) {
    reply = { index: request.index, error: (error as Error).message };
  }
  const transfer = 'stacks' in reply ? [reply.stacks.buffer, reply.weights.buffer] : [];
  parentPort!.postMessage(reply, transfer as ArrayBuffer[]);
});
