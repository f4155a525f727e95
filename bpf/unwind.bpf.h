/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-stack walker for binaries without frame pointers, included by profile.bpf.c.
 *
 * User space compiles each binary's .eh_frame (or .debug_frame) into rows sorted by pc (src/unwind,
 * docs/unwinding.md) and stores them in `unwind_rows`; for each process it stores the
 * executable mappings that have rows in `process_unwind`. From the sampled thread's user
 * registers the walker finds, frame by frame, the mapping holding the pc, the row for it (binary
 * search), computes the canonical frame address (CFA), reads the return address at CFA - 8 and the
 * caller's rbp where the row says it was saved. Where no row covers a pc (JIT code, [vdso], a
 * binary without unwind information) it takes a frame-pointer step instead. The walk is the
 * TypeScript reference walker's (src/unwind/walker.ts) step for step; the tests hold them equal.
 */
#ifndef UNWIND_BPF_H
#define UNWIND_BPF_H

/* Every placed binary's rows, one run each (src/unwind/space.ts); sized before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct unwind_row);
	__uint(max_entries, 1);
} unwind_rows SEC(".maps");

/* Each placed binary's row index, one run each (struct unwind_mapping); sized before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} unwind_buckets SEC(".maps");

/* By tgid. Not preallocated: a 3 KB entry only for each process that has tables. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct process_unwind);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} process_unwind SEC(".maps");

/* Stacks walked by tables, by a 64-bit hash of their frames; one map per sample set. */
#define USER_STACKS_MAP(name)                                             \
	struct {                                                          \
		__uint(type, BPF_MAP_TYPE_HASH);                          \
		__type(key, __u64);                                       \
		__type(value, struct user_stack);                         \
		__uint(max_entries, 8192);                                \
	} name SEC(".maps")

USER_STACKS_MAP(user_stacks_0);
USER_STACKS_MAP(user_stacks_1);

/*
 * The stack being walked (1 KB, too big for the 512-byte BPF stack) and the previous frame's
 * mapping + 1 (0: none; callers are mostly in the same binary as their callee). The mapping is
 * kept here rather than in `struct walk`: a value the verifier tracks across the frame loop's
 * iterations kept it from pruning states (375k instructions verified instead of 5k), one read
 * from a map is just a number.
 */
/*
 * A row found for a pc of a process, kept per CPU: the outer frames of a hot stack (main, the
 * interpreter's loop, a request handler) are the same return addresses sample after sample, and
 * a cached row saves both searches. Valid for the process entry's generation only.
 */
#define ROW_CACHE_SLOTS 256

/* Bytes of stack copied at the start of a walk (a power of two): python3's ~20 native frames fit. */
#define STACK_WINDOW 4096

struct row_cache_entry {
	__u64 pc;          /* the pc looked up (a return address - 1, or the leaf); 0: empty */
	__u32 tgid;
	__u32 generation;  /* process_unwind.generation */
	struct unwind_row row;
	__u32 pad;
};

struct walk_scratch_value {
	struct user_stack stack;
	__u32 last_mapping;
	__u32 pad;
	/* The first pc of this walk outside every mapping with tables, 0: none (kept here for the
	 * same reason as last_mapping). */
	__u64 unmapped_pc;
	struct row_cache_entry row_cache[ROW_CACHE_SLOTS];
	/* The top of the user stack from the sampled sp, copied in one read: each frame's return
	 * address and saved rbp are then loads from here instead of a bpf_probe_read_user each. The
	 * 8 bytes past the window let a masked offset read 8 bytes without leaving the value. */
	__u8 window[STACK_WINDOW + 8];
	/* Bytes copied into the window: 0, or at least 8 (in map memory, as last_mapping). */
	__u32 window_len;
	__u32 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct walk_scratch_value);
	__uint(max_entries, 1);
} walk_scratch SEC(".maps");

struct walk {
	__u64 pc;
	__u64 sp;
	__u64 rbp;
	__u64 hash;
	__u64 check;
	struct process_unwind *proc;
	struct user_stack *stack;
	__u32 *last_mapping;
	__u64 *unmapped_pc;
	struct row_cache_entry *row_cache;
	__u8 *window;
	__u64 window_base; /* the user address window[0] was copied from */
	__u32 *window_len;
	__u32 tgid;
	__u32 generation;
	__u32 depth;
	__u8 rbp_known;
	/* The pc is where the thread was stopped (the leaf, or the frame a signal interrupted), not a
	 * return address: a return address may be one past the end of its function (a call to a
	 * noreturn function), so its row is looked up at pc - 1. */
	__u8 exact_pc;
	__u8 stop;
	__u8 method;
};

