//! Handles of dynamic workers: status, blocking waits, awaitable waits, termination.
//!
//! Purpose: a [`Handle`] names one registration (slot and generation) as a plain `Copy` value. It is not tied to
//! the process that registered the worker: format it as `slot:generation` ([`Display`](std::fmt::Display)),
//! pass it anywhere (SQL, another worker's extra data), parse it back ([`FromStr`]) and use it there. Each call
//! builds a temporary C handle on the stack; nothing is allocated or freed per call.
//!
//! Invariants:
//! - A handle whose slot does not fit a C `int` is refused with [`Error::InvalidHandle`] before the host is
//!   called. Other mistakes only the host can see (a slot beyond `max_worker_processes`, a caller not attached to
//!   shared memory) are ERRORs in the host, which end the calling worker, as in C.
//! - A stale handle (its slot reused by a later registration) reads as [`Status::Stopped`].
//!
//! Awaitable waits ([`Handle::startup`], [`Handle::ready`], [`Handle::shutdown`]) need no async runtime: the first poll starts a
//! helper thread that makes the host's blocking wait, stores the result and wakes the task. The host keeps one
//! latch per process and its waits sleep on it, so while such a future is pending no other thread of the worker
//! should wait on the latch (call [`wait_latch`](crate::wait_latch) or another blocking handle wait) at the same
//! time: the two waits would consume each other's wake-ups. Dropping a pending future does not stop its thread,
//! which ends when the host's wait returns.
//!
//! Runs in: workers (and their threads). Never in the postmaster, which must not block or start threads.

use crate::error::Error;
use crate::ffi;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

/// A dynamic worker's handle: its slot and the slot's generation at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    pub slot: u32,
    pub generation: u64,
}

/// A worker's state as a handle sees it (`BgwHandleStatus`, with the pid when running); the host's own type,
/// defined once in `bgw-abi`.
pub use bgw_abi::HandleStatus as Status;

/// Why a registration's last run ended; the host's own type, defined once in `bgw-abi`.
pub use bgw_abi::ExitReason;

/// What [`Handle::exit_reason`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub reason: ExitReason,
    /// When the run ended (None: it has not).
    pub ended_at: Option<std::time::SystemTime>,
    /// How many times the worker was started.
    pub starts: u32,
}

/// The status a host call returned, or the error for a code the C API does not define.
fn status_from_c(code: i32, pid: i32) -> Result<Status, Error> {
    Status::from_c(code, pid).ok_or(Error::UnknownStatus(code))
}

impl Handle {
    /// From the host's C handle.
    pub(crate) fn from_c(h: ffi::BackgroundWorkerHandle) -> Handle {
        Handle { slot: h.slot.max(0) as u32, generation: h.generation }
    }

    /// The C handle, or why there is none.
    fn to_c(self) -> Result<ffi::BackgroundWorkerHandle, Error> {
        let slot = i32::try_from(self.slot)
            .map_err(|_| Error::InvalidHandle { text: self.to_string(), reason: "the slot number is out of range" })?;
        Ok(ffi::BackgroundWorkerHandle { slot, generation: self.generation })
    }

    /// The worker's current state, without waiting (`GetBackgroundWorkerPid`).
    pub fn status(self) -> Result<Status, Error> {
        let (code, pid) = ffi::get_background_worker_pid(self.to_c()?);
        status_from_c(code, pid)
    }

    /// Waits until the worker has started or stopped (`WaitForBackgroundWorkerStartup`): `Started(pid)`,
    /// `Stopped` or `PostmasterDied`, never `NotYetStarted`. Sleeps on the latch; efficient when this process is
    /// the notify pid ([`notify_self`](crate::BackgroundWorkerBuilder::notify_self)) or the host has room to
    /// watch the slot for it.
    pub fn wait_for_startup(self) -> Result<Status, Error> {
        let (code, pid) = ffi::wait_for_background_worker_startup(self.to_c()?);
        status_from_c(code, pid)
    }

    /// Waits until the worker has stopped (`WaitForBackgroundWorkerShutdown`): `Stopped` or `PostmasterDied`.
    pub fn wait_for_shutdown(self) -> Result<Status, Error> {
        let code = ffi::wait_for_background_worker_shutdown(self.to_c()?);
        status_from_c(code, 0)
    }

