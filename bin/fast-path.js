// Start-up fast path for `profile collapse`. Loading @oclif/core and what it requires is ~0.3 s of
// CPU, more than a 1 MB collapse: for command lines whose meaning is plain, the flags are read here
// from the definitions oclif itself wrote (oclif.manifest.json) and the command's body runs
// without oclif. Anything else — help, --version, `--`, an unknown or repeated flag, a value oclif
// would reject or read differently, a missing manifest — is left to oclif (run returns false), so
// its parsing, help and error messages stay exactly its own.
import { readFileSync } from 'node:fs';

/** Flag properties this parser understands; a flag with any other (env, exclusive, dependsOn …) goes to oclif. */
const PLAIN_FLAG_KEYS = new Set(['name', 'char', 'summary', 'description', 'helpValue', 'hasDynamicHelp', 'multiple', 'type', 'options', 'default', 'allowNo', 'helpGroup', 'hidden']);
const PLAIN_ARG_KEYS = new Set(['name', 'description', 'required']);
const COMMANDS = { collapse: () => import('../dist/cli/collapse.js').then((m) => m.collapseCommand) };

/**
 * Runs `argv` (without node and the script) when it is a command this path serves and its flags
 * read unambiguously; false when oclif must run it.
 */
export async function runFast(argv) {
  const [id, ...rest] = argv;
  if (!Object.hasOwn(COMMANDS, id) || process.env.PROFILE_NO_FAST_PATH) return false;
  const spec = commandSpec(id);
  const parsed = spec && parseFlags(rest, spec);
  if (!parsed) return false;
  const command = await COMMANDS[id]();
  try {
    await command(parsed.args[0], parsed.flags);
  } catch (error) {
    // As BaseCommand.catch: one line, the error's exit code; an internal error says how to see more.
    if (typeof error?.toLine === 'function' && Number.isInteger(error.exitCode)) {
      process.stderr.write(`${error.toLine()}\n`);
      process.exit(error.exitCode);
    }
    const { printable } = await import('../dist/errors.js');
    if (process.env.PROFILE_DEBUG) process.stderr.write(`${error?.stack}\n`);
    process.stderr.write(`${printable(`profile: internal error: ${error?.message}`)} (set PROFILE_DEBUG=1 for details)\n`);
    process.exit(70);
  }
  return true;
}

/** The flags and arguments oclif.manifest.json lists for command `id`; undefined when it has none, or flags of a kind not read here. */
export function commandSpec(id) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8'));
  } catch {
    return undefined;
  }
  const command = manifest.commands?.[id];
  if (!command || command.strict === false || (command.aliases?.length ?? 0) > 0) return undefined;
  const flags = Object.values(command.flags ?? {});
  const args = Object.values(command.args ?? {});
  // A property of a flag that this parser does not know could change how any command line reads.
  if (!flags.every((f) => Object.keys(f).every((k) => PLAIN_FLAG_KEYS.has(k)))) return undefined;
  if (!args.every((a) => Object.keys(a).every((k) => PLAIN_ARG_KEYS.has(k)) && !a.required)) return undefined;
  return { flags, args };
}

/** `{ args, flags }` with oclif's defaults applied, or undefined when oclif should read `tokens`. */
export function parseFlags(tokens, spec) {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const byChar = new Map(spec.flags.filter((f) => f.char).map((f) => [f.char, f]));
  const readable = (f) => (f.type === 'boolean' && !f.allowNo) || (f.type === 'option' && !f.multiple);
  const flags = {};
  const args = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (!token.startsWith('-')) {
      if (token === '') return undefined;
      args.push(token);
      continue;
    }
    let flag;
    let value;
    if (token.startsWith('--')) {
      const equals = token.indexOf('=');
      flag = byName.get(equals < 0 ? token.slice(2) : token.slice(2, equals));
      if (equals >= 0) value = token.slice(equals + 1);
    } else if (token.length === 2) {
      flag = byChar.get(token[1]);
    }
    // `-`, `--`, `-abc`, `-o=x`, unknown flags, --help and --version, repeated flags, flags that
    // take several values or a --no- form: oclif's to read.
    if (!flag || !readable(flag) || Object.hasOwn(flags, flag.name)) return undefined;
    if (flag.type === 'boolean') {
      if (value !== undefined) return undefined;
      flags[flag.name] = true;
      continue;
    }
    if (value === undefined) {
      value = tokens[++i];
      // A missing value, or one that looks like a flag: oclif decides what that means.
      if (value === undefined || value.startsWith('-')) return undefined;
    }
    if (value === '' || (flag.options && !flag.options.includes(value))) return undefined;
    flags[flag.name] = value;
  }
  if (args.length > spec.args.length) return undefined;
  for (const f of spec.flags) {
    if (Object.hasOwn(flags, f.name)) continue;
    if (f.type === 'boolean') flags[f.name] = f.default ?? false;
    else if (f.default !== undefined) flags[f.name] = Array.isArray(f.default) ? [...f.default] : f.default;
  }
  return { args, flags };
}
