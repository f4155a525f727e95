// Reference: BCC tools/profile.py (https://github.com/iovisor/bcc). Two outputs:
// - default: per stack, kernel frames then (with -d) a `--` line then user frames, leaf first,
//   4-space indented; then `    -                comm (pid)`, then `        count`, then a blank line;
// - folded (-f): `comm;user…;-;kernel… count`, root first, where `-` (with -d) separates user from
//   kernel frames; with -a kernel frames end in `_[k]`. Identical lines (same comm, other pids) merge.
import { InputError, excerpt } from '../errors.js';
import { ProfileBuilder } from '../profile/builder.js';
import { kindFromAnnotation, looksFolded, parseFoldedLine } from '../profile/folded.js';
import type { FrameId, FrameKind, Profile, RunMetadata } from '../profile/model.js';
import type { InputFormat, LineParser } from './types.js';

export interface BccOptions {
  /** Keep BCC's `-` / `--` user/kernel delimiter as a frame (kernel frames are marked either way). Default false. */
  readonly keepDelimiter: boolean;
}

export const BCC_DEFAULTS: BccOptions = Object.freeze({ keepDelimiter: false });

const PROCESS_LINE = /^ {4}- +(.*) \((\d+)\)$/;
const COUNT_LINE = /^ {8}(\d+)$/;
const MISSED = /^\[Missed (User|Kernel) Stack\]$/;

/** Streams BCC profile output, either form, into a profile. */
export class BccParser implements LineParser {
  private readonly builder = new ProfileBuilder();
  private readonly options: BccOptions;
  // Default form: the stack being read, leaf first, and where its `--` delimiter was.
  private frames: string[] = [];
  private delimiterAt = -1;
  private thread: { comm: string; pid: number } | undefined;
  private stackLine = 0;
  private missed = 0;
  private samples = 0;

  constructor(private readonly file: string, options: Partial<BccOptions> = {}) {
    this.options = { ...BCC_DEFAULTS, ...options };
  }

  line(text: string, lineNumber: number): void {
    if (text.length === 0 || text.startsWith('Sampling at ') || text.startsWith('WARNING: ')) return;
    if (text.startsWith('    ')) return this.textLine(text, lineNumber);
    if (this.frames.length > 0 || this.thread) {
      throw new InputError(`expected the rest of a BCC profile stack, found ${excerpt(text)}`, this.file, lineNumber);
    }
    this.foldedLine(text, lineNumber);
  }

  private textLine(text: string, lineNumber: number): void {
    if (this.thread) {
      const count = COUNT_LINE.exec(text);
      if (!count) throw new InputError(`expected the sample count of a BCC profile stack, found ${excerpt(text)}`, this.file, lineNumber);
      this.addText(Number(count[1]));
      return;
    }
    const process = PROCESS_LINE.exec(text);
    if (process) {
      this.thread = { comm: process[1]!, pid: Number(process[2]) };
      return;
    }
    if (this.frames.length === 0 && this.delimiterAt < 0) this.stackLine = lineNumber;
    const name = text.slice(4).trimEnd();
    if (name === '--') this.delimiterAt = this.frames.length;
    else this.frames.push(name);
  }

  private addText(count: number): void {
    const ids: FrameId[] = [];
    // Printed leaf first: kernel frames, `--`, user frames.
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const name = this.frames[i]!;
      const kind: FrameKind = i < this.delimiterAt ? 'kernel' : kindFromAnnotation(name);
      if (MISSED.test(name)) this.missed += count;
      ids.push(this.builder.internFrame({ name, kind }));
      if (i === this.delimiterAt && this.options.keepDelimiter) ids.push(this.builder.internFrame({ name: '--', kind: 'user' }));
    }
    this.builder.addStack(ids, count, this.thread);
    this.samples += count;
    this.frames = [];
    this.delimiterAt = -1;
    this.thread = undefined;
  }

  private foldedLine(text: string, lineNumber: number): void {
    const parsed = parseFoldedLine(text);
    if (!parsed || parsed.frames.length === 0 || !Number.isSafeInteger(parsed.count)) {
      throw new InputError(`expected a BCC profile folded line 'comm;frame;… count', found ${excerpt(text)}`, this.file, lineNumber);
    }
    const [comm, ...rest] = parsed.frames;
    const ids: FrameId[] = [];
    let kernel = false;
    for (const name of rest) {
      if (name === '-' && !kernel) {
        kernel = true;
        if (this.options.keepDelimiter) ids.push(this.builder.internFrame({ name, kind: 'user' }));
        continue;
      }
      if (MISSED.test(name)) this.missed += parsed.count;
      ids.push(this.builder.internFrame({ name, kind: kernel ? 'kernel' : kindFromAnnotation(name) }));
    }
    this.builder.addStack(ids, parsed.count, { comm: comm! });
    this.samples += parsed.count;
  }

  end(metadata: RunMetadata = {}): Profile {
    if (this.frames.length > 0 || this.thread) {
      throw new InputError('BCC profile stack is cut off at the end of the input (truncated file?)', this.file, this.stackLine);
    }
    const notes = this.missed > 0 ? [...(metadata.notes ?? []), `${this.missed} samples have a stack BCC could not read ([Missed … Stack])`] : metadata.notes;
    return this.builder.build({ ...metadata, samples: this.samples, unit: 'samples', ...(notes ? { notes } : {}) });
  }
}

/**
 * The default form announces itself (`Sampling at … Hertz`) or shows a `    -   comm (pid)` line;
 * the folded form is claimed only with its `-` delimiter, since otherwise it is plain folded text.
 */
export function looksLikeBcc(head: readonly string[]): boolean {
  const first = head.find((l) => l.trim().length > 0);
  if (first === undefined) return false;
  if (/^Sampling at \d+ Hertz of /.test(first)) return true;
  if (head.some((l) => PROCESS_LINE.test(l))) return head.every((l) => l.length === 0 || l.startsWith('    '));
  return looksFolded(head) && head.some((l) => l.includes(';-;'));
}

export const bccFormat: InputFormat<Partial<BccOptions>> = {
  name: 'bcc',
  sniff: looksLikeBcc,
  createParser: (file, options) => new BccParser(file, options),
};