    /// Asks the postmaster to stop the worker (SIGTERM), or not to start it (`TerminateBackgroundWorker`). A
    /// stale handle is left alone.
    pub fn terminate(self) -> Result<(), Error> {
        ffi::terminate_background_worker(self.to_c()?);
        Ok(())
    }

    /// Waits until the worker reports ready (`WaitForBackgroundWorkerReady`; beyond PostgreSQL): `Started(pid)`
    /// once ready, `NotYetStarted` if `timeout` (None: no limit) passed first, `Stopped` if it stopped first,
    /// `PostmasterDied`.
    pub fn wait_for_ready(self, timeout: Option<std::time::Duration>) -> Result<Status, Error> {
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        let (code, pid) = ffi::wait_for_background_worker_ready(self.to_c()?, ms);
        status_from_c(code, pid)
    }

    /// [`terminate`](Handle::terminate), then SIGKILL if the worker still runs `grace` later
    /// (`TerminateBackgroundWorkerWithGrace`; beyond PostgreSQL).
    pub fn terminate_with_grace(self, grace: std::time::Duration) -> Result<(), Error> {
        let ms = grace.as_millis().min(i32::MAX as u128) as i32;
        ffi::terminate_background_worker_with_grace(self.to_c()?, ms);
        Ok(())
    }

    /// Lets a worker its restart policy gave up on run again (`ResetBackgroundWorker`); false for a stale handle.
    pub fn reset(self) -> Result<bool, Error> {
        Ok(ffi::reset_background_worker(self.to_c()?))
    }

    /// Why the registration's last run ended (`GetBackgroundWorkerExitReason`; beyond PostgreSQL): the reason
    /// ([`ExitReason::StaleHandle`] for a handle whose slot a later registration reused and ended), when, and
    /// how often the worker was started. None when the host could not read the record just now.
    pub fn exit_reason(self) -> Result<Option<ExitInfo>, Error> {
        Ok(ffi::background_worker_exit_reason(self.to_c()?).map(|i| ExitInfo {
            reason: ExitReason::from_parts(i.reason, i.detail),
            ended_at: (i.ended_at_us > 0)
                .then(|| std::time::UNIX_EPOCH + std::time::Duration::from_micros(i.ended_at_us as u64)),
            starts: i.starts,
        }))
    }

    /// [`wait_for_startup`](Handle::wait_for_startup) as a future any executor can await.
    pub fn startup(self) -> WaitFuture {
        WaitFuture { handle: self, kind: WaitKind::Startup, call: None }
    }

    /// [`wait_for_ready`](Handle::wait_for_ready) (without a timeout) as a future any executor can await:
    /// `Started(pid)` once the worker reported ready, `Stopped` if it stopped first.
    pub fn ready(self) -> WaitFuture {
        WaitFuture { handle: self, kind: WaitKind::Ready, call: None }
    }

    /// [`wait_for_shutdown`](Handle::wait_for_shutdown) as a future any executor can await.
    pub fn shutdown(self) -> WaitFuture {
        WaitFuture { handle: self, kind: WaitKind::Shutdown, call: None }
    }
}

impl fmt::Display for Handle {
    /// `slot:generation`, the form the host's SQL functions use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.slot, self.generation)
    }
}

impl FromStr for Handle {
    type Err = Error;

    /// Parses `slot:generation` (decimal; the slot at most `i32::MAX`, as C's `int`).
    fn from_str(s: &str) -> Result<Handle, Error> {
        let bad = |reason| Error::InvalidHandle { text: s.to_string(), reason };
        let (slot, generation) = s.split_once(':').ok_or_else(|| bad("expected slot:generation"))?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(slot) || !digits(generation) {
            return Err(bad("expected two decimal numbers"));
        }
        let slot: u32 = slot.parse().map_err(|_| bad("the slot number is out of range"))?;
        if slot > i32::MAX as u32 {
            return Err(bad("the slot number is out of range"));
        }
        let generation = generation.parse().map_err(|_| bad("the generation is out of range"))?;
        Ok(Handle { slot, generation })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    Startup,
    Ready,
    Shutdown,
}

/// A wait for a worker's start-up or shutdown that can be awaited ([`Handle::startup`], [`Handle::shutdown`]).
///
/// Output: the same as the blocking wait. The wait starts on the first poll, in a helper thread
/// (`crate::on_thread`).
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture {
    handle: Handle,
    kind: WaitKind,
    call: Option<crate::on_thread::OnThread<Result<Status, Error>>>,
}

impl WaitFuture {
    /// The handle being waited on.
    pub fn handle(&self) -> Handle {
        self.handle
    }
}

impl fmt::Debug for WaitFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFuture")
            .field("handle", &self.handle)
            .field("kind", &self.kind)
            .field("started", &self.call.as_ref().is_some_and(|c| c.started()))
            .finish()
    }
}

