// Tools that print kernel and user stacks without saying which is which (bpftrace keys, BCC
// without -d) still print the kernel's entry points at the outermost end of a kernel stack.
const KERNEL_ENTRY =
  /^(entry_|asm_|ret_from_|secondary_startup|common_startup|start_kernel|x86_64_start|rest_init|cpu_startup_entry|kthread$|worker_thread$|smpboot_thread_fn$|el0t_|el1h_|__sysvec_|sysvec_|irq_exit|do_syscall_64$)/;

/** True when `outermost`, the root frame of a stack, is a kernel entry point. */
export function isKernelEntry(outermost: string): boolean {
  return KERNEL_ENTRY.test(outermost);
}

/** True for x86-64 and arm64 kernel-half addresses (`ffffffff81000130`, `0xffff8000…`). */
export function isKernelAddress(address: string): boolean {
  const hex = address.startsWith('0x') ? address.slice(2) : address;
  return hex.length === 16 && hex.startsWith('ffff');
}
