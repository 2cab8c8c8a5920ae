//! Latches and postmaster death, in child processes.
//!
//! A latch is a flag a process sleeps on. Each child has one ([`set_latch`] sets it from inside the process,
//! [`set_latch_of`] from any other process of the host, by sending SIGUSR1). Waiting ([`wait_latch`]) sleeps in
//! `poll(2)` on a self-pipe, which the SIGUSR1 handler writes only while the process is waiting, and on the
//! postmaster-death pipe, whose write end only the postmaster holds: when the postmaster dies, the pipe reads as
//! closed and every waiter wakes.
//!
//! The handshake that prevents lost wake-ups: the waiter counts itself in `WAITING`, then checks `LATCH_SET`,
//! then polls; the setter stores `LATCH_SET = true`, then checks `WAITING` and writes the pipe. Both sides use
//! SeqCst, so at least one of them sees the other's store. `WAITING` is a count so that a worker's helper thread
//! and its main thread may both wait; they share one latch, so a wake-up goes to whichever polls first, and each
//! re-checks what it waits for (as PostgreSQL's latch users do).
//!
//! Postmaster death also arrives as a signal (`PR_SET_PDEATHSIG`, armed at fork): its handler marks the death,
//! wakes any wait, and arms a hard deadline ([`DEATH_GRACE_MS`]) after which the process is killed, so that no
//! child outlives the postmaster by more than a moment even if it never waits on its latch. Backends exit at once.
//!
//! Runs in: every child (backends, workers, the startup process). The postmaster has its own loop.

use crate::sys::{fd, signals};
use bgw_macros::hot;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

// The spec's wait events (PostgreSQL's values), defined in `bgw-abi` as the C `int`s of the header; the latch
// works with them as bits of a u32.
pub const WL_LATCH_SET: u32 = bgw_abi::WL_LATCH_SET as u32;
pub const WL_SOCKET_READABLE: u32 = bgw_abi::WL_SOCKET_READABLE as u32;
pub const WL_SOCKET_WRITEABLE: u32 = bgw_abi::WL_SOCKET_WRITEABLE as u32;
pub const WL_TIMEOUT: u32 = bgw_abi::WL_TIMEOUT as u32;
pub const WL_POSTMASTER_DEATH: u32 = bgw_abi::WL_POSTMASTER_DEATH as u32;
pub const WL_EXIT_ON_PM_DEATH: u32 = bgw_abi::WL_EXIT_ON_PM_DEATH as u32;

/// How long a child may go on after the postmaster died before it is killed.
pub const DEATH_GRACE_MS: u32 = 500;

static LATCH_SET: AtomicBool = AtomicBool::new(false);
/// How many threads of this process are inside a wait (a worker may wait from a helper thread too).
static WAITING: AtomicU32 = AtomicU32::new(0);
// Descriptors, stored plus one so that "none" is 0: zero-initialized statics sit in `.bss` beside the others a new
// child writes, where a -1 start would put them in `.data`, one more page copied in every child.
static PIPE_READ: FdCell = FdCell::none();
static PIPE_WRITE: FdCell = FdCell::none();
static DEATH_READ: FdCell = FdCell::none();

/// A descriptor in a static; -1 when there is none.
struct FdCell(AtomicI32);

impl FdCell {
    const fn none() -> FdCell {
        FdCell(AtomicI32::new(0))
    }

    #[hot]
    fn get(&self) -> RawFd {
        self.0.load(Ordering::Relaxed) - 1
    }

    #[hot]
    fn set(&self, fd: RawFd) {
        self.0.store(fd.max(-1) + 1, Ordering::Relaxed);
    }
}
static POSTMASTER_DIED: AtomicBool = AtomicBool::new(false);
static EXIT_AT_ONCE_ON_DEATH: AtomicBool = AtomicBool::new(false);

/// What a child does when the postmaster dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPostmasterDeath {
    /// Wake waits (they report WL_POSTMASTER_DEATH), exit after a short grace period at the latest.
    WakeThenExit,
    /// Exit immediately (backends: a client session is of no use without the postmaster).
    ExitNow,
}

#[hot]
extern "C" fn handle_sigusr1(_: libc::c_int) {
    signals::preserving_errno(set_latch);
}

#[hot]
extern "C" fn handle_postmaster_death(_: libc::c_int) {
    if EXIT_AT_ONCE_ON_DEATH.load(Ordering::Relaxed) {
        crate::sys::process::exit_now(1);
    }
    POSTMASTER_DIED.store(true, Ordering::SeqCst);
    signals::preserving_errno(|| {
        wake();
        signals::arm_fatal_alarm(DEATH_GRACE_MS);
    });
}

#[hot]
fn wake() {
    let fd = PIPE_WRITE.get();
    if fd >= 0 {
        // Our own non-blocking pipe: a full pipe (EAGAIN) already guarantees a wake-up.
        fd::write_byte(fd);
    }
}

/// Sets up this child's latch and death handling. `death_read` is the read end of the postmaster-death pipe.
/// Call once, right after fork, before unblocking signals.
#[hot]
pub fn init_child(death_read: RawFd, policy: OnPostmasterDeath) {
    DEATH_READ.set(death_read);
    EXIT_AT_ONCE_ON_DEATH.store(policy == OnPostmasterDeath::ExitNow, Ordering::Relaxed);
    if let Ok((r, w)) = fd::pipe(true) {
        PIPE_READ.set(r);
        PIPE_WRITE.set(w);
    }
    signals::install(libc::SIGUSR1, handle_sigusr1, &[]);
    signals::install(crate::sys::fork::POSTMASTER_DEATH_SIGNAL, handle_postmaster_death, &[]);
}

