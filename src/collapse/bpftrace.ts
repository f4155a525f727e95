// Reference: bpftrace map printing (https://github.com/bpftrace/bpftrace, docs "Map printing"):
// `@name[key, key]: value`, where a kstack/ustack key is printed over several lines, one frame per
// indented line, leaf first (`func+off`, or `addr sym+off (module)` with the perf stack mode).
import { InputError, excerpt } from '../errors.js';
import { ProfileBuilder } from '../profile/builder.js';
import type { Frame, FrameId, Profile, RunMetadata, ThreadInfo } from '../profile/model.js';
import { isKernelAddress, isKernelEntry } from './kernel.js';
import { parseStackLine } from './perf-grammar.js';
import type { InputFormat, LineParser } from './types.js';

export interface BpftraceOptions {
  /** Maps to read, by name (`@`, `@stacks`); empty means every map whose keys hold a stack. Default []. */
  readonly maps: readonly string[];
}

export const BPFTRACE_DEFAULTS: BpftraceOptions = Object.freeze({ maps: [] });

interface StackKey {
  readonly frames: Frame[];
  kernel: boolean;
  classified: boolean;
}

interface Entry {
  readonly map: string;
  readonly line: number;
  readonly scalars: string[];
  readonly stacks: StackKey[];
  inStack: boolean;
}

interface Parsed {
  readonly frames: FrameId[];
  readonly weight: number;
  readonly thread?: ThreadInfo;
}

const COUNT = /\]: (-?\d+)\s*$/;
const OFFSET = /\+\d+$/;

function frameOf(text: string): { frame: Frame; kernel?: boolean } {
  // The perf stack mode indents with a tab; the default mode with spaces, where C++ names such as
  // `std::function<void (int)>::operator()` would otherwise read as `symbol (module)`.
  const perf = text.charCodeAt(0) === 9 ? parseStackLine(text) : undefined;
  if (perf) {
    const symbol = perf.symbol.replace(/\+(0x[\da-f]+|\d+)$/, '');
    const module = perf.module ?? '';
    const unknown = symbol.startsWith('0x') || symbol === '[unknown]';
    const name = unknown ? `[${module === '[unknown]' || module === '' ? 'unknown' : module.slice(module.lastIndexOf('/') + 1)}]` : symbol;
    const kernel = module.startsWith('[kernel') || isKernelAddress(perf.pc);
    return { frame: { name, kind: kernel ? 'kernel' : 'user', module }, kernel };
  }
  const name = text.trim().replace(OFFSET, '');
  return { frame: { name, kind: 'user' }, kernel: isKernelAddress(name) ? true : undefined };
}

/** Streams bpftrace's printed maps into a profile. */
export class BpftraceParser implements LineParser {
  private readonly builder = new ProfileBuilder();
  private readonly options: BpftraceOptions;
  private entry: Entry | undefined;
  // Entries wait per map until the end: only then is it known which maps hold stacks.
  private readonly parsed = new Map<string, { stacks: boolean; entries: Parsed[] }>();

  constructor(private readonly file: string, options: Partial<BpftraceOptions> = {}) {
    this.options = { ...BPFTRACE_DEFAULTS, ...options };
  }

  line(text: string, lineNumber: number): void {
    const entry = this.entry;
    if (!entry) {
      if (text.trim().length === 0 || text.startsWith('Attaching ')) return;
      const open = text.indexOf('[');
      if (text.startsWith('@') && open > 0) {
        this.entry = { map: text.slice(0, open), line: lineNumber, scalars: [], stacks: [], inStack: false };
        this.text(text.slice(open + 1), lineNumber);
        return;
      }
      // `@total: 5` is a map without keys: nothing to draw.
      if (/^@\w*: /.test(text)) return;
      throw new InputError(`expected a bpftrace map entry '@[…]: count', found ${excerpt(text)}`, this.file, lineNumber);
    }
    const first = text.charCodeAt(0);
    if ((first === 32 || first === 9) && text.trim().length > 0) {
      if (!entry.inStack) {
        entry.stacks.push({ frames: [], kernel: false, classified: false });
        entry.inStack = true;
      }
      const stack = entry.stacks[entry.stacks.length - 1]!;
      const { frame, kernel } = frameOf(text);
      stack.frames.push(frame);
      if (kernel !== undefined && !stack.classified) {
        stack.kernel = kernel;
        stack.classified = true;
      }
      return;
    }
    entry.inStack = false;
    this.text(text, lineNumber);
  }

