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
/* Set in a stack id that refers to the set's `fallback_stacks_N` rather than its `stacks_N`. */
#define FALLBACK_STACK_ID 0x40000000

/* Key of the `counts_N` hashes: one entry per distinct (thread, kernel stack, user stack, comm). */
struct sample_key {
	__u32 tgid;            /* the process (user space's pid) */
	__u32 pid;             /* the thread (user space's tid) */
	__s32 kernel_stack_id; /* id in the same set's stack maps, or -1: none (user mode, or --user-only) */
	__s32 user_stack_id;   /* likewise, or -1: none (kernel thread, or --kernel-only) */
	char comm[TASK_COMM_LEN];
	__u64 start_time;      /* the process's start (group leader's start_boottime, ns): tells a reused pid's processes apart */
};

/*
 * Sent through the `events` ring buffer the first time a process is sampled, after it execs, and
 * when a new process is sampled under a pid that an earlier one had.
 */
struct seen_event {
	__u32 tgid;
	__u32 pid;
	char comm[TASK_COMM_LEN];
	__u64 start_time;      /* as in sample_key; /proc/PID/stat's starttime is it in clock ticks */
};

/*
 * Which of the two sample sets (stack maps + counts) the program fills; the only variable in
 * .bss (so at offset 0). User space flips it while sampling runs, waits out the programs that
 * still use the old set, then drains and clears that set (src/record/session.ts, harvest()).
 */
struct control {
	__u32 active_set; /* 0 or 1 */
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
	COLLECTED,                /* counted in the active set's `counts_N` */
	DROP_KERNEL_STACK_COLLISION, /* -EEXIST: other stacks hold this hash bucket in both stack maps of the set */
	DROP_KERNEL_STACK_FULL,   /* -ENOMEM: no free stack map entry */
	DROP_KERNEL_STACK_ERROR,  /* any other error */
	DROP_USER_STACK_COLLISION,
	DROP_USER_STACK_FULL,
	DROP_USER_STACK_ERROR,
	DROP_COUNTS_FULL,         /* the active set's counts hash is full */
	INFO_NO_USER_STACK,       /* -EFAULT on the user stack: a kernel thread; kept without one */
	INFO_EVENTS_LOST,         /* the ring buffer was full; user space finds new processes in the counts */
	INFO_NEW_KEYS,            /* a sample created a counts key: a set holds at most twice as many stacks */
	COUNTER_MAX,
};

#endif /* PROFILE_H */
