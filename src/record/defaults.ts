/**
 * Recording's defaults, apart so that the CLI's flags load without the recorder; src/record/index.ts
 * checks them against RecordOptions (this module imports nothing, so no cycle).
 */
export const RECORD_DEFAULTS = Object.freeze({
  frequency: 99,
  pids: [] as readonly number[],
  userOnly: false,
  kernelOnly: false,
  includeIdle: false,
  stackStorageSize: 8192,
  countsSize: 65536,
  commandStdout: 'inherit' as 'inherit' | 'stderr',
  unwind: 'auto' as 'auto' | 'tables' | 'fp',
  unwindRows: 2_097_152,
});
