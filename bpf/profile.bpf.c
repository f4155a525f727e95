/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Samples kernel and user stacks of running tasks. Modelled on libbpf-tools' profile.bpf.c:
 * the kernel side only counts {tgid, pid, kernel stack id, user stack id, comm}; every name is
 * resolved in user space. It runs from a PERF_COUNT_SW_CPU_CLOCK event opened on each CPU, in
 * the context of whatever task that CPU was running (NMI-like context for hardware events, the
 * hrtimer interrupt for the software clock), so current == the sampled task.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "profile.h"

const volatile struct config cfg = {};

/*
 * Two sets of sample maps. The program fills the set `control.active_set` names; user space
 * flips it, waits for the programs still running on the old set (see `grace`), reads that set
 * and clears it. So the stack maps never fill up with the stacks of processes long gone (ASLR
 * gives every process its own user stacks), and the accounting stays exact: a sample is counted
 * in exactly one set, and a set is only read once nothing can write to it.
 */
#define STACK_MAP(name, entries)                                          \
	struct {                                                          \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                   \
		__uint(key_size, sizeof(__u32));                          \
		__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));      \
		__uint(max_entries, entries);                             \
	} name SEC(".maps")

#define COUNTS_MAP(name)                                                  \
	struct {                                                          \
		__uint(type, BPF_MAP_TYPE_HASH);                          \
		__type(key, struct sample_key);                           \
		__type(value, __u64);                                     \
		__uint(max_entries, 65536);                               \
	} name SEC(".maps")

/* --stack-storage-size entries each; user space resizes them before load. */
STACK_MAP(stacks_0, 8192);
STACK_MAP(stacks_1, 8192);
/*
 * A stack whose bucket in `stacks_N` is taken by another stack (-EEXIST: the map hashes a stack
 * to one bucket and never probes further) goes here instead. Only colliding stacks compete for
 * this map, so a second collision is rare. Its ids carry FALLBACK_STACK_ID. A quarter of the size.
 */
STACK_MAP(fallback_stacks_0, 2048);
STACK_MAP(fallback_stacks_1, 2048);
COUNTS_MAP(counts_0);
COUNTS_MAP(counts_1);

struct control control = {};

/*
 * Updating an element of a map-of-maps returns only after an RCU grace period (the kernel's
 * maybe_wait_bpf_programs(): "userspace, when we return to it, knows that all non-sleepable
 * programs that could be running use the new map value"). perf_event programs run inside an RCU
 * read-side section, so after flipping `control.active_set` user space re-stores `grace_inner`
 * here, and when that returns no program can still be writing the old set.
 */
struct grace_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} grace_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct grace_inner_map);
} grace SEC(".maps") = {
	.values = { [0] = &grace_inner },
};

/*
 * Per-CPU, so counting is a plain increment: a shared array cost two atomic read-modify-writes
 * on one contended cache line per sample. User space sums the CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, COUNTER_MAX);
} counters SEC(".maps");

/* Processes to profile when cfg.filter_tgids; filled by user space, and by on_fork. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 8192);
} targets SEC(".maps");

/*
 * Processes already announced to user space, by tgid, with their start time: a new process that
 * reuses the pid of an announced one has another start time and is announced too. LRU, so a busy
 * machine never fills it: an evicted process is announced again, which user space ignores.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16384);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Just enough of the kernel's structs for CO-RE: libbpf relocates these offsets from BTF. */
struct list_head {
	struct list_head *next;
} __attribute__((preserve_access_index));

struct kernfs_node {
	__u64 id;                 /* unique for the boot in its hierarchy: the inode number of the cgroup's directory */
} __attribute__((preserve_access_index));

struct cgroup_root {
	int hierarchy_id;         /* the first field of /proc/PID/cgroup's lines; 0: the unified (v2) hierarchy */
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
} __attribute__((preserve_access_index));

/* Links a css_set to one cgroup of each hierarchy, controllers or not (v2, v1, named v1 like name=systemd). */
struct cgrp_cset_link {
	struct cgroup *cgrp;
	struct list_head cgrp_link;
} __attribute__((preserve_access_index));

struct css_set {
	struct list_head cgrp_links;
} __attribute__((preserve_access_index));

typedef struct {
	__u32 val;
} kuid_t;

struct cred {
	kuid_t uid;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *group_leader;
	__u64 start_boottime;
	const struct cred *real_cred;
	struct pid *thread_pid;
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

/*
 * When the sampled process started (ns since boot, suspend included): with the pid, it names one
 * process. pids are reused — within seconds on a fork-heavy host with pid_max 32768 — and a
 * reused pid's samples must not be named through the earlier process's memory map. The group
 * leader's, as /proc/PID/stat's starttime (field 22, in clock ticks) reports it.
 */
static __always_inline __u64 process_start(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);

