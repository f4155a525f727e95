import Collapse from '../commands/collapse.js';
import Diff from '../commands/diff.js';
import Doctor from '../commands/doctor.js';
import Push from '../commands/push.js';
import RecordCommand from '../commands/record.js';
import Render from '../commands/render.js';

/**
 * Every command by its id, for oclif's explicit command discovery (package.json `oclif.commands`):
 * oclif takes them from here instead of scanning a folder. Each command module holds only its
 * flags and imports what it runs when it runs, so this list costs little to load.
 */
export const COMMANDS = {
  collapse: Collapse,
  diff: Diff,
  doctor: Doctor,
  push: Push,
  record: RecordCommand,
  render: Render,
};
