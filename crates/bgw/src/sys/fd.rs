//! Plain file descriptors: pipes, waiting with `poll`, and the small reads and writes of self-pipes.
//!
//! Runs in every process of the host. The descriptors here are raw numbers because their owners keep them in
//! statics read by signal handlers (a latch's self-pipe) or hand them across a fork; what owns each one is said
//! at its owner. The byte-sized reads and writes are async-signal-safe.

use bgw_macros::hot;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A new pipe, `(read end, write end)`, both close-on-exec, and non-blocking if asked.
pub fn pipe(nonblocking: bool) -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    let flags = libc::O_CLOEXEC | if nonblocking { libc::O_NONBLOCK } else { 0 };
    // SAFETY: pipe2 writes two descriptors into a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Writes one byte to `fd`, ignoring the result (a wake-up on a self-pipe: a full pipe already wakes its
/// reader). Async-signal-safe.
#[hot]
pub fn write_byte(fd: RawFd) {
    // SAFETY: one byte from a valid static buffer.
    unsafe { libc::write(fd, b"x".as_ptr() as *const libc::c_void, 1) };
}

/// Reads `fd` (non-blocking) until it is empty.
#[hot]
pub fn drain(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a valid buffer of the given length.
    while unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) } > 0 {}
}

/// `poll(2)` on `fds` for at most `timeout_ms` (negative: no limit). Returns poll's result: the number of
/// descriptors with events, 0 on timeout, -1 on error (errno set; EINTR when a signal arrived). A negative fd in
/// `fds` is ignored, as poll does.
#[hot]
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> i32 {
    // SAFETY: a valid slice of pollfd structs and its length.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }
}

/// Whether `fd` is readable (or at end of file, or in error) right now, without waiting.
#[hot]
pub fn readable_now(fd: RawFd) -> bool {
    let mut pfd = [libc::pollfd { fd, events: libc::POLLIN, revents: 0 }];
    poll(&mut pfd, 0) > 0
}

/// A close-on-exec duplicate of `fd`, owned by the caller. None when `fd` is not open or the table is full.
pub fn dup_cloexec(fd: RawFd) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: `dup` was just created by fcntl and is owned by nothing else.
    (dup >= 0).then(|| unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Takes ownership of a raw descriptor that the caller created and owns alone (a pipe end from [`pipe`]), so
/// that it is closed on drop.
pub fn own(fd: RawFd) -> OwnedFd {
    assert!(fd >= 0, "own: not a descriptor");
    // SAFETY: the caller created `fd` and hands over its only ownership (this function's contract); an OwnedFd
    // over a descriptor nobody else closes is sound.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Closes `fd`, ignoring errors (a descriptor the caller owns and no longer uses).
pub fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: close touches no memory; the caller owns `fd` and does not use it again.
        unsafe { libc::close(fd) };
    }
}