	/* Only this CPU writes its slot, and the program is not re-entered on a CPU. */
	if (value)
		*value += 1;
}

#include "unwind.bpf.h"

/* Which DROP_* a failed bpf_get_stackid() means; 0 when the sample keeps going without it. */
static __always_inline __u32 stack_drop(long err, __u32 collision)
{
	/* hash collision (-EEXIST) in both stack maps: they may be too small (--stack-storage-size) */
	if (err == -EEXIST)
		return collision;
	/* -ENOMEM: every preallocated stack map entry is in use */
	if (err == -ENOMEM)
		return collision + 1;
	return collision + 2;
}

/* splitmix64's finalizer: every input bit changes about half of the output bits. */
static __always_inline __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* More links than a css_set has on any host: one per hierarchy (a v1 one per controller at most, named ones, v2). */
#define CGROUP_LINKS_MAX 24

/*
 * The process's cgroups in every hierarchy as one number: the sum of mix64(mix64(id) + hierarchy)
 * over its cgroups, so the same memberships give the same key whatever the list order, and
 * different ones a different key (but for a 64-bit collision). Cgroup ids are not reused during a
 * boot, so user space can keep each key's /proc/PID/cgroup answer; it computes the same sum from
 * the inode numbers of the cgroup directories before it trusts one (src/host/cgroups.ts). 0:
 * unknown (more links than walked). Called once per announcement, never per sample.
 */
static __noinline __u64 cgroup_key(struct task_struct *leader)
{
	struct css_set *cset = BPF_CORE_READ(leader, cgroups);
	struct list_head *head = &cset->cgrp_links, *pos = BPF_CORE_READ(cset, cgrp_links.next);
	__u64 key = 0;

	for (int i = 0; i < CGROUP_LINKS_MAX; i++) {
		struct cgrp_cset_link *link = (void *)pos - bpf_core_field_offset(struct cgrp_cset_link, cgrp_link);
		struct cgroup *cgrp;

		if (pos == head)
			return key ? key : 1;
		cgrp = BPF_CORE_READ(link, cgrp);
		key += mix64(mix64(BPF_CORE_READ(cgrp, kn, id)) + (__u64)BPF_CORE_READ(cgrp, root, hierarchy_id));
		pos = BPF_CORE_READ(pos, next);
	}
	return 0;
}

/*
 * Tells user space about a process it may not know yet. Called only when a sample creates a new
 * `counts` key, which the first sample of every process (and of every exec: comm and stacks
 * change) does, so the steady state pays no `seen` look-up.
 */
static __always_inline void announce(__u32 tgid, struct sample_key *key)
{
	struct seen_event *event;
	struct task_struct *leader;
	__u64 *known = bpf_map_lookup_elem(&seen, &tgid);

	if (known && *known == key->start_time)
		return;
	/* Another CPU may announce the same process at the same time; user space deduplicates. */
	bpf_map_update_elem(&seen, &tgid, &key->start_time, BPF_ANY);
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(INFO_EVENTS_LOST);
		return;
	}
	event->tgid = tgid;
	event->pid = key->pid;
	__builtin_memcpy(event->comm, key->comm, TASK_COMM_LEN);
	event->start_time = key->start_time;
	event->pc = 0;
	event->reason = SEEN_NEW;
	leader = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader);
	event->uid = BPF_CORE_READ(leader, real_cred, uid.val);
	event->cgroup_key = cgroup_key(leader);
	event->pid_ns_level = BPF_CORE_READ(leader, thread_pid, level);
	event->pad = 0;
	/*
	 * Flags 0: the kernel wakes the reader (through irq_work, safe from this context) only when
	 * it had caught up, so a burst of new processes costs one wake-up, and steady state none.
	 */
	bpf_ringbuf_submit(event, 0);
}

/* bpf_get_stackid() into `stacks`, or into `fallback` when its bucket there is taken. */
static __always_inline long stack_id(struct bpf_perf_event_data *ctx, void *stacks, void *fallback, __u64 flags)
{
	long id = bpf_get_stackid(ctx, stacks, flags);

	if (id == -EEXIST) {
		id = bpf_get_stackid(ctx, fallback, flags);
		if (id >= 0)
			id |= FALLBACK_STACK_ID;
	}
	return id;
}

