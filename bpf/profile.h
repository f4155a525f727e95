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
	__s32 user_stack_id;   /* likewise (a frame-pointer walk), or -1: none, or walked by tables (user_stack_hash) */
	char comm[TASK_COMM_LEN];
	__u64 start_time;      /* the process's start (group leader's start_boottime, ns): tells a reused pid's processes apart */
	__u64 user_stack_hash; /* key of the same set's `user_stacks_N` when the user stack was walked by unwind tables, else 0 */
};

/*
 * Unwind tables (src/unwind, docs/unwinding.md): each binary's .eh_frame compiled to rows sorted
 * by pc, each binary's in one run of the `unwind_rows` array. A row applies from its pc to the
 * next row's.
 */
struct unwind_row {
	__u32 pc;          /* ELF virtual address in the binary (no load bias) */
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa_rule;     /* enum cfa_rule */
	__u8 rbp_rule;     /* enum rbp_rule */
};

enum cfa_rule {
	CFA_NONE = 0,      /* no unwind information here: take a frame-pointer step */
	CFA_RSP,           /* CFA = rsp + cfa_offset */
	CFA_RBP,           /* CFA = rbp + cfa_offset */
	CFA_PLT,           /* PLT stub: CFA = rsp + 8, + 8 more when (pc & 15) >= cfa_offset */
	CFA_END,           /* the return address is undefined: the outermost frame */
	CFA_SIGNAL,        /* signal trampoline: the interrupted registers are in the rt_sigframe at rsp */
	CFA_INVALID,       /* a rule the walker cannot follow */
};

enum rbp_rule {
	RBP_SAME = 0,      /* rbp is the caller's */
	RBP_OFFSET,        /* the caller's rbp is saved at CFA + rbp_offset */
	RBP_INVALID,       /* saved where the walker cannot read it */
};

/* Mappings with unwind tables per process; more are walked with frame pointers. */
#define UNWIND_MAX_MAPPINGS 64

/* One executable mapping of a process whose binary has rows in `unwind_rows`. */
struct unwind_mapping {
	__u64 start;       /* first address of the mapping */
	__u64 end;         /* one past its last address */
	__u64 bias;        /* address - bias = the binary's virtual address */
	__u32 first_row;   /* the binary's rows in `unwind_rows` */
	__u32 row_count;
	/* Where the row search starts: the binary's pcs from bucket_base on, in buckets of
	 * 2^bucket_shift bytes; entry b of its bucket_count + 1 in `unwind_buckets` from first_bucket
	 * is the number of its rows below bucket b (src/unwind/rows.ts RowIndex). */
	__u32 first_bucket;
	__u32 bucket_count;
	__u32 bucket_base;
	__u8 bucket_shift;
	__u8 pad[3];
};

/* Value of `process_unwind`, by tgid: the process's mappings with tables, sorted by start. */
struct process_unwind {
	__u64 start_time;  /* as sample_key.start_time: another process under the same pid has none */
	__u32 count;
	/* New with every write of an entry (a counter of user space's): rows the walker cached for
	 * an earlier version of the process's mappings are not used for this one. */
	__u32 generation;
	/* A walk that meets a pc outside every mapping here (a library loaded after the process's
	 * memory map was read, or JIT code) asks user space to read the map again, at most once
	 * until this time (bpf_ktime_get_ns); user space sets it, and backs off where nothing new
	 * turns up. */
	__u64 remap_after_ns;
	struct unwind_mapping mappings[UNWIND_MAX_MAPPINGS];
};

/* How a table walk ended (user_stack.stop). */
enum unwind_stop {
	STOP_COMPLETE = 0, /* reached the outermost frame */
	STOP_DEPTH,        /* MAX_STACK_DEPTH frames and more to go */
	STOP_NO_TABLE,     /* a pc without unwind rows and without a usable frame pointer */
	STOP_READ_FAULT,   /* stack memory that could not be read (not resident, or garbage) */
	STOP_BAD_ROW,      /* a row the walker cannot follow (CFA_INVALID, or needing an unknown rbp) */
};

/* Which steps a table walk took (user_stack.method, bits). */
#define WALK_TABLES 1      /* at least one frame by unwind rows */
#define WALK_FRAME_POINTER 2 /* at least one frame-pointer step (JIT code, binaries without tables) */

/* Value of `user_stacks_N`: one user stack walked by tables, keyed by a 64-bit hash of its frames. */
struct user_stack {
	__u64 check;       /* a second, independent hash of the frames: a different stack under the same key is told apart */
	__u32 depth;
	__u8 stop;         /* enum unwind_stop */
	__u8 method;       /* WALK_* bits */
	__u16 pad;
	__u64 pcs[MAX_STACK_DEPTH]; /* leaf first */
};

/*
 * Sent through the `events` ring buffer the first time a process is sampled, after it execs, and
 * when a new process is sampled under a pid that an earlier one had (SEEN_NEW); and when a table
 * walk met a pc outside the process's mappings with tables (SEEN_UNMAPPED_PC, `pc`).
 */
struct seen_event {
	__u32 tgid;
	__u32 pid;
	char comm[TASK_COMM_LEN];
	__u64 start_time;      /* as in sample_key; /proc/PID/stat's starttime is it in clock ticks */
	__u64 pc;
	__u32 reason;          /* enum seen_reason */
	/* SEEN_NEW only, of the process (its group leader), so that capturing it reads less of /proc: */
	__u32 uid;             /* real uid, as /proc/PID/status's first Uid: (from the initial user namespace) */
	__u64 cgroup_key;      /* its cgroups in every hierarchy as one number (cgroup_key() in profile.bpf.c); 0: unknown */
	__u32 pid_ns_level;    /* depth of its PID namespace: 0 = ours, so NSpid is the pid alone */
	__u32 pad;
};

enum seen_reason {
	SEEN_NEW = 0,
	SEEN_UNMAPPED_PC,
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
	__u8 unwind_tables;   /* walk user stacks with `process_unwind` tables where a process has them */
	__u8 pad[2];
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
	DROP_USER_STACK_COLLISION, /* likewise, or another stack with the same 64-bit hash in `user_stacks_N` */
	DROP_USER_STACK_FULL,      /* likewise, or `user_stacks_N` is full */
	DROP_USER_STACK_ERROR,
	DROP_COUNTS_FULL,         /* the active set's counts hash is full */
	INFO_NO_USER_STACK,       /* -EFAULT on the user stack: a kernel thread; kept without one */
	INFO_EVENTS_LOST,         /* the ring buffer was full; user space finds new processes in the counts */
	INFO_NEW_KEYS,            /* a sample created a counts key: a set holds at most twice as many stacks */
	INFO_UNWIND_TABLES,       /* user stack walked by unwind tables (the rest: frame pointers, bpf_get_stackid) */
	INFO_UNWIND_DEPTH,        /* ... and cut at MAX_STACK_DEPTH */
	INFO_UNWIND_NO_TABLE,     /* ... and stopped at a pc with no table and no usable frame pointer */
	INFO_UNWIND_READ_FAULT,   /* ... and stopped at unreadable stack memory */
	INFO_UNWIND_BAD_ROW,      /* ... and stopped at a row it cannot follow */
	COUNTER_MAX,
};

#endif /* PROFILE_H */