/* x86-64 rt_sigframe, after the handler returned into the trampoline: rsp points at its ucontext,
 * whose uc_mcontext (struct sigcontext) starts 40 bytes in: r8..r15, rdi, rsi, rbp, rbx, rdx,
 * rax, rcx, rsp, rip. */
#define SIGFRAME_RBP (40 + 10 * 8)
#define SIGFRAME_RSP (40 + 15 * 8)
#define SIGFRAME_RIP (40 + 16 * 8)

/* Binary-search steps: 2^7 > UNWIND_MAX_MAPPINGS mappings, 2^24 rows per binary (user space refuses
 * more; a bucket holds two to four rows on average, but a dense one may hold many). */
#define MAPPING_SEARCH_STEPS 7
#define ROW_SEARCH_STEPS 24

/*
 * The searches run as bpf_loop callbacks, which the verifier checks once, and every branch of
 * them stays inside: where a search's first steps were inlined into the frame step, each of
 * their outcomes went on as a path of its own through the rest of it, and the verifier walked
 * half a million instructions (a second and a half of loading) instead of five thousand.
 */
struct mapping_search {
	__u64 pc;
	struct process_unwind *proc;
	__u32 lo;
	__u32 hi;
	__s32 found;
	__u32 last; /* the previous frame's mapping + 1, 0: none */
};

/*
 * Step 0 tries the previous frame's mapping (callers are mostly in the same binary); the others
 * binary-search the mappings for the one holding `pc`.
 */
static long mapping_search_step(__u32 index, void *ctx)
{
	struct mapping_search *s = ctx;
	struct unwind_mapping *m;
	__u32 mid;

	if (!s->proc)
		return 1;
	if (index == 0) {
		if (s->last) {
			mid = (s->last - 1) & (UNWIND_MAX_MAPPINGS - 1);
			m = &s->proc->mappings[mid];
			if (s->pc >= m->start && s->pc < m->end) {
				s->found = mid;
				return 1;
			}
		}
		return 0;
	}
	if (s->lo >= s->hi)
		return 1;
	mid = ((s->lo + s->hi) / 2) & (UNWIND_MAX_MAPPINGS - 1);
	m = &s->proc->mappings[mid];
	if (s->pc < m->start)
		s->hi = mid;
	else if (s->pc >= m->end)
		s->lo = mid + 1;
	else {
		s->found = mid;
		return 1;
	}
	return 0;
}

static __always_inline struct unwind_mapping *find_mapping(struct walk *w, __u64 pc)
{
	struct mapping_search s = { .pc = pc, .proc = w->proc, .lo = 0, .hi = w->proc->count, .found = -1, .last = *w->last_mapping };

	if (s.hi > UNWIND_MAX_MAPPINGS)
		s.hi = UNWIND_MAX_MAPPINGS;
	bpf_loop(MAPPING_SEARCH_STEPS + 1, mapping_search_step, &s, 0);
	if (s.found < 0)
		return 0;
	*w->last_mapping = (s.found & (UNWIND_MAX_MAPPINGS - 1)) + 1;
	return &w->proc->mappings[s.found & (UNWIND_MAX_MAPPINGS - 1)];
}

struct row_search {
	__u64 vaddr;
	struct unwind_mapping *m;
	__u32 first;
	__u32 lo;
	__u32 hi;
};

/* Step 0 of the row search: the bounds from the binary's row index (struct unwind_mapping). */
static __always_inline long row_search_bounds(struct row_search *s)
{
	struct unwind_mapping *m = s->m;
	__u32 index, bucket, *lo, *hi;

	s->lo = s->hi = 0;
	if (!m || s->vaddr > 0xffffffffULL || s->vaddr < m->bucket_base || m->bucket_count == 0)
		return 1;
	bucket = (s->vaddr - m->bucket_base) >> (m->bucket_shift & 31);
	if (bucket >= m->bucket_count)
		bucket = m->bucket_count - 1;
	index = m->first_bucket + bucket;
	lo = bpf_map_lookup_elem(&unwind_buckets, &index);
	index++;
	hi = bpf_map_lookup_elem(&unwind_buckets, &index);
	if (!lo || !hi || *hi > m->row_count)
		return 1;
	s->first = m->first_row;
	s->lo = *lo;
	s->hi = *hi;
	return 0;
}

