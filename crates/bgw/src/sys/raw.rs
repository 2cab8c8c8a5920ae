//! A new child's first system calls, made through `syscall(2)` instead of glibc's wrappers.
//!
//! A forked child maps the code it runs page by page, on first touch, and the kernel maps the 64 KB block around
//! each touched page: every separate block of code a new worker runs is one page fault. glibc's wrappers for
//! `sigprocmask`, `close_range`, `prctl`, `getppid` and `sched_yield` (and the sigset helpers) each sit in a
//! different block of libc's 1.3 MB of code; going through the one generic `syscall` entry point instead touches
//! one block for all of them (measured: a new worker's page faults 22 -> 17 together with the start-up changes
//! beside it). The postmaster uses these too; they are the same calls, just not through the wrappers.
//!
//! Runs in: every process of the host, mostly in a child's first moments after fork.

use bgw_macros::hot;

/// Signals glibc reserves for itself (thread cancellation and set*id broadcasts): its `sigprocmask` never
/// blocks them, and neither does [`set_signal_mask`].
const GLIBC_INTERNAL: u64 = (1 << (32 - 1)) | (1 << (33 - 1));

/// The kernel's signal-set bit for `sig` (signal n is bit n - 1).
pub const fn bit(sig: libc::c_int) -> u64 {
    if sig >= 1 && sig <= 64 {
        1 << (sig - 1)
    } else {
        0
    }
}

/// Replaces this thread's signal mask with `blocked` (kernel bits, see [`bit`]). Async-signal-safe.
#[hot]
pub fn set_signal_mask(blocked: u64) {
    let set = blocked & !GLIBC_INTERNAL;
    // SAFETY: rt_sigprocmask reads 8 bytes from a valid u64 (the kernel's sigset size on Linux) and, with a null old
    // set, writes nothing.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &set as *const u64,
            std::ptr::null_mut::<u64>(),
            std::mem::size_of::<u64>(),
        )
    };
}

/// Closes the descriptors `first..=last`. False if the kernel has no `close_range` (before Linux 5.9).
#[hot]
pub fn close_range(first: u32, last: u32) -> bool {
    // SAFETY: close_range only closes descriptors; the caller owns the ones in the range and no longer uses them.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) == 0 }
}

/// Asks the kernel to send `sig` to this process when its parent dies (`PR_SET_PDEATHSIG`).
#[hot]
pub fn set_parent_death_signal(sig: libc::c_int) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and changes only this process's death signal.
    unsafe {
        libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_PDEATHSIG,
            sig as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
}

/// Sets the calling thread's name (`PR_SET_NAME`, what `ps -o comm` and `/proc/PID/comm` show): the bytes up to
/// the first NUL, at most 15.
#[hot]
pub fn set_thread_name(name: &[u8; 16]) {
    let mut comm = *name;
    comm[15] = 0;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from a valid buffer.
    unsafe {
        libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_NAME,
            comm.as_ptr() as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
}

/// The parent's pid.
#[hot]
pub fn parent_pid() -> i32 {
    // SAFETY: getppid has no arguments and no preconditions.
    unsafe { libc::syscall(libc::SYS_getppid) as i32 }
}

/// This process's pid.
#[hot]
pub fn getpid() -> i32 {
    // SAFETY: getpid has no arguments and no preconditions.
    unsafe { libc::syscall(libc::SYS_getpid) as i32 }
}

/// Gives up the CPU once (a scheduling hint).
#[hot]
pub fn yield_cpu() {
    // SAFETY: sched_yield has no arguments and no preconditions.
    unsafe { libc::syscall(libc::SYS_sched_yield) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_mask() -> u64 {
        let mut old = 0u64;
        // SAFETY: reading this thread's mask into a valid u64 of the kernel's sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK,
                std::ptr::null::<u64>(),
                &mut old as *mut u64,
                8usize,
            )
        };
        old
    }

    #[test]
    fn the_mask_is_what_was_set_except_glibc_own_signals() {
        // On a thread of its own, so the harness's threads keep their masks.
        std::thread::spawn(|| {
            set_signal_mask(!0);
            assert_eq!(current_mask(), !GLIBC_INTERNAL & !bit(libc::SIGKILL) & !bit(libc::SIGSTOP));
            set_signal_mask(bit(libc::SIGUSR1) | bit(libc::SIGTERM));
            assert_eq!(current_mask(), bit(libc::SIGUSR1) | bit(libc::SIGTERM));
            set_signal_mask(0);
            assert_eq!(current_mask(), 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn parent_pid_matches_libc() {
        // SAFETY: getppid has no preconditions.
        assert_eq!(parent_pid(), unsafe { libc::getppid() });
        assert_eq!(bit(1), 1);
        assert_eq!(bit(64), 1 << 63);
        assert_eq!(bit(0), 0);
        yield_cpu();
    }
}