  private text(text: string, lineNumber: number): void {
    const entry = this.entry!;
    const count = COUNT.exec(text);
    const body = count ? text.slice(0, count.index) : text;
    for (const part of body.split(', ')) if (part.length > 0) entry.scalars.push(part);
    if (!count) return;
    this.entry = undefined;
    const weight = Number(count[1]);
    if (!Number.isSafeInteger(weight)) throw new InputError(`count out of range: ${excerpt(count[1]!)}`, this.file, lineNumber);
    this.finish(entry, weight);
  }

  private finish(entry: Entry, weight: number): void {
    for (const stack of entry.stacks) {
      const outermost = stack.frames[stack.frames.length - 1];
      if (!stack.classified && outermost && isKernelEntry(outermost.name)) {
        stack.kernel = true;
        stack.classified = true;
      }
    }
    // `@[kstack, ustack]`, the documented idiom, when neither stack gave itself away.
    if (entry.stacks.length === 2 && !entry.stacks[0]!.classified && !entry.stacks[1]!.classified) entry.stacks[0]!.kernel = true;
    let comm: string | undefined;
    let pid: number | undefined;
    const roots: FrameId[] = [];
    for (const scalar of entry.scalars) {
      if (comm === undefined && !/^-?\d+$/.test(scalar)) comm = scalar;
      else if (comm !== undefined && pid === undefined && /^\d+$/.test(scalar)) pid = Number(scalar);
      else roots.push(this.builder.internFrame({ name: scalar, kind: 'process' }));
    }
    const frames = [...roots];
    for (const kernel of [false, true]) {
      for (const stack of entry.stacks) {
        if (stack.kernel !== kernel) continue;
        for (let i = stack.frames.length - 1; i >= 0; i--) {
          const frame = stack.frames[i]!;
          frames.push(this.builder.internFrame(kernel && frame.kind === 'user' ? { ...frame, kind: 'kernel' } : frame));
        }
      }
    }
    let map = this.parsed.get(entry.map);
    if (!map) this.parsed.set(entry.map, (map = { stacks: false, entries: [] }));
    if (entry.stacks.some((s) => s.frames.length > 0)) map.stacks = true;
    const thread: ThreadInfo | undefined = comm === undefined ? undefined : pid === undefined ? { comm } : { comm, pid };
    map.entries.push(thread ? { frames, weight, thread } : { frames, weight });
  }

  end(metadata: RunMetadata = {}): Profile {
    if (this.entry) {
      throw new InputError(`bpftrace map entry '${this.entry.map}[…' is cut off: no closing ']: count' (truncated file?)`, this.file, this.entry.line);
    }
    const wanted = this.options.maps;
    const anyStacks = [...this.parsed.values()].some((m) => m.stacks);
    const chosen = [...this.parsed].filter(([name, m]) => (wanted.length > 0 ? wanted.includes(name) : !anyStacks || m.stacks));
    let samples = 0;
    for (const [, map] of chosen) {
      for (const e of map.entries) {
        this.builder.addStack(e.frames, e.weight, e.thread);
        samples += e.weight;
      }
    }
    const skipped = [...this.parsed.keys()].filter((name) => !chosen.some(([c]) => c === name));
    const notes = skipped.length > 0 ? [...(metadata.notes ?? []), `skipped bpftrace maps without stacks: ${skipped.join(', ')}`] : metadata.notes;
    return this.builder.build({ ...metadata, samples, unit: 'samples', ...(notes ? { notes } : {}) });
  }
}

/** bpftrace prints `Attaching N probes...` first, then `@map[` entries. */
export function looksLikeBpftrace(head: readonly string[]): boolean {
  for (const text of head) {
    if (text.trim().length === 0) continue;
    if (/^Attaching \d+ probes?\.\.\.$/.test(text)) return true;
    return /^@\w*\[/.test(text) && (text.endsWith('[') || text.endsWith(', ') || COUNT.test(text));
  }
  return false;
}

export const bpftraceFormat: InputFormat<Partial<BpftraceOptions>> = {
  name: 'bpftrace',
  sniff: looksLikeBpftrace,
  createParser: (file, options) => new BpftraceParser(file, options),
};