/* The search for the last row at or before `vaddr`: s->lo ends as the number of rows at or before it. */
static long row_search_step(__u32 index, void *ctx)
{
	struct row_search *s = ctx;
	struct unwind_row *row;
	__u32 mid, at;

	if (index == 0)
		return row_search_bounds(s);
	if (s->lo >= s->hi)
		return 1;
	mid = s->lo + (s->hi - s->lo) / 2;
	at = s->first + mid;
	row = bpf_map_lookup_elem(&unwind_rows, &at);
	if (!row) {
		s->lo = s->hi = 0;
		return 1;
	}
	if (row->pc <= s->vaddr)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* The last row at or before `vaddr` among the mapping's binary's rows. */
static __always_inline struct unwind_row *find_row(struct unwind_mapping *m, __u64 vaddr)
{
	struct row_search s = { .vaddr = vaddr, .m = m };
	__u32 index;

	bpf_loop(ROW_SEARCH_STEPS + 2, row_search_step, &s, 0);
	if (s.lo == 0)
		return 0;
	index = s.first + s.lo - 1;
	return bpf_map_lookup_elem(&unwind_rows, &index);
}

/* 8 bytes of the user stack at `at`: from the window when it holds them, else from user memory. */
static __always_inline long read_stack(struct walk *w, __u64 *out, __u64 at)
{
	__u64 offset = at - w->window_base;
	__u32 len = w->window_len ? *w->window_len : 0;

	if (w->window && len >= 8 && offset <= len - 8) {
		offset &= STACK_WINDOW - 1;
		*out = *(__u64 *)(w->window + offset);
		return 0;
	}
	return bpf_probe_read_user(out, sizeof(*out), (void *)at);
}

static __always_inline long walk_stop(struct walk *w, __u8 reason)
{
	w->stop = reason;
	return 1;
}

/* Moves to the caller: its stack pointer (the CFA) and pc (the return address). */
static __always_inline long walk_to(struct walk *w, __u64 cfa, __u64 ra)
{
	/* A return address of 0 ends the chain (glibc's thread start functions, or cleared frames). */
	if (ra == 0)
		return walk_stop(w, STOP_COMPLETE);
	/* Stacks grow down: a caller's frame is always above. Anything else is not a stack. */
	if (cfa <= w->sp)
		return walk_stop(w, STOP_READ_FAULT);
	w->sp = cfa;
	w->pc = ra;
	w->exact_pc = 0;
	return 0;
}

/* No row covers the pc: the frame-pointer convention, [rbp] = caller's rbp, [rbp + 8] = return address. */
static __always_inline long frame_pointer_step(struct walk *w)
{
	__u64 saved[2];

	if (w->rbp_known && w->rbp == 0 && (w->method & WALK_FRAME_POINTER))
		return walk_stop(w, STOP_COMPLETE); /* the end of a frame-pointer chain */
	if (!w->rbp_known || w->rbp < w->sp || (w->rbp & 7))
		return walk_stop(w, STOP_NO_TABLE);
	if (read_stack(w, &saved[0], w->rbp) || read_stack(w, &saved[1], w->rbp + 8))
		return walk_stop(w, STOP_READ_FAULT);
	w->method |= WALK_FRAME_POINTER;
	__u64 cfa = w->rbp + 16;

	w->rbp = saved[0];
	return walk_to(w, cfa, saved[1]);
}

/* The pc is in a signal trampoline: continue in the interrupted code, with its registers. */
static __always_inline long signal_step(struct walk *w)
{
	__u64 rbp, sp, ip;

	if (bpf_probe_read_user(&rbp, 8, (void *)(w->sp + SIGFRAME_RBP)) ||
	    bpf_probe_read_user(&sp, 8, (void *)(w->sp + SIGFRAME_RSP)) ||
	    bpf_probe_read_user(&ip, 8, (void *)(w->sp + SIGFRAME_RIP)))
		return walk_stop(w, STOP_READ_FAULT);
	w->method |= WALK_TABLES;
	if (ip == 0)
		return walk_stop(w, STOP_COMPLETE);
	w->rbp = rbp;
	w->rbp_known = 1;
	w->sp = sp; /* the interrupted code's: may be anywhere (sigaltstack), so no direction check */
	w->pc = ip;
	w->exact_pc = 1;
	return 0;
}

/* One frame: record the pc, then find the caller's registers. 1 ends the walk (bpf_loop). */
static long unwind_step(__u32 index, void *ctx)
{
	struct walk *w = ctx;
	struct user_stack *stack = w->stack;
	__u32 depth = w->depth;
	__u64 pc = w->pc, cfa, ra, lookup;

	if (!stack || !w->proc)
		return walk_stop(w, STOP_BAD_ROW);
	if (depth >= MAX_STACK_DEPTH)
		return walk_stop(w, STOP_DEPTH);
	stack->pcs[depth] = pc;
	w->depth = depth + 1;
	w->hash = (w->hash ^ pc) * 0x9e3779b97f4a7c15ULL;
	w->hash ^= w->hash >> 29;
	w->check = (w->check + pc) * 0xbf58476d1ce4e5b9ULL;
	w->check ^= w->check >> 31;

	lookup = w->exact_pc ? pc : pc - 1;
	struct unwind_row r;
	struct row_cache_entry *cached = w->row_cache;

	if (!cached)
		return walk_stop(w, STOP_BAD_ROW);
	cached += (lookup ^ (lookup >> 9)) & (ROW_CACHE_SLOTS - 1);
	if (cached->pc == lookup && cached->tgid == w->tgid && cached->generation == w->generation) {
		r = cached->row;
	} else {
		struct unwind_mapping *m = find_mapping(w, lookup);
		struct unwind_row *row = m ? find_row(m, lookup - m->bias) : 0;

		if (!m && !*w->unmapped_pc)
			*w->unmapped_pc = lookup;
		if (!row)
			return frame_pointer_step(w);
		r = *row;
		cached->pc = lookup;
		cached->tgid = w->tgid;
		cached->generation = w->generation;
		cached->row = r;
	}
	struct unwind_row *row = &r;

	switch (row->cfa_rule) {
	case CFA_NONE:
		return frame_pointer_step(w);
	case CFA_END:
		w->method |= WALK_TABLES;
		return walk_stop(w, STOP_COMPLETE);
	case CFA_SIGNAL:
		return signal_step(w);
	case CFA_RSP:
		cfa = w->sp + row->cfa_offset;
		break;
	case CFA_RBP:
		if (!w->rbp_known)
			return walk_stop(w, STOP_BAD_ROW);
		cfa = w->rbp + row->cfa_offset;
		break;
	case CFA_PLT:
		cfa = w->sp + 8 + ((pc & 15) >= (__u64)row->cfa_offset ? 8 : 0);
		break;
	default:
		return walk_stop(w, STOP_BAD_ROW);
	}
	if (read_stack(w, &ra, cfa - 8))
		return walk_stop(w, STOP_READ_FAULT);
	if (row->rbp_rule == RBP_OFFSET) {
		if (read_stack(w, &w->rbp, cfa + row->rbp_offset))
			return walk_stop(w, STOP_READ_FAULT);
		w->rbp_known = 1;
	} else if (row->rbp_rule != RBP_SAME) {
		w->rbp_known = 0;
	}
	w->method |= WALK_TABLES;
	return walk_to(w, cfa, ra);
}

/* The counter that tells how a table walk ended (COLLECTED is counted by the caller). */
static __always_inline __u32 stop_counter(__u8 stop)
{
	switch (stop) {
	case STOP_DEPTH:
		return INFO_UNWIND_DEPTH;
	case STOP_NO_TABLE:
		return INFO_UNWIND_NO_TABLE;
	case STOP_READ_FAULT:
		return INFO_UNWIND_READ_FAULT;
	case STOP_BAD_ROW:
		return INFO_UNWIND_BAD_ROW;
	}
	return 0;
}

/* How long a process that asked for a remap waits for the answer before it may ask again. */
#define REMAP_WAIT_NS (10ULL * 1000 * 1000 * 1000)

/*
 * A walk met `pc` outside the process's mappings with tables: unless it asked lately, tell user
 * space, which reads the memory map again and loads what is new (src/unwind/loader.ts). Another
 * CPU may ask at the same moment; user space takes the first.
 */
static __always_inline void ask_for_remap(struct process_unwind *proc, __u64 pc)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	struct seen_event *event;

	if (now < proc->remap_after_ns)
		return;
	/* Until user space answers (it sets the next time itself). */
	proc->remap_after_ns = now + REMAP_WAIT_NS;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(INFO_EVENTS_LOST);
		return;
	}
	event->tgid = id >> 32;
	event->pid = id;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	event->start_time = proc->start_time;
	event->pc = pc;
	event->reason = SEEN_UNMAPPED_PC;
	event->uid = 0;
	event->cgroup_key = 0;
	event->pid_ns_level = 0;
	event->pad = 0;
	bpf_ringbuf_submit(event, 0);
}

