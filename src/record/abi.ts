/**
 * The layouts and constants of bpf/profile.h, the only ABI between the BPF program and this
 * recorder. test/record/abi.test.ts compiles a C program that prints them from the header and
 * compares them with these values, so the two cannot drift apart silently.
 */

export const TASK_COMM_LEN = 16;
export const MAX_STACK_DEPTH = 127;
/** Set in stack ids that refer to `fallback_stacks`. */
export const FALLBACK_STACK_ID = 0x40000000;

/** `struct sample_key`: the key of the `counts` hash. */
export const SAMPLE_KEY = {
  size: 48,
  tgid: 0,
  pid: 4,
  kernel_stack_id: 8,
  user_stack_id: 12,
  comm: 16,
  start_time: 32,
  user_stack_hash: 40,
} as const;

/** `struct unwind_row`: one row of `unwind_rows` (src/unwind, docs/unwinding.md). */
export const UNWIND_ROW = { size: 12, pc: 0, cfa_offset: 4, rbp_offset: 8, cfa_rule: 10, rbp_rule: 11 } as const;

/** `struct unwind_mapping`: one executable mapping with tables, in `process_unwind`. */
export const UNWIND_MAPPING = { size: 48, start: 0, end: 8, bias: 16, first_row: 24, row_count: 28, first_bucket: 32, bucket_count: 36, bucket_base: 40, bucket_shift: 44 } as const;

/** `struct process_unwind`: the value of `process_unwind`, by tgid. */
export const PROCESS_UNWIND = { size: 24 + 64 * 48, start_time: 0, count: 8, generation: 12, remap_after_ns: 16, mappings: 24 } as const;
export const UNWIND_MAX_MAPPINGS = 64;

/** `struct user_stack`: the value of `user_stacks_N`. */
export const USER_STACK = { size: 16 + 127 * 8, check: 0, depth: 8, stop: 12, method: 13, pcs: 16 } as const;

/* `enum cfa_rule`, `enum rbp_rule`, `enum unwind_stop` and WALK_* are src/unwind/rows.ts's CfaRule
   and RbpRule and src/unwind/walker.ts's STOP and WALK_*; test/record/abi.test.ts checks them. */

/** `struct seen_event`: what the ring buffer carries. */
export const SEEN_EVENT = { size: 64, tgid: 0, pid: 4, comm: 8, start_time: 24, pc: 32, reason: 40, uid: 44, cgroup_key: 48, pid_ns_level: 56 } as const;
/** `enum seen_reason`: why a `seen_event` was sent. */
export const SEEN_REASON = { NEW: 0, UNMAPPED_PC: 1 } as const;

/** `struct config`: the read-only knobs, at offset 0 of `.rodata`. */
export const CONFIG = {
  size: 12,
  tid: 0,
  filter_tgids: 4,
  follow_forks: 5,
  include_idle: 6,
  user_stacks: 7,
  kernel_stacks: 8,
  unwind_tables: 9,
} as const;

/** `struct control`: the only variable in `.bss`, written by user space while the program runs. */
export const CONTROL = { size: 4, active_set: 0 } as const;

/** `enum counter`, in order. */
export const COUNTERS = [
  'PROBE_FIRINGS',
  'FILTERED',
  'COLLECTED',
  'DROP_KERNEL_STACK_COLLISION',
  'DROP_KERNEL_STACK_FULL',
  'DROP_KERNEL_STACK_ERROR',
  'DROP_USER_STACK_COLLISION',
  'DROP_USER_STACK_FULL',
  'DROP_USER_STACK_ERROR',
  'DROP_COUNTS_FULL',
  'INFO_NO_USER_STACK',
  'INFO_EVENTS_LOST',
  'INFO_NEW_KEYS',
  'INFO_UNWIND_TABLES',
  'INFO_UNWIND_DEPTH',
  'INFO_UNWIND_NO_TABLE',
  'INFO_UNWIND_READ_FAULT',
  'INFO_UNWIND_BAD_ROW',
] as const;
export type CounterName = (typeof COUNTERS)[number];

/** The reason names user-facing metadata uses for each DROP_* counter. */
export const DROP_REASONS: Readonly<Partial<Record<CounterName, string>>> = {
  DROP_KERNEL_STACK_COLLISION: 'kernel-stack-collision',
  DROP_KERNEL_STACK_FULL: 'kernel-stack-map-full',
  DROP_KERNEL_STACK_ERROR: 'kernel-stack-error',
  DROP_USER_STACK_COLLISION: 'user-stack-collision',
  DROP_USER_STACK_FULL: 'user-stack-map-full',
  DROP_USER_STACK_ERROR: 'user-stack-error',
  DROP_COUNTS_FULL: 'counts-map-full',
};

/** Names of the programs and maps in bpf/profile.bpf.c. */
export const PROGRAMS = { sample: 'do_sample', fork: 'on_fork', exec: 'on_exec' } as const;
/** The two sample sets (see `control`): set N is `stacks_N`, `fallback_stacks_N`, `counts_N`. */
export const SAMPLE_SETS = [
  { stacks: 'stacks_0', fallbackStacks: 'fallback_stacks_0', userStacks: 'user_stacks_0', counts: 'counts_0' },
  { stacks: 'stacks_1', fallbackStacks: 'fallback_stacks_1', userStacks: 'user_stacks_1', counts: 'counts_1' },
] as const;
export const MAPS = {
  counters: 'counters',
  targets: 'targets',
  seen: 'seen',
  events: 'events',
  rodata: '.rodata',
  bss: '.bss',
  grace: 'grace',
  graceInner: 'grace_inner',
  unwindRows: 'unwind_rows',
  unwindBuckets: 'unwind_buckets',
  processUnwind: 'process_unwind',
} as const;
