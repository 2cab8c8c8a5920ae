//! Taking the postmaster out of restartable sequences.
//!
//! glibc (2.35 and later) registers every thread with the kernel's rseq facility. The kernel then writes the
//! thread's rseq area, a few bytes in its thread-control block, whenever the thread returns to user space after it
//! was preempted or moved to another CPU. In the postmaster that write is a copy-on-write fault after nearly every
//! fork: the page was shared with the child just forked, and a postmaster busy launching workers is preempted by
//! them all the time (measured: about 1.7 faults per launched worker). Nothing in the postmaster uses rseq (glibc
//! itself only reads the CPU number from it, for `sched_getcpu`, which falls back to asking the kernel when the
//! area says "unregistered"), so the postmaster unregisters once, before it forks anything. Its children inherit
//! that; they are free to register again.
//!
//! Runs in: the postmaster, once, at start.

// glibc's registration, as its ABI publishes it.
extern "C" {
    /// Offset of the rseq area from the thread pointer.
    static __rseq_offset: isize;
    /// Size of the registered area; 0 when glibc did not register (tunable off, or a kernel without rseq).
    static __rseq_size: libc::c_uint;
}

const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;

/// The signature glibc registers with (the kernel checks it on unregistration).
#[cfg(target_arch = "x86_64")]
const RSEQ_SIG: u32 = 0x5305_3053;
#[cfg(target_arch = "aarch64")]
const RSEQ_SIG: u32 = 0xd428_bc00;

#[cfg(target_arch = "x86_64")]
fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: on x86_64 glibc keeps the thread-control block's own address at fs:0; reading it has no side effect.
    unsafe { std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags)) };
    tp
}

#[cfg(target_arch = "aarch64")]
fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reading the thread-pointer register has no side effect.
    unsafe { std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nostack, nomem, preserves_flags)) };
    tp
}

/// Unregisters the calling thread's rseq area, if glibc registered one. Returns whether it did; failure (an older
/// glibc layout, a kernel that refuses) leaves the registration as it was, which costs speed, not correctness.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn unregister() -> bool {
    // SAFETY: plain reads of two constants glibc defines and never changes after start-up.
    let (offset, size) = unsafe { (std::ptr::read_volatile(&raw const __rseq_offset), __rseq_size) };
    if size == 0 {
        return false;
    }
    let area = thread_pointer().wrapping_add_signed(offset);
    // The kernel wants the length the area was registered with: glibc 2.35-2.39 publish it as __rseq_size, later
    // versions publish the size of the fields they use and register at least 32 bytes.
    for len in [size, 32] {
        // SAFETY: rseq with RSEQ_FLAG_UNREGISTER only compares the arguments with the thread's registration and
        // clears it; a mismatch fails with EINVAL and changes nothing.
        let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) };
        if r == 0 {
            return true;
        }
    }
    false
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn unregister() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_can_leave_rseq_once() {
        // On a thread of its own: the test harness's other threads keep their registration.
        let (first, second) = std::thread::spawn(|| (super::unregister(), super::unregister())).join().unwrap();
        // SAFETY: a plain read of a constant glibc defines.
        let registered = unsafe { super::__rseq_size } > 0;
        // Where glibc registered the thread (glibc 2.35+ on a kernel with rseq, as on this project's machines) the
        // first call removes the registration; a second finds nothing to remove.
        assert_eq!(first, registered);
        assert!(!second);
        // sched_getcpu still answers after it (glibc falls back to the kernel).
        // SAFETY: sched_getcpu has no preconditions.
        assert!(unsafe { libc::sched_getcpu() } >= 0);
    }
}
