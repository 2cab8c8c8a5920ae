//! Signal masks and dispositions, and the few async-signal-safe primitives handlers use.
//!
//! Handlers in this crate only store to atomics and `write(2)`; the helpers here are the vocabulary for that.
//!
//! Runs in every process: the postmaster (its signalfd mask), children (handlers, masks), signal handlers.

use bgw_macros::hot;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A signal handler as the kernel calls it.
pub type Handler = extern "C" fn(libc::c_int);

/// A set holding exactly `signals`. Built by hand, not with glibc's sigset helpers: a new worker calls this while
/// installing its handlers, and each helper is one more block of libc's code it would map (see `sys::raw`).
#[hot]
pub fn set_of(signals: &[libc::c_int]) -> libc::sigset_t {
    let mut bits = 0u64;
    for &s in signals {
        bits |= super::raw::bit(s);
    }
    // SAFETY: an all-zero sigset_t is the empty set; glibc's sigset_t is an array of unsigned longs whose first 64
    // bits are the kernel's signal mask (signal n is bit n - 1), the part glibc itself passes to the kernel, and it
    // is at least 8 bytes and suitably aligned for a u64 (asserted below).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        (&raw mut set as *mut u64).write(bits);
        set
    }
}

const _: () = assert!(
    std::mem::size_of::<libc::sigset_t>() >= 8 && std::mem::align_of::<libc::sigset_t>() >= std::mem::align_of::<u64>()
);

/// Changes this thread's signal mask (`how` is SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK). Async-signal-safe.
#[hot]
pub fn mask(how: libc::c_int, set: &libc::sigset_t) {
    // SAFETY: `set` is a valid, initialized sigset; the old mask is not requested.
    unsafe { libc::pthread_sigmask(how, set, std::ptr::null_mut()) };
}

/// Blocks every signal except those in `keep_mask` (a mask of [`super::raw::bit`]s; a constant mask, unlike a
/// constant slice of signal numbers, is not read from memory: one page fewer for a new child to map) and those
/// that cannot be blocked.
#[hot]
pub fn block_all_but(keep_mask: u64) {
    super::raw::set_signal_mask(!keep_mask);
}

/// Unblocks every signal.
#[hot]
pub fn unblock_all() {
    super::raw::set_signal_mask(0);
}