impl Future for WaitFuture {
    type Output = Result<Status, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.call.is_none() {
            // First poll: check the handle here, so a bad one fails without a thread.
            if let Err(e) = this.handle.to_c() {
                return Poll::Ready(Err(e));
            }
            let (handle, kind) = (this.handle, this.kind);
            this.call = Some(crate::on_thread::OnThread::new("bgw-handle-wait", move || match kind {
                WaitKind::Startup => handle.wait_for_startup(),
                WaitKind::Ready => handle.wait_for_ready(None),
                WaitKind::Shutdown => handle.wait_for_shutdown(),
            }));
        }
        match this.call.as_mut().map(|c| c.poll(cx)) {
            Some(Poll::Ready(Ok(r))) => Poll::Ready(r),
            Some(Poll::Ready(Err(e))) => Poll::Ready(Err(e)),
            Some(Poll::Pending) => Poll::Pending,
            None => Poll::Ready(Err(Error::Thread("polled after completion".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_format_and_parse() {
        let h = Handle { slot: 3, generation: 17 };
        assert_eq!(h.to_string(), "3:17");
        assert_eq!("3:17".parse::<Handle>(), Ok(h));
        let big = Handle { slot: i32::MAX as u32, generation: u64::MAX };
        assert_eq!(big.to_string().parse::<Handle>(), Ok(big));
        assert_eq!("0:0".parse::<Handle>(), Ok(Handle { slot: 0, generation: 0 }));
    }

    #[test]
    fn bad_handles_are_refused() {
        for (text, reason) in [
            ("", "expected slot:generation"),
            ("3", "expected slot:generation"),
            ("3:", "expected two decimal numbers"),
            (":3", "expected two decimal numbers"),
            ("-1:3", "expected two decimal numbers"),
            ("+1:3", "expected two decimal numbers"),
            (" 1:3", "expected two decimal numbers"),
            ("1:3:4", "expected two decimal numbers"),
            ("a:b", "expected two decimal numbers"),
            ("2147483648:1", "the slot number is out of range"),
            ("99999999999:1", "the slot number is out of range"),
            ("1:18446744073709551616", "the generation is out of range"),
        ] {
            assert_eq!(
                text.parse::<Handle>(),
                Err(Error::InvalidHandle { text: text.to_string(), reason }),
                "{text:?}"
            );
        }
        let e = "x".parse::<Handle>().unwrap_err();
        assert_eq!(e.to_string(), "invalid background worker handle \"x\": expected slot:generation");
    }

    #[test]
    fn handles_convert_to_c_only_when_they_fit() {
        let c = Handle { slot: 5, generation: 9 }.to_c().unwrap();
        assert_eq!(c, ffi::BackgroundWorkerHandle { slot: 5, generation: 9 });
        assert_eq!(Handle::from_c(c), Handle { slot: 5, generation: 9 });
        assert!(matches!(
            Handle { slot: u32::MAX, generation: 0 }.to_c(),
            Err(Error::InvalidHandle { reason: "the slot number is out of range", .. })
        ));
        // A bad handle fails on the first poll, without calling the host.
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut f = Handle { slot: u32::MAX, generation: 0 }.shutdown();
        assert!(matches!(Pin::new(&mut f).poll(&mut cx), Poll::Ready(Err(Error::InvalidHandle { .. }))));
    }

    #[test]
    fn statuses() {
        assert_eq!(status_from_c(0, 42), Ok(Status::Started(42)));
        assert_eq!(status_from_c(1, 0), Ok(Status::NotYetStarted));
        assert_eq!(status_from_c(2, 0), Ok(Status::Stopped));
        assert_eq!(status_from_c(3, 0), Ok(Status::PostmasterDied));
        assert_eq!(status_from_c(9, 0), Err(Error::UnknownStatus(9)));
        assert_eq!(Status::Started(1).as_str(), "started");
        assert_eq!(Status::NotYetStarted.as_str(), "not_yet_started");
    }
}
