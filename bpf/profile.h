/* SPDX-License-Identifier: MIT */
/*
 * The only ABI between profile.bpf.c and the TypeScript recorder (src/record/abi.ts).
 * test/record/abi.test.ts compiles a C program that prints every offset, size and constant
 * below and compares them with the TypeScript side; change both together.
 */
#ifndef PROFILE_H
#define PROFILE_H

#define TASK_COMM_LEN 16
/* The kernel's PERF_MAX_STACK_DEPTH (sysctl kernel.perf_event_max_stack defaults to it). */
#define MAX_STACK_DEPTH 127
/* Set in a stack id that refers to `fallback_stacks` rather than `stacks`. */
#define FALLBACK_STACK_ID 0x40000000

/* Key of the `counts` hash: one entry per distinct (thread, kernel stack, user stack, comm). */
struct sample_key {
	__u32 tgid;            /* the process (user space's pid) */
	__u32 pid;             /* the thread (user space's tid) */
	__s32 kernel_stack_id; /* id in `stacks` (or `fallback_stacks`), or -1: none (user mode, or --user-only) */
	__s32 user_stack_id;   /* id in `stacks`, or -1: none (kernel thread, or --kernel-only) */
	char comm[TASK_COMM_LEN];
};

/* Sent through the `events` ring buffer the first time a process is sampled and after it execs. */
struct seen_event {
	__u32 tgid;
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

/* Read-only knobs, the only variable in .rodata (so at offset 0), patched before load. */
struct config {
	__u32 tid;            /* only this thread when non-zero */
	__u8 filter_tgids;    /* only processes in the `targets` hash */
	__u8 follow_forks;    /* children of targets become targets (sched_process_fork) */
	__u8 include_idle;    /* keep samples of the idle task (pid 0) */
	__u8 user_stacks;     /* collect user stacks */
	__u8 kernel_stacks;   /* collect kernel stacks */
	__u8 pad[3];
};

/*
 * Indexes into the `counters` array. Every firing of the perf_event program ends in exactly one
 * of FILTERED, COLLECTED or one DROP_* reason, so
 *   PROBE_FIRINGS == FILTERED + COLLECTED + sum(DROP_*)
 * holds exactly; the others are informational.
 */
enum counter {
	PROBE_FIRINGS = 0,
	FILTERED,                 /* not a target (pid/tid filter, idle) */
	COLLECTED,                /* counted in `counts` */
	DROP_KERNEL_STACK_COLLISION, /* -EEXIST: other stacks hold this hash bucket in both stack maps */
	DROP_KERNEL_STACK_FULL,   /* -ENOMEM: no free stack map entry */
	DROP_KERNEL_STACK_ERROR,  /* any other error */
	DROP_USER_STACK_COLLISION,
	DROP_USER_STACK_FULL,
	DROP_USER_STACK_ERROR,
	DROP_COUNTS_FULL,         /* the `counts` hash is full */
	INFO_NO_USER_STACK,       /* -EFAULT on the user stack: a kernel thread; kept without one */
	INFO_EVENTS_LOST,         /* the ring buffer was full; user space falls back to `counts` */
	COUNTER_MAX,
};

#endif /* PROFILE_H */
