// Types of bin/fast-path.js (plain JavaScript so that it runs before anything is compiled or loaded).

/** A flag or argument as oclif.manifest.json lists it. */
export type ManifestEntry = Record<string, unknown> & { readonly name: string };

export interface CommandSpec {
  readonly flags: readonly ManifestEntry[];
  readonly args: readonly ManifestEntry[];
}

export function runFast(argv: readonly string[]): Promise<boolean>;
export function commandSpec(id: string): CommandSpec | undefined;
export function parseFlags(tokens: readonly string[], spec: CommandSpec): { args: string[]; flags: Record<string, unknown> } | undefined;
