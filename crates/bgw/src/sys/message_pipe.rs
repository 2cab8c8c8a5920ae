//! A pipe that carries one fixed-size message of plain bytes from the postmaster to one child.
//!
//! The postmaster creates the pipe before a fork, keeps the write end (non-blocking) and closes the read end once
//! the child has its copy. A message is one `write` of at most `PIPE_BUF` bytes, which the kernel makes atomic: the
//! reader gets all of it or nothing. End-of-file on the read end means the writer closed its end or died.

use bgw_macros::hot;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Values that may be sent as raw bytes and read back in another process of the same executable.
///
/// # Safety
/// Implementors must be `repr(C)` plain data valid for every bit pattern (integers and byte arrays only: no
/// pointers, references, enums or bools), at most `PIPE_BUF` bytes.
pub unsafe trait PlainMessage: Copy {}

/// Creates a pipe: (read end, write end), both close-on-exec, the write end non-blocking.
pub fn create() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own, setting a status flag.
    unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((read, write))
}

/// Writes `msg` in one write. An error (EPIPE: the reader is gone) leaves nothing half-sent.
pub fn send<T: PlainMessage>(fd: BorrowedFd<'_>, msg: &T) -> std::io::Result<()> {
    let len = std::mem::size_of::<T>();
    debug_assert!(len <= libc::PIPE_BUF);
    // SAFETY: writes the bytes of a plain value (PlainMessage) that lives for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), (msg as *const T).cast(), len) };
    match n {
        n if n == len as isize => Ok(()),
        n if n < 0 => Err(std::io::Error::last_os_error()),
        _ => Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "short write of a message")),
    }
}

/// Blocks until a whole message arrives (Some) or the writer is gone (None: end-of-file or an error).
#[hot]
pub fn receive<T: PlainMessage>(fd: RawFd) -> Option<T> {
    let mut msg = std::mem::MaybeUninit::<T>::zeroed();
    let len = std::mem::size_of::<T>();
    let mut got = 0usize;
    while got < len {
        // SAFETY: reads into the not yet filled tail of a buffer of `len` bytes that we own.
        let n = unsafe { libc::read(fd, msg.as_mut_ptr().cast::<u8>().add(got).cast(), len - got) };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
    // SAFETY: every byte was written above, and every bit pattern is a valid T (PlainMessage).
    Some(unsafe { msg.assume_init() })
}

/// Closes a descriptor this process owns by number (a child's copy it no longer needs).
#[hot]
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it again.
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(C)]
    struct Msg {
        a: u32,
        b: [u8; 12],
    }
    // SAFETY: integers and bytes only.
    unsafe impl PlainMessage for Msg {}

    #[test]
    fn a_message_arrives_whole_and_a_closed_writer_reads_as_none() {
        let (r, w) = create().unwrap();
        let m = Msg { a: 7, b: *b"hello, spare" };
        send(w.as_fd(), &m).unwrap();
        assert_eq!(receive::<Msg>(r.as_raw_fd()), Some(m));
        drop(w);
        assert_eq!(receive::<Msg>(r.as_raw_fd()), None);
    }

    #[test]
    fn sending_to_a_closed_reader_fails() {
        let (r, w) = create().unwrap();
        drop(r);
        // SIGPIPE would kill the test process; the postmaster ignores it, as this does.
        // SAFETY: setting SIGPIPE's disposition to ignore.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let e = send(w.as_fd(), &Msg { a: 1, b: [0; 12] }).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
    }
}
