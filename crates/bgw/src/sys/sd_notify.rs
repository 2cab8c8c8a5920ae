//! systemd's readiness protocol (`sd_notify`, `Type=notify` services): state changes sent as one datagram each to
//! the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
//!
//! The postmaster sends `READY=1` once it accepts connections, `RELOADING=1` (with `MONOTONIC_USEC`) when it
//! reloads its configuration and `READY=1` again after, `STOPPING=1` when a shutdown begins, and `STATUS=` lines
//! saying what it is doing. Without `NOTIFY_SOCKET` nothing is sent; a failed send is ignored (systemd then
//! times the service out, which is what it is for). No thread, no library: one `sendto` per message.
//!
//! Runs in: the postmaster only (the service's main process; `NotifyAccess=main` in `contrib/bgw.service`).

use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

/// Where to send, read once from the environment (None: not under systemd).
static TARGET: Mutex<Option<Option<String>>> = Mutex::new(None);

fn target() -> Option<String> {
    let mut t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    t.get_or_insert_with(|| std::env::var("NOTIFY_SOCKET").ok().filter(|s| !s.is_empty())).clone()
}

/// Sends `message` (newline-separated `KEY=value` lines) to systemd, if the host runs under it.
pub fn notify(message: &str) {
    let Some(path) = target() else { return };
    let Ok(socket) = UnixDatagram::unbound() else { return };
    let _ = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            match std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
                Ok(addr) => socket.send_to_addr(message.as_bytes(), &addr),
                Err(e) => Err(e),
            }
        }
        None => socket.send_to(message.as_bytes(), &path),
    };
}

/// `MONOTONIC_USEC`: CLOCK_MONOTONIC now, in microseconds (systemd matches a reload with it).
pub fn monotonic_usec() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass, which lives on our stack.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}