/*
 * Walks the current thread's user stack with `proc`'s tables into the per-CPU `walk_scratch` and
 * returns the walked stack, its key in *hash; NULL when the registers cannot be read.
 */
static __always_inline struct user_stack *walk_user_stack(struct bpf_perf_event_data *ctx, struct process_unwind *proc, __u64 *hash)
{
	__u32 zero = 0;
	struct walk w = {};

	struct walk_scratch_value *scratch = bpf_map_lookup_elem(&walk_scratch, &zero);

	if (!scratch)
		return 0;
	w.stack = &scratch->stack;
	w.last_mapping = &scratch->last_mapping;
	w.unmapped_pc = &scratch->unmapped_pc;
	w.row_cache = scratch->row_cache;
	w.tgid = bpf_get_current_pid_tgid() >> 32;
	w.generation = proc->generation;
	scratch->last_mapping = 0;
	scratch->unmapped_pc = 0;
	w.proc = proc;
	if ((ctx->regs.cs & 3) == 3) {
		/* Sampled in user mode: the interrupt saved the user registers. */
		w.pc = ctx->regs.rip;
		w.sp = ctx->regs.rsp;
		w.rbp = ctx->regs.rbp;
	} else {
		/* In the kernel (a system call, a fault): the user registers saved at kernel entry. */
		struct pt_regs user;
		struct pt_regs *saved = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

		if (bpf_probe_read_kernel(&user, sizeof(user), saved))
			return 0;
		w.pc = user.rip;
		w.sp = user.rsp;
		w.rbp = user.rbp;
	}
	w.rbp_known = 1;
	w.exact_pc = 1;
	/* The window: STACK_WINDOW bytes from sp, or, where they reach past the stack's top, the rest
	 * of sp's page; nothing when even that cannot be read (each frame then reads for itself). */
	w.window = scratch->window;
	w.window_len = &scratch->window_len;
	w.window_base = w.sp;
	scratch->window_len = 0;
	if (!bpf_probe_read_user(scratch->window, STACK_WINDOW, (void *)w.sp)) {
		scratch->window_len = STACK_WINDOW;
	} else {
		__u32 rest = 4096 - (w.sp & 4095);

		if (rest > STACK_WINDOW)
			rest = STACK_WINDOW;
		if (rest >= 8 && !bpf_probe_read_user(scratch->window, rest, (void *)w.sp))
			scratch->window_len = rest;
	}
	w.hash = 0xcbf29ce484222325ULL;
	w.check = 0x84222325cbf29ce4ULL;
	bpf_loop(MAX_STACK_DEPTH + 1, unwind_step, &w, 0);

	w.stack->depth = w.depth;
	w.stack->stop = w.stop;
	w.stack->method = w.method;
	w.stack->pad = 0;
	w.hash ^= ((__u64)w.stop << 8 | w.method) * 0xff51afd7ed558ccdULL;
	w.check ^= w.depth;
	if (w.hash == 0)
		w.hash = 1;
	w.stack->check = w.check;
	*hash = w.hash;
	if (scratch->unmapped_pc)
		ask_for_remap(proc, scratch->unmapped_pc);
	return w.stack;
}

/*
 * Stores a walked stack in a set's `user_stacks_N` under `hash` unless it is there already.
 * 0, or the DROP_* counter of a sample that cannot be kept.
 */
static __always_inline __u32 store_user_stack(void *stacks, struct user_stack *stack, __u64 hash)
{
	struct user_stack *existing = bpf_map_lookup_elem(stacks, &hash);
	long err;

	if (!existing) {
		err = bpf_map_update_elem(stacks, &hash, stack, BPF_NOEXIST);
		/* -EEXIST: another CPU stored a stack under this key meanwhile */
		if (err == -EEXIST)
			existing = bpf_map_lookup_elem(stacks, &hash);
		else if (err)
			return DROP_USER_STACK_FULL;
	}
	if (existing && existing->check != stack->check)
		return DROP_USER_STACK_COLLISION;
	count(INFO_UNWIND_TABLES);
	if (stack->stop != STOP_COMPLETE)
		count(stop_counter(stack->stop));
	return 0;
}

#endif /* UNWIND_BPF_H */
