/**
 * Shared machinery for the property tests in test/fuzz/: how many cases to run, inputs built by
 * mutating real seeds, hostile names, and the one property every parser must hold — it returns a
 * result or throws a ProfileError naming the file (and the line where it has lines); never another
 * exception, never a hang.
 *
 * Case counts: FUZZ_RUNS wins (bench/fuzz.js sets 100,000), then CI=true gives at least 1,000,
 * otherwise the local count the test asks for (kept small so `npx tap` stays quick).
 * Replaying one counterexample: FUZZ_SEED and FUZZ_PATH from the report, FUZZ_PROPERTY = its name.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { ProfileError } from '../../src/errors.js';

export { fc };

export function fuzzRuns(local: number): number {
  const forced = Number(process.env.FUZZ_RUNS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  if (process.env.CI === 'true') return Math.max(1000, local);
  return local;
}

/** Per-case time bound. Generous: it catches super-linear blow-ups and never-settling promises. */
export const CASE_TIMEOUT_MS = Number(process.env.FUZZ_CASE_TIMEOUT_MS) || 2000;

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProfileError };

export interface ErrorExpectation {
  /** The file name the error must carry. */
  readonly file: string;
  /** Whether the error must carry a line number; a function decides per error. Default: never required. */
  readonly line?: boolean | ((error: ProfileError) => boolean);
  readonly timeoutMs?: number;
}

// C0, DEL and C1 controls: a terminal acts on them (C1 0x9b is CSI in 8-bit mode).
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** True when `text` holds no byte a terminal would interpret. */
export function terminalSafe(text: string): boolean {
  return !TERMINAL_CONTROL.test(text);
}

/**
 * Runs `work` with a time bound. Resolves to its value or to the ProfileError it threw; throws (so
 * fast-check shrinks and reports the input) on any other exception, a wrong file, a missing line,
 * a message of more than one line or with control bytes, or when the bound is exceeded.
 *
 * A synchronous infinite loop cannot be interrupted from the same thread; tap's per-file timeout
 * (and bench/fuzz.js's watchdog) catch those, the elapsed-time check catches slow-but-finishing work.
 */
export async function resultOrProfileError<T>(work: () => Promise<T> | T, expect: ErrorExpectation): Promise<Outcome<T>> {
  const bound = expect.timeoutMs ?? CASE_TIMEOUT_MS;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${bound} ms (hang)`)), bound);
  });
  let outcome: Outcome<T>;
  try {
    const value = await Promise.race([Promise.resolve().then(work), timeout]);
    outcome = { ok: true, value };
  } catch (error) {
    if (!(error instanceof ProfileError)) {
      const what = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
      throw new Error(`escaped a non-ProfileError exception: ${what}`);
    }
    checkError(error, expect);
    outcome = { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
  const elapsed = performance.now() - started;
  if (elapsed > bound) throw new Error(`took ${elapsed.toFixed(0)} ms (bound ${bound} ms)`);
  return outcome;
}

function checkError(error: ProfileError, expect: ErrorExpectation): void {
  if (error.file !== expect.file) throw new Error(`error names file ${JSON.stringify(error.file)}, expected ${JSON.stringify(expect.file)}: ${error.message}`);
  const needLine = typeof expect.line === 'function' ? expect.line(error) : expect.line === true;
  if (needLine && !(Number.isInteger(error.line) && error.line! >= 1)) throw new Error(`error has no line number: ${error.toLine()}`);
  const line = error.toLine();
  if (line.includes('\n') || line.includes('\r')) throw new Error(`error message spans lines: ${JSON.stringify(line)}`);
  if (!terminalSafe(line)) throw new Error(`error message carries control bytes: ${JSON.stringify(line)}`);
  if (line.length > 1000) throw new Error(`error message is ${line.length} characters long`);
}

// ---- inputs -------------------------------------------------------------------------------

/** Strings that a hostile or broken process could put in a comm, symbol or path. */
export function hostileString(maxLength = 64): fc.Arbitrary<string> {
  const pieces = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.string({ unit: 'grapheme', maxLength: 4 }),
    fc.constantFrom(
      '\u001b[31m', '\u001b]0;pwned\u0007', '\u001b[2J', '\u009b31m', '\r', '\n', '\t', '\u0000', '\u007f', '\u0008',
      '<', '>', '&', '"', "'", '<script>alert(1)</script>', ']]>', '<!--', '&amp;', '\ud800', '\udfff', '\u202e', '\ufeff',
      ';', ' ', '  ', '_[k]', '#', '%s', '${x}', '`', '\\', '/', '..', '[unknown]',
    ),
  );
  return fc.array(pieces, { maxLength: Math.max(1, Math.ceil(maxLength / 4)) }).map((parts) => parts.join('').slice(0, maxLength));
}

