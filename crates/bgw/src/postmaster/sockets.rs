//! The front door on the postmaster's side: binding the Unix socket and the TCP listeners at start, accepting
//! clients in the main loop, and forking a backend for each (or a dead-end child that only tells the client why
//! it cannot be served).
//!
//! Runs in the postmaster process. What a backend runs after the fork is `crate::services::backend_main`.

use super::children::ChildKind;
use super::datadir::StartError;
use super::{io_err, Phase, Postmaster};
use crate::elog;
use crate::sync::Ordering;
use std::os::unix::net::UnixListener;
use std::path::Path;

/// How many connections the postmaster accepts per loop iteration, for the same reason as
/// [`super::LAUNCHES_PER_ITERATION`].
pub const ACCEPTS_PER_ITERATION: usize = 16;

/// The fewest backends not yet authenticated the postmaster allows per kind of socket, and the fewest dead-end
/// backends, whatever `max_connections` is (so that a burst of clients against a small `max_connections` still
/// gets its refusals from a process that reads the startup packet first).
pub const MIN_UNAUTHENTICATED: usize = 32;

/// How many backends not yet authenticated the postmaster allows per kind of socket (TCP, the Unix socket), and
/// how many dead-end backends: `max_connections`, at least [`MIN_UNAUTHENTICATED`].
pub fn unauthenticated_cap(max_connections: usize) -> usize {
    max_connections.max(MIN_UNAUTHENTICATED)
}

impl Postmaster {
    /// Accepts waiting clients on the Unix socket (None) or TCP listener `Some(i)`, a backend for each.
    pub(super) fn process_connections(&mut self, tcp: Option<usize>) {
        for _ in 0..ACCEPTS_PER_ITERATION {
            let accepted = match tcp {
                None => self.listener.accept().map(|(s, _)| crate::backend::ClientStream::Unix(s)),
                Some(i) => match self.tcp_listeners.get(i) {
                    Some(l) => l.accept().map(|(s, _)| crate::backend::ClientStream::Tcp(s)),
                    None => return,
                },
            };
            let stream = match accepted {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    elog::log(format!("could not accept new connection: {e}"));
                    return;
                }
            };
            let reject = match self.connection_refusal(tcp.is_some()) {
                Some(Refusal::Unauthenticated) => {
                    // No fork for a client beyond the cap: the refusal is written here and the socket closed.
                    refuse_without_fork(stream, "53300", "sorry, too many clients already");
                    continue;
                }
                Some(Refusal::DeadEnd(err)) => Some(err),
                None => None,
            };
            let kind = if reject.is_some() { ChildKind::DeadEnd } else { ChildKind::Backend };
            // The parent's copy of the stream is closed when the context is dropped after the fork.
            let pid = self.fork_child(kind, reject.is_none(), (stream, reject), |(stream, reject), proc_no, death| {
                crate::services::backend_main(stream, proc_no, death, reject)
            });
            if let (Some(pid), ChildKind::Backend) = (pid, kind) {
                self.children.client_connected(pid, tcp.is_some());
            }
        }
    }

    /// Why a new client cannot be served now, if it cannot.
    ///
    /// Connections that have not authenticated yet are capped per kind of socket ([`unauthenticated_cap`] each,
    /// TCP and the Unix socket): however many an outsider opens over TCP, a client on the Unix socket still gets
    /// a backend, and the authenticated sessions (counted by the backends themselves against `max_connections`
    /// and `superuser_reserved_connections`, see `crate::shmem::procs::Sessions`) are never taken by them. Beyond
    /// the cap the oldest backend of that kind still waiting is evicted (SIGTERM) to make room, as long as fewer
    /// than the cap evicted ones have not exited; otherwise a dead-end backend answers 53300 (as many as the
    /// cap); beyond that the postmaster writes the refusal itself, without a fork (as PostgreSQL's does when it
    /// has no child slot left).
    fn connection_refusal(&mut self, tcp: bool) -> Option<Refusal> {
        use crate::backend::host::SqlError;
        let dead_end = |code, message| Some(Refusal::DeadEnd(SqlError::fatal(code, message)));
        if self.shutdown.is_some() || self.phase == Phase::Stopping {
            return dead_end("57P03", "the database system is shutting down");
        }
        if self.fatal_error || self.phase == Phase::Crashed {
            return dead_end("57P03", "the database system is in recovery mode");
        }
        if self.phase == Phase::Startup {
            return dead_end("57P03", "the database system is starting up");
        }
        let (all, over_tcp) = self.segment.as_ref().map_or((0, 0), |s| s.shmem().header().sessions.counts());
        let tcp_backends = self.children.tcp_backend_count();
        let unix_backends = self.children.backend_count() - tcp_backends;
        let waiting = if tcp {
            tcp_backends.saturating_sub(over_tcp)
        } else {
            unix_backends.saturating_sub(all.saturating_sub(over_tcp))
        };
        let cap = unauthenticated_cap(self.max_connections);
        let waiting = waiting.saturating_sub(self.children.evicted_count(tcp));
        if waiting >= cap {
            // Room for the newcomer: the oldest of its kind still waiting to authenticate is told to go (as long
            // as fewer than `cap` told so have not exited yet), so an attacker's old sockets make way for a client
            // that authenticates at once.
            if self.children.evicted_count(tcp) < cap {
                let procs = self.segment.as_ref().map(|s| s.shmem().procs());
                let authenticated = |p: u32| {
                    procs
                        .and_then(|procs| procs.get(p as usize))
                        .is_some_and(|e| e.authenticated.load(Ordering::Acquire))
                };
                if let Some(pid) = self.children.oldest_waiting(tcp, authenticated) {
                    self.children.evict(pid);
                    crate::sys::signals::send(pid, libc::SIGTERM);
                    return None;
                }
            }
            if self.children.dead_end_count() >= cap {
                return Some(Refusal::Unauthenticated);
            }
            return dead_end("53300", "sorry, too many clients already");
        }
        None
    }
}

