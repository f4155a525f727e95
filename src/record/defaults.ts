/** Recording's defaults, apart so that the CLI's flags load without the recorder. */
import type { RecordOptions } from './index.js';

export const DEFAULTS: RecordOptions = Object.freeze({
  frequency: 99,
  pids: [],
  userOnly: false,
  kernelOnly: false,
  includeIdle: false,
  stackStorageSize: 8192,
  countsSize: 65536,
  commandStdout: 'inherit',
  unwind: 'auto',
  unwindRows: 2_097_152,
});
