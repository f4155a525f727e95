// Reference: https://www.speedscope.app/file-format-schema.json
import { InputError, excerpt } from '../errors.js';
import { fromModuleLabel } from '../export/modules.js';
import { jsonErrorPosition } from './json-position.js';
import { kindFromAnnotation } from '../profile/folded.js';
import { ProfileBuilder } from '../profile/builder.js';
import type { FrameId, Profile, ThreadInfo } from '../profile/model.js';

/** True when `doc` (parsed JSON) says it is a speedscope file. */
export function isSpeedscope(doc: unknown): boolean {
  if (doc === null || typeof doc !== 'object') return false;
  const schema = (doc as { $schema?: unknown }).$schema;
  return typeof schema === 'string' && schema.includes('speedscope');
}

/** The 1-based line of character `position` in `text`. */
export function lineAt(text: string, position: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < position; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Parses JSON, reporting a syntax error with its line. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = jsonErrorPosition(text);
    const line = position >= 0 ? lineAt(text, position) : undefined;
    const what = position < 0 ? message : position >= text.length ? 'unexpected end of input' : `unexpected ${excerpt(text.slice(position, position + 10), 10)}`;
    throw new InputError(`not valid JSON: ${what}`, file, line);
  }
}

// `s`: a comm may hold a carriage return or U+2028, which `.` alone does not match.
const PROCESS_NAME = /^(.*) \(pid (\d+|\?)\)$/s;

/**
 * Reads a speedscope document. Sampled profiles are read as they are; evented ones become one
 * stack per interval between events, weighted by its duration. Each profile of a file with
 * several is a thread (speedscope has one profile per thread or process); `comm (pid N)`, the
 * name our export gives a process, reads back as that process.
 */
export function readSpeedscope(doc: unknown, file: string): Profile {
  const bad = (what: string): never => {
    throw new InputError(`not a valid speedscope file: ${what}`, file);
  };
  const d = doc as { shared?: { frames?: unknown }; profiles?: unknown };
  if (!Array.isArray(d.shared?.frames)) bad('no shared.frames array');
  if (!Array.isArray(d.profiles)) bad('no profiles array');
  const builder = new ProfileBuilder();
  const frames: FrameId[] = (d.shared!.frames as unknown[]).map((raw, i) => {
    const f = raw as { name?: unknown; file?: unknown; line?: unknown };
    if (typeof f?.name !== 'string') bad(`frame ${i} has no name`);
    const name = f.name as string;
    const fileName = typeof f.file === 'string' && f.file !== '' ? f.file : undefined;
    const line = typeof f.line === 'number' && Number.isInteger(f.line) && f.line > 0 ? f.line : undefined;
    const fromModule = line === undefined ? fromModuleLabel(fileName) : {};
    if (fromModule.kind !== undefined) {
      return builder.internFrame({ name, kind: fromModule.kind, ...(fromModule.module !== undefined ? { module: fromModule.module } : {}) });
    }
    return builder.internFrame({ name, kind: kindFromAnnotation(name), ...(fileName ? { file: fileName } : {}), ...(line ? { line } : {}) });
  });
  const frameAt = (index: unknown, where: string): FrameId => {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= frames.length) {
      bad(`${where} names frame ${JSON.stringify(index)}, but there are ${frames.length}`);
    }
    return frames[index as number]!;
  };
  const profiles = d.profiles as unknown[];
  let unit: string | undefined;
  profiles.forEach((raw, p) => {
    const profile = raw as { type?: unknown; name?: unknown; unit?: unknown; samples?: unknown; weights?: unknown; events?: unknown };
    const name = typeof profile?.name === 'string' ? profile.name : `profile ${p}`;
    const process = PROCESS_NAME.exec(name);
    const thread: ThreadInfo | undefined = process ? { comm: process[1]!, ...(process[2] !== '?' ? { pid: Number(process[2]) } : {}) } : profiles.length > 1 ? { comm: name } : undefined;
    if (typeof profile?.unit === 'string' && profile.unit !== 'none') unit ??= profile.unit;
    if (profile?.type === 'sampled') {
      const samples = profile.samples;
      const weights = profile.weights;
      if (!Array.isArray(samples) || !Array.isArray(weights) || samples.length !== weights.length) {
        bad(`profile ${p} needs samples and weights arrays of the same length`);
      }
      (samples as unknown[]).forEach((stack, s) => {
        if (!Array.isArray(stack)) bad(`profile ${p} sample ${s} is not a list of frames`);
        const weight = (weights as unknown[])[s];
        if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) bad(`profile ${p} sample ${s} has weight ${JSON.stringify(weight)}`);
        builder.addStack((stack as unknown[]).map((f) => frameAt(f, `profile ${p} sample ${s}`)), weight as number, thread);
      });
    } else if (profile?.type === 'evented') {
      readEvents(profile.events, p, frameAt, bad, (stack, weight) => builder.addStack(stack, weight, thread));
    } else {
      bad(`profile ${p} has type ${JSON.stringify(profile?.type)} (expected "sampled" or "evented")`);
    }
  });
  return builder.build({ unit: unit ?? 'samples', extra: { inputFormat: 'speedscope' } });
}

function readEvents(
  events: unknown,
  p: number,
  frameAt: (index: unknown, where: string) => FrameId,
  bad: (what: string) => never,
  add: (stack: FrameId[], weight: number) => void,
): void {
  if (!Array.isArray(events)) bad(`evented profile ${p} has no events array`);
  const stack: FrameId[] = [];
  let last: number | undefined;
  (events as unknown[]).forEach((raw, e) => {
    const event = raw as { type?: unknown; at?: unknown; frame?: unknown };
    if (typeof event?.at !== 'number' || !Number.isFinite(event.at)) bad(`profile ${p} event ${e} has no time`);
    const at = event.at as number;
    if (last !== undefined && at < last) bad(`profile ${p} event ${e} goes back in time`);
    if (last !== undefined && at > last && stack.length > 0) add(stack.slice(), at - last);
    last = at;
    const frame = frameAt(event.frame, `profile ${p} event ${e}`);
    if (event.type === 'O') stack.push(frame);
    else if (event.type === 'C') {
      if (stack[stack.length - 1] !== frame) bad(`profile ${p} event ${e} closes a frame that is not open`);
      stack.pop();
    } else bad(`profile ${p} event ${e} has type ${JSON.stringify(event.type)}`);
  });
}