/// Why the postmaster refuses a client.
enum Refusal {
    /// Too many connections of its kind have not authenticated yet, and too many dead-end backends already:
    /// refused without a fork.
    Unauthenticated,
    /// A dead-end backend tells the client why (after reading its startup packet, as PostgreSQL's does).
    DeadEnd(crate::backend::host::SqlError),
}

/// Writes a FATAL ErrorResponse to a client the postmaster will not fork for, without blocking, and closes it.
/// What the client already sent is read first, so that closing sends an orderly end rather than a reset.
fn refuse_without_fork(stream: crate::backend::ClientStream, code: &'static str, message: &str) {
    use std::io::{Read, Write};
    let packet = crate::backend::fatal_error_message(&crate::backend::host::SqlError::fatal(code, message));
    fn refuse(mut s: impl Read + Write, packet: &[u8]) {
        let mut sink = [0u8; 512];
        let _ = s.read(&mut sink);
        let _ = s.write(packet);
    }
    match stream {
        crate::backend::ClientStream::Unix(s) => {
            if s.set_nonblocking(true).is_ok() {
                refuse(s, &packet);
            }
        }
        crate::backend::ClientStream::Tcp(s) => {
            if s.set_nonblocking(true).is_ok() {
                refuse(s, &packet);
            }
        }
    }
}

/// Parses `listen_addresses`: comma-separated IP addresses, `localhost`, or `*` (all IPv4 addresses); empty means
/// Unix socket only.
pub(super) fn parse_listen_addresses(value: &str) -> Result<Vec<std::net::IpAddr>, StartError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ip = match item {
            "*" | "0.0.0.0" => std::net::IpAddr::from([0, 0, 0, 0]),
            "localhost" => std::net::IpAddr::from([127, 0, 0, 1]),
            other => other.parse().map_err(|_| {
                StartError::new(format!("invalid value for parameter \"listen_addresses\": \"{value}\""))
                    .detail(format!("\"{other}\" is not an IP address, \"localhost\" or \"*\"."))
            })?,
        };
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// Binds a TCP listener, with PostgreSQL's message when the address is taken.
pub(super) fn bind_tcp(ip: std::net::IpAddr, port: u16) -> Result<std::net::TcpListener, StartError> {
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let l = std::net::TcpListener::bind((ip, port)).map_err(|e| {
        StartError::new(format!("could not bind {family} address \"{ip}\": {e}")).hint(format!(
            "Is another postmaster already running on port {port}? If not, wait a few seconds and retry."
        ))
    })?;
    l.set_nonblocking(true).map_err(|e| io_err("could not set socket to non-blocking mode", e))?;
    Ok(l)
}

/// Binds the Unix socket, replacing a stale socket file and refusing one a live server answers on.
pub(super) fn bind_socket(path: &Path, port: u16) -> Result<UnixListener, StartError> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(StartError::new(format!(
                "could not bind Unix address \"{}\": Address already in use",
                path.display()
            ))
            .hint(format!("Is another postmaster already running on port {port}?")));
        }
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path)
        .map_err(|e| io_err(&format!("could not bind Unix address \"{}\"", path.display()), e))?;
    l.set_nonblocking(true).map_err(|e| io_err("could not set socket to non-blocking mode", e))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777));
    Ok(l)
}