/** Occasionally very long names (tens of KB), which renderers and writers must survive. */
export function hostileName(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: hostileString(64), weight: 20 },
    { arbitrary: fc.tuple(hostileString(16), fc.integer({ min: 1000, max: 70000 })).map(([s, n]) => (s || 'x').repeat(Math.ceil(n / Math.max(1, s.length))).slice(0, n)), weight: 1 },
  );
}

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'duplicate-line'; readonly at: number; readonly times: number }
  | { readonly kind: 'swap-lines'; readonly at: number; readonly other: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly bytes: Uint8Array; readonly times: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const insertion = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 16 }),
  hostileString(16).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  fc.constantFrom(...['\n', '\n\n', ' ', ';', '\t', '0', '-1', '99999999999999999999999', 'NaN', '1e400', '0x', ':', '+', '[', ']', '(', ')', '\u0000', '\xff\xfe'].map((s) => new Uint8Array(Buffer.from(s, 'latin1')))),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: insertion }),
  fc.record({ kind: fc.constant('duplicate-line' as const), at: position, times: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: position, other: position }),
  // Long runs of one short piece: what makes a backtracking regex or a naive scan quadratic.
  fc.record({ kind: fc.constant('repeat' as const), at: position, bytes: fc.constantFrom(...[' ', '1', ' 1', ';', '\t', 'a', '0x', '[', '(', ':', '<', '\\'].map((s) => new Uint8Array(Buffer.from(s, 'latin1')))), times: fc.integer({ min: 1000, max: 40000 }) }),
);

function lineBounds(bytes: Uint8Array, at: number): [number, number] {
  const index = Math.floor(at * bytes.length);
  let start = index;
  while (start > 0 && bytes[start - 1] !== 10) start--;
  let end = index;
  while (end < bytes.length && bytes[end] !== 10) end++;
  return [start, Math.min(bytes.length, end + 1)];
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor(m.at * (bytes.length + 1));
  switch (m.kind) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const copy = bytes.slice();
      const i = Math.min(at, bytes.length - 1);
      copy[i] = copy[i]! ^ (1 << m.bit);
      return copy;
    }
    case 'truncate':
      return bytes.subarray(0, at);
    case 'delete':
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.length));
    case 'insert':
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    case 'duplicate-line': {
      const [start, end] = lineBounds(bytes, m.at);
      const line = bytes.subarray(start, end);
      return concat(bytes.subarray(0, end), ...Array<Uint8Array>(m.times).fill(line), bytes.subarray(end));
    }
    case 'repeat':
      return concat(bytes.subarray(0, at), ...Array<Uint8Array>(m.times).fill(m.bytes), bytes.subarray(at));
    case 'swap-lines': {
      let [a, b] = [lineBounds(bytes, m.at), lineBounds(bytes, m.other)];
      if (a[0] === b[0]) return bytes;
      if (a[0] > b[0]) [a, b] = [b, a];
      if (a[1] > b[0]) return bytes;
      return concat(bytes.subarray(0, a[0]), bytes.subarray(b[0], b[1]), bytes.subarray(a[1], b[0]), bytes.subarray(a[0], a[1]), bytes.subarray(b[1]));
    }
  }
}

/** A real seed input with 0–8 mutations: byte flips, truncation, deletions, insertions of random or hostile bytes, duplicated or swapped lines. */
export function mutatedFrom(seeds: readonly Uint8Array[], maxMutations = 8): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('mutatedFrom needs at least one seed');
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutation, { maxLength: maxMutations }))
    .map(([index, mutations]) => mutations.reduce(applyMutation, seeds[index]!));
}

/** Cut points for splitting an input into stream chunks (a reader must not care where chunks end). */
export const chunkCuts = fc.array(position, { maxLength: 6 });

/** A readable stream delivering `bytes` in chunks cut at the given relative positions. */
export function chunkedStream(bytes: Uint8Array, cuts: readonly number[] = []): Readable {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) chunks.push(Buffer.from(bytes.subarray(last, p)));
    last = Math.max(last, p);
  }
  return Readable.from(chunks, { objectMode: false });
}

export function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

/**
 * Runs a property with the configured number of cases and reports the count as a TAP comment
 * (`# fuzz: NAME: N cases`) that bench/fuzz.js collects.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  t: { comment: (...args: unknown[]) => void; pass: (message: string) => void; fail: (message: string) => void },
  name: string,
  localRuns: number,
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<boolean | void>,
): Promise<void> {
  const numRuns = fuzzRuns(localRuns);
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  const started = performance.now();
  try {
    await fc.assert(fc.asyncProperty(...arbitraries, predicate), { numRuns, seed, path: process.env.FUZZ_PROPERTY === name ? process.env.FUZZ_PATH : undefined, endOnFailure: process.env.FUZZ_NO_SHRINK === '1', includeErrorInReport: true });
  } catch (error) {
    // Counterexamples can hold 70 KB names; tap loses a failure that large, so cut it.
    // Raw line separators or controls from a counterexample would break the TAP stream itself.
    const text = (error instanceof Error ? error.message : String(error)).replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    t.fail(`${name}: ${text.length > 3000 ? `${text.slice(0, 1500)} … ${text.slice(-1500)}` : text}`);
    return;
  }
  const seconds = (performance.now() - started) / 1000;
  t.comment(`fuzz: ${name}: ${numRuns} cases in ${seconds.toFixed(1)} s`);
  t.pass(`${name}: ${numRuns} cases hold`);
}