/// Installs `handler` for `sig` with SA_RESTART, blocking `also_block` while it runs.
#[hot]
pub fn install(sig: libc::c_int, handler: Handler, also_block: &[libc::c_int]) {
    // SAFETY: the sigaction struct is fully initialized; the handler is an `extern "C" fn(c_int)` that only uses
    // async-signal-safe operations (a requirement on every caller of this function).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_mask = set_of(also_block);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

#[hot]
fn set_disposition(sig: libc::c_int, disposition: libc::sighandler_t) {
    // SAFETY: as in `install`, with SIG_DFL or SIG_IGN instead of a function.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = disposition;
        // sa_mask stays all zero: the empty set.
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Ignores `sig`. Async-signal-safe.
#[hot]
pub fn ignore(sig: libc::c_int) {
    set_disposition(sig, libc::SIG_IGN);
}

/// Restores the default action for `sig`. Async-signal-safe.
#[hot]
pub fn default(sig: libc::c_int) {
    set_disposition(sig, libc::SIG_DFL);
}

/// The signals (as [`super::raw::bit`]s) whose disposition was not the default when [`note_dispositions`] looked.
static NOT_DEFAULT: AtomicU64 = AtomicU64::new(0);
/// Whether [`note_dispositions`] has looked (until then [`reset_all_blocked`] resets every signal).
static NOTED: AtomicBool = AtomicBool::new(false);

/// Every catchable signal but SIGKILL and SIGSTOP.
fn catchable() -> impl Iterator<Item = libc::c_int> {
    (1..libc::SIGRTMAX().min(64)).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
}

/// Records which signals this process handles or ignores. The postmaster calls it once its dispositions are
/// final (its own, and those modules' `_PG_init`s set), before its first fork, and never changes them after:
/// then a child's [`reset_all_blocked`] restores only those instead of making a system call per signal.
pub fn note_dispositions() {
    let mut bits = 0u64;
    for sig in catchable() {
        // SAFETY: sigaction with a null new action only reads the current one into a zeroed struct.
        let current = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            old.sa_sigaction
        };
        if current != libc::SIG_DFL {
            bits |= super::raw::bit(sig);
        }
    }
    NOT_DEFAULT.store(bits, Ordering::Relaxed);
    NOTED.store(true, Ordering::Release);
}

/// Every catchable signal back to its default action, and every signal but `keep` blocked: the state a forked
/// child starts from. A signal sent before the child has installed its handlers (a SIGTERM right after the
/// postmaster published the pid, say) waits until the child unblocks it, instead of killing it by default action.
#[hot]
pub fn reset_all_blocked(keep_mask: u64) {
    block_all_but(keep_mask);
    if NOTED.load(Ordering::Acquire) {
        let mut bits = NOT_DEFAULT.load(Ordering::Relaxed);
        while bits != 0 {
            let sig = bits.trailing_zeros() as libc::c_int + 1;
            bits &= bits - 1;
            default(sig);
        }
    } else {
        for sig in catchable() {
            default(sig);
        }
    }
}

/// Writes all of `buf` to `fd`, retrying on EINTR and short writes. Async-signal-safe; errors are ignored (there is
/// nowhere to report them from a handler).
#[hot]
pub fn write_all_raw(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid slice for its length.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n < 0 {
            // SAFETY: reading errno is async-signal-safe.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// The signal's description, as `strsignal` gives it ("Killed", "Segmentation fault").
pub fn name(sig: libc::c_int) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string (or NULL); copied at once.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            "unknown signal".to_string()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Sends `sig` to `pid`; true if it was delivered. Async-signal-safe.
#[hot]
pub fn send(pid: i32, sig: libc::c_int) -> bool {
    // Never signal process groups or "every process": only positive pids.
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Preserves errno across a signal handler body.
pub fn preserving_errno<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: errno is thread-local and always readable and writable.
    let saved = unsafe { *libc::__errno_location() };
    let r = f();
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
    r
}

/// Arms a one-shot real-time timer that delivers SIGALRM after `ms` milliseconds, with SIGALRM's default action
/// (termination) restored and unblocked. Async-signal-safe: used by the postmaster-death handler as a hard deadline.
#[hot]
pub fn arm_fatal_alarm(ms: u32) {
    default(libc::SIGALRM);
    mask(libc::SIG_UNBLOCK, &set_of(&[libc::SIGALRM]));
    let timer = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval {
            tv_sec: (ms / 1000) as libc::time_t,
            tv_usec: ((ms % 1000) * 1000) as libc::suseconds_t,
        },
    };
    // SAFETY: setitimer is a plain system call with a valid struct.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// Gives up the CPU to another runnable process, if there is one (`sched_yield`).
#[hot]
pub fn yield_cpu() {
    super::raw::yield_cpu();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noted_dispositions_are_the_ones_that_differ_from_the_default() {
        // SIGURG's default is to be ignored, so changing its disposition here disturbs nothing else.
        ignore(libc::SIGURG);
        note_dispositions();
        assert_ne!(NOT_DEFAULT.load(Ordering::Relaxed) & super::super::raw::bit(libc::SIGURG), 0);
        default(libc::SIGURG);
        note_dispositions();
        assert_eq!(NOT_DEFAULT.load(Ordering::Relaxed) & super::super::raw::bit(libc::SIGURG), 0);
        // Other tests in this process install handlers as they go: leave the full reset in place for them.
        NOTED.store(false, Ordering::Release);
    }

    #[test]
    fn a_hand_built_set_holds_exactly_its_signals() {
        let set = set_of(&[libc::SIGUSR1, libc::SIGTERM, libc::SIGRTMIN() + 1]);
        for sig in 1..libc::SIGRTMAX() {
            let want = sig == libc::SIGUSR1 || sig == libc::SIGTERM || sig == libc::SIGRTMIN() + 1;
            // SAFETY: sigismember on an initialized set.
            assert_eq!(unsafe { libc::sigismember(&set, sig) } == 1, want, "signal {sig}");
        }
    }
}