/// Sets this process's latch (async-signal-safe).
#[hot]
pub fn set_latch() {
    LATCH_SET.store(true, Ordering::SeqCst);
    if WAITING.load(Ordering::SeqCst) > 0 {
        wake();
    }
}

/// Clears this process's latch. Check for work after this, not before, or a wake-up can be lost.
#[hot]
pub fn reset_latch() {
    LATCH_SET.store(false, Ordering::SeqCst);
}

/// Sets the latch of another process of the host.
#[hot]
pub fn set_latch_of(pid: i32) -> bool {
    signals::send(pid, libc::SIGUSR1)
}

/// Whether the postmaster is alive, without waiting.
#[hot]
pub fn postmaster_is_alive() -> bool {
    if POSTMASTER_DIED.load(Ordering::SeqCst) {
        return false;
    }
    let fd = DEATH_READ.get();
    if fd < 0 {
        return true;
    }
    if fd::readable_now(fd) {
        POSTMASTER_DIED.store(true, Ordering::SeqCst);
        return false;
    }
    true
}

/// Waits for any of `events` (WL_* bits); `timeout_ms` applies with WL_TIMEOUT (negative: none). `socket` is
/// watched with WL_SOCKET_READABLE / WL_SOCKET_WRITEABLE. Returns the events that occurred. With
/// WL_EXIT_ON_PM_DEATH, postmaster death exits the process with code 1 instead of returning.
#[hot]
pub fn wait_latch_or_socket(events: u32, socket: Option<RawFd>, timeout_ms: i64) -> u32 {
    let deadline = (events & WL_TIMEOUT != 0 && timeout_ms >= 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    let watch_death = events & (WL_POSTMASTER_DEATH | WL_EXIT_ON_PM_DEATH) != 0;
    let mut result;
    WAITING.fetch_add(1, Ordering::SeqCst);
    loop {
        result = 0;
        if events & WL_LATCH_SET != 0 && LATCH_SET.load(Ordering::SeqCst) {
            result |= WL_LATCH_SET;
        }
        if watch_death && !postmaster_is_alive() {
            result |= WL_POSTMASTER_DEATH;
        }
        if result != 0 {
            break;
        }
        let mut fds = [
            libc::pollfd { fd: PIPE_READ.get(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if watch_death { DEATH_READ.get() } else { -1 }, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: -1, events: 0, revents: 0 },
        ];
        if let Some(s) = socket {
            let mut ev = 0;
            if events & WL_SOCKET_READABLE != 0 {
                ev |= libc::POLLIN;
            }
            if events & WL_SOCKET_WRITEABLE != 0 {
                ev |= libc::POLLOUT;
            }
            fds[2] = libc::pollfd { fd: s, events: ev, revents: 0 };
        }
        let timeout = match deadline {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()).as_millis().min(i32::MAX as u128) as i32,
            None => -1,
        };
        let n = fd::poll(&mut fds, timeout);
        if n > 0 {
            if fds[0].revents != 0 {
                drain_pipe();
            }
            if fds[1].revents != 0 {
                POSTMASTER_DIED.store(true, Ordering::SeqCst);
            }
            if fds[2].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 && events & WL_SOCKET_READABLE != 0
            {
                result |= WL_SOCKET_READABLE;
            }
            if fds[2].revents & (libc::POLLOUT | libc::POLLHUP | libc::POLLERR) != 0
                && events & WL_SOCKET_WRITEABLE != 0
            {
                result |= WL_SOCKET_WRITEABLE;
            }
        }
        if result != 0 {
            break;
        }
        if let Some(d) = deadline {
            if std::time::Instant::now() >= d {
                result |= WL_TIMEOUT;
                break;
            }
        }
    }
    WAITING.fetch_sub(1, Ordering::SeqCst);
    if result & WL_POSTMASTER_DEATH != 0 && events & WL_EXIT_ON_PM_DEATH != 0 {
        // Without the parent's destructors or atexit handlers, as PostgreSQL's proc_exit(1) on postmaster death in
        // a child that holds nothing worth cleaning up.
        crate::sys::process::exit_now(1);
    }
    if events & WL_POSTMASTER_DEATH == 0 {
        result &= !WL_POSTMASTER_DEATH;
    }
    result
}

/// Waits on the latch only (see [`wait_latch_or_socket`]).
#[hot]
pub fn wait_latch(events: u32, timeout_ms: i64) -> u32 {
    wait_latch_or_socket(events, None, timeout_ms)
}

#[hot]
fn drain_pipe() {
    fd::drain(PIPE_READ.get());
}

/// For event loops that watch [`latch_fd`] themselves (a backend's session loop): count as a waiter, so that
/// setting the latch writes the pipe. If the latch is already set, the pipe is written at once.
pub fn begin_external_wait() {
    WAITING.fetch_add(1, Ordering::SeqCst);
    if LATCH_SET.load(Ordering::SeqCst) {
        wake();
    }
}

/// Ends [`begin_external_wait`].
pub fn end_external_wait() {
    WAITING.fetch_sub(1, Ordering::SeqCst);
}

/// Empties the self-pipe and clears the latch (after an external wait woke).
pub fn clear() {
    reset_latch();
    drain_pipe();
}

/// The latch's self-pipe read end, for event loops (backends) that want to watch it themselves.
pub fn latch_fd() -> RawFd {
    PIPE_READ.get()
}

/// A close-on-exec duplicate of the self-pipe's read end, owned by the caller (an event loop registers it; the
/// pipe itself stays ours). `None` before `init_child` or when the descriptor table is full.
pub fn latch_fd_owned() -> Option<std::os::fd::OwnedFd> {
    fd::dup_cloexec(latch_fd())
}