/* One sample into one set's maps; inlined once per set so every map argument is a constant. */
static __always_inline int sample(struct bpf_perf_event_data *ctx, __u32 tgid, __u32 pid, __u64 start_time, struct user_stack *walked,
				  __u64 walked_hash, void *stacks, void *fallback, void *user_stacks, void *counts)
{
	struct sample_key key = {};
	__u64 one = 1, *value;
	__u32 drop;
	long err;

	key.tgid = tgid;
	key.pid = pid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.start_time = start_time;

	key.kernel_stack_id = -1;
	if (cfg.kernel_stacks) {
		err = stack_id(ctx, stacks, fallback, 0);
		/* -EFAULT: the CPU was in user mode, there is no kernel stack to walk */
		if (err >= 0)
			key.kernel_stack_id = err;
		else if (err != -EFAULT) {
			count(stack_drop(err, DROP_KERNEL_STACK_COLLISION));
			return 0;
		}
	}

	key.user_stack_id = -1;
	if (walked) {
		drop = store_user_stack(user_stacks, walked, walked_hash);
		if (drop) {
			count(drop);
			return 0;
		}
		key.user_stack_hash = walked_hash;
	} else if (cfg.user_stacks) {
		/*
		 * Frame-pointer walk of the user stack from the registers saved at kernel entry.
		 * -EFAULT: no user context (a kernel thread).
		 */
		err = stack_id(ctx, stacks, fallback, BPF_F_USER_STACK);
		if (err >= 0)
			key.user_stack_id = err;
		else if (err == -EFAULT)
			count(INFO_NO_USER_STACK);
		else {
			count(stack_drop(err, DROP_USER_STACK_COLLISION));
			return 0;
		}
	}

	value = bpf_map_lookup_elem(counts, &key);
	if (value) {
		__sync_fetch_and_add(value, 1);
	} else {
		err = bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST);
		/* -EEXIST: the same key was inserted by another CPU in between */
		if (err == -EEXIST) {
			value = bpf_map_lookup_elem(counts, &key);
			if (value)
				__sync_fetch_and_add(value, 1);
		} else if (err) {
			/* -E2BIG: a preallocated hash refuses new keys when full */
			count(DROP_COUNTS_FULL);
			return 0;
		}
		count(INFO_NEW_KEYS);
		announce(tgid, &key);
	}
	count(COLLECTED);
	return 0;
}

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 pid = id;
	struct process_unwind *proc;
	struct user_stack *walked = 0;
	__u64 walked_hash = 0, start_time;

	count(PROBE_FIRINGS);
	if ((pid == 0 && !cfg.include_idle) || (cfg.tid && pid != cfg.tid) ||
	    (cfg.filter_tgids && !bpf_map_lookup_elem(&targets, &tgid))) {
		count(FILTERED);
		return 0;
	}
	/*
	 * Walked here, once: inlined into each set's copy of sample() the walker doubled the
	 * verifier's work. A process has tables only once user space loaded them for its start.
	 */
	start_time = process_start();
	if (cfg.user_stacks && cfg.unwind_tables) {
		proc = bpf_map_lookup_elem(&process_unwind, &tgid);
		if (proc && proc->start_time == start_time) {
			walked = walk_user_stack(ctx, proc, &walked_hash);
			if (!walked) {
				count(DROP_USER_STACK_ERROR);
				return 0;
			}
		}
	}
	/* Read once: the whole sample goes to one set even if user space flips it meanwhile. */
	if (*(volatile __u32 *)&control.active_set)
		return sample(ctx, tgid, pid, start_time, walked, walked_hash, &stacks_1, &fallback_stacks_1, &user_stacks_1, &counts_1);
	return sample(ctx, tgid, pid, start_time, walked, walked_hash, &stacks_0, &fallback_stacks_0, &user_stacks_0, &counts_0);
}


/* With cfg.follow_forks, a process forked by a target is a target too (`profile record -- CMD`). */
SEC("raw_tp/sched_process_fork")
int on_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 tgid;
	__u8 one = 1;

	if (!bpf_map_lookup_elem(&targets, &parent))
		return 0;
	tgid = BPF_CORE_READ(child, tgid);
	/* A new thread has the parent's tgid, already a target. */
	bpf_map_update_elem(&targets, &tgid, &one, BPF_NOEXIST);
	return 0;
}

/*
 * After exec a process has a new memory map: forget it so its next sample announces it again, and
 * drop its unwind mappings (the start time stays the same across exec, so they would still match)
 * until user space has loaded the new image's.
 */
SEC("raw_tp/sched_process_exec")
int on_exec(__u64 *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&seen, &tgid);
	bpf_map_delete_elem(&process_unwind, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
