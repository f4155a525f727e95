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

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 32768); /* --stack-storage-size; user space resizes it before load */
} stacks SEC(".maps");

/*
 * A stack whose bucket in `stacks` is taken by another stack (-EEXIST: the map hashes a stack to
 * one bucket and never probes further) goes here instead. Only colliding stacks compete for this
 * map, so a second collision is rare. Its ids carry FALLBACK_STACK_ID.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 8192); /* a quarter of `stacks`; user space resizes it before load */
} fallback_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sample_key);
	__type(value, __u64);
	__uint(max_entries, 65536);
} counts SEC(".maps");

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
 * Processes already announced to user space. LRU, so a busy machine never fills it: an evicted
 * process is announced again, which user space ignores.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 16384);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);

	/* Only this CPU writes its slot, and the program is not re-entered on a CPU. */
	if (value)
		*value += 1;
}

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

/*
 * Tells user space about a process it may not know yet. Called only when a sample creates a new
 * `counts` key, which the first sample of every process (and of every exec: comm and stacks
 * change) does, so the steady state pays no `seen` look-up.
 */
static __always_inline void announce(__u32 tgid, struct sample_key *key)
{
	__u8 one = 1;
	struct seen_event *event;

	if (bpf_map_lookup_elem(&seen, &tgid))
		return;
	/* Another CPU may announce the same process at the same time; user space deduplicates. */
	bpf_map_update_elem(&seen, &tgid, &one, BPF_ANY);
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(INFO_EVENTS_LOST);
		return;
	}
	event->tgid = tgid;
	event->pid = key->pid;
	__builtin_memcpy(event->comm, key->comm, TASK_COMM_LEN);
	/*
	 * Flags 0: the kernel wakes the reader (through irq_work, safe from this context) only when
	 * it had caught up, so a burst of new processes costs one wake-up, and steady state none.
	 */
	bpf_ringbuf_submit(event, 0);
}

/* bpf_get_stackid() into `stacks`, or into `fallback_stacks` when its bucket there is taken. */
static __always_inline long stack_id(struct bpf_perf_event_data *ctx, __u64 flags)
{
	long id = bpf_get_stackid(ctx, &stacks, flags);

	if (id == -EEXIST) {
		id = bpf_get_stackid(ctx, &fallback_stacks, flags);
		if (id >= 0)
			id |= FALLBACK_STACK_ID;
	}
	return id;
}

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 pid = id;
	struct sample_key key = {};
	__u64 one = 1, *value;
	long err;

	count(PROBE_FIRINGS);
	if ((pid == 0 && !cfg.include_idle) || (cfg.tid && pid != cfg.tid) ||
	    (cfg.filter_tgids && !bpf_map_lookup_elem(&targets, &tgid))) {
		count(FILTERED);
		return 0;
	}

	key.tgid = tgid;
	key.pid = pid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));

	key.kernel_stack_id = -1;
	if (cfg.kernel_stacks) {
		err = stack_id(ctx, 0);
		/* -EFAULT: the CPU was in user mode, there is no kernel stack to walk */
		if (err >= 0)
			key.kernel_stack_id = err;
		else if (err != -EFAULT) {
			count(stack_drop(err, DROP_KERNEL_STACK_COLLISION));
			return 0;
		}
	}

	key.user_stack_id = -1;
	if (cfg.user_stacks) {
		/*
		 * Frame-pointer walk of the user stack from the registers saved at kernel entry.
		 * -EFAULT: no user context (a kernel thread).
		 */
		err = stack_id(ctx, BPF_F_USER_STACK);
		if (err >= 0)
			key.user_stack_id = err;
		else if (err == -EFAULT)
			count(INFO_NO_USER_STACK);
		else {
			count(stack_drop(err, DROP_USER_STACK_COLLISION));
			return 0;
		}
	}

	value = bpf_map_lookup_elem(&counts, &key);
	if (value) {
		__sync_fetch_and_add(value, 1);
	} else {
		err = bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		/* -EEXIST: the same key was inserted by another CPU in between */
		if (err == -EEXIST) {
			value = bpf_map_lookup_elem(&counts, &key);
			if (value)
				__sync_fetch_and_add(value, 1);
		} else if (err) {
			/* -E2BIG: a preallocated hash refuses new keys when full */
			count(DROP_COUNTS_FULL);
			return 0;
		}
		announce(tgid, &key);
	}
	count(COLLECTED);
	return 0;
}

/* Just enough of the kernel's task_struct for CO-RE: libbpf relocates these offsets from BTF. */
struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

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

/* After exec a process has a new memory map: forget it so its next sample announces it again. */
SEC("raw_tp/sched_process_exec")
int on_exec(__u64 *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&seen, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
