// bpf/profile.h is the ABI: a C program prints its offsets, sizes and constants, which must equal
// src/record/abi.ts. About 0.3 s.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG, CONTROL, COUNTERS, FALLBACK_STACK_ID, MAX_STACK_DEPTH, PROCESS_UNWIND, SAMPLE_KEY, SEEN_EVENT, SEEN_REASON, TASK_COMM_LEN, UNWIND_MAPPING, UNWIND_MAX_MAPPINGS, UNWIND_ROW, USER_STACK } from '../../src/record/abi.js';
import { CfaRule, RbpRule } from '../../src/unwind/rows.js';
import { STOP, WALK_FRAME_POINTER, WALK_TABLES } from '../../src/unwind/walker.js';

// The C names of the unwinder's enums, with the values the TypeScript side uses.
const UNWIND_CONSTANTS: Record<string, number> = {
  ...Object.fromEntries(Object.entries(CfaRule).map(([name, value]) => [`CFA_${name}`, value])),
  ...Object.fromEntries(Object.entries(RbpRule).map(([name, value]) => [`RBP_${name}`, value])),
  STOP_COMPLETE: STOP.COMPLETE,
  STOP_DEPTH: STOP.DEPTH,
  STOP_NO_TABLE: STOP.NO_TABLE,
  STOP_READ_FAULT: STOP.READ_FAULT,
  STOP_BAD_ROW: STOP.BAD_ROW,
  WALK_TABLES,
  WALK_FRAME_POINTER,
  SEEN_NEW: SEEN_REASON.NEW,
  SEEN_UNMAPPED_PC: SEEN_REASON.UNMAPPED_PC,
};
import { ROOT } from '../helpers/cli.js';
import { missingTools, requires } from '../helpers/requires.js';

// Any C compiler will do: the first of these that is installed.
const cc = ['cc', 'gcc', 'clang-14'].find((tool) => missingTools(tool).length === 0);
if (requires(t, 'a C compiler (cc, gcc or clang-14) to check bpf/profile.h against src/record/abi.ts', cc !== undefined) && cc !== undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'profile-abi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fields = (struct: string, layout: Record<string, number>): string =>
    Object.keys(layout)
      .map((f) => (f === 'size' ? `printf("${struct}.size %zu\\n", sizeof(struct ${struct}));` : `printf("${struct}.${f} %zu\\n", offsetof(struct ${struct}, ${f}));`))
      .join('\n');
  const source = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "profile.h"
int main(void) {
${fields('sample_key', SAMPLE_KEY)}
${fields('seen_event', SEEN_EVENT)}
${fields('config', CONFIG)}
${fields('control', CONTROL)}
${fields('unwind_row', UNWIND_ROW)}
${fields('unwind_mapping', UNWIND_MAPPING)}
${fields('process_unwind', PROCESS_UNWIND)}
${fields('user_stack', USER_STACK)}
${[...Object.keys(UNWIND_CONSTANTS), 'UNWIND_MAX_MAPPINGS'].map((c) => `printf("${c} %d\\n", ${c});`).join('\n')}
printf("TASK_COMM_LEN %d\\nMAX_STACK_DEPTH %d\\nFALLBACK_STACK_ID %d\\n", TASK_COMM_LEN, MAX_STACK_DEPTH, FALLBACK_STACK_ID);
${COUNTERS.map((c) => `printf("${c} %d\\n", ${c});`).join('\n')}
printf("COUNTER_MAX %d\\n", COUNTER_MAX);
return 0; }
`;
  writeFileSync(join(dir, 'abi.c'), source);
  execFileSync(cc, ['-I', join(ROOT, 'bpf'), '-o', join(dir, 'abi'), join(dir, 'abi.c')]);
  const printed = Object.fromEntries(
    execFileSync(join(dir, 'abi'), { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]),
  );
  const expected: Record<string, number> = { TASK_COMM_LEN, MAX_STACK_DEPTH, FALLBACK_STACK_ID, COUNTER_MAX: COUNTERS.length, UNWIND_MAX_MAPPINGS, ...UNWIND_CONSTANTS };
  const structs = [['sample_key', SAMPLE_KEY], ['seen_event', SEEN_EVENT], ['config', CONFIG], ['control', CONTROL], ['unwind_row', UNWIND_ROW], ['unwind_mapping', UNWIND_MAPPING], ['process_unwind', PROCESS_UNWIND], ['user_stack', USER_STACK]] as const;
  for (const [struct, layout] of structs) {
    for (const [field, value] of Object.entries(layout)) expected[`${struct}.${field}`] = value;
  }
  COUNTERS.forEach((name, index) => (expected[name] = index));
  t.same(printed, expected, 'every offset, size and constant of profile.h matches src/record/abi.ts');
}
