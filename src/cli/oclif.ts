// The parts of oclif that the commands use, each from its own module: oclif's index loads every
// part (constraints, module loader, plugin interfaces …) and checks the Node version against its
// package.json, ~10 % of a command's start-up.
export * as Args from '@oclif/core/args';
export * as Flags from '@oclif/core/flags';
export { Command } from '@oclif/core/command';
export { execute } from '@oclif/core/execute';
export { settings } from '@oclif/core/settings';
export { Config } from '@oclif/core/config';
