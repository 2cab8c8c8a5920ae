//! The front door on the postmaster's side: binding the Unix socket and the TCP listeners at start, accepting
//! clients in the main loop, and forking a backend for each (or a dead-end child that only tells the client why
//! it cannot be served).
//!
//! Runs in the postmaster process. What a backend runs after the fork is `crate::services::backend_main`.

use super::children::ChildKind;
use super::datadir::StartError;
use super::{io_err, Phase, Postmaster};
use crate::elog;
use std::os::unix::net::UnixListener;
use std::path::Path;

/// How many connections the postmaster accepts per loop iteration, for the same reason as
/// [`super::LAUNCHES_PER_ITERATION`].
pub const ACCEPTS_PER_ITERATION: usize = 16;

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
            let reject = self.connection_refusal();
            let kind = if reject.is_some() { ChildKind::DeadEnd } else { ChildKind::Backend };
            // The parent's copy of the stream is closed when the context is dropped after the fork.
            self.fork_child(kind, reject.is_none(), (stream, reject), |(stream, reject), proc_no, death| {
                crate::services::backend_main(stream, proc_no, death, reject)
            });
        }
    }

    /// Why a new client cannot be served now, if it cannot.
    fn connection_refusal(&self) -> Option<crate::backend::host::SqlError> {
        use crate::backend::host::SqlError;
        if self.shutdown.is_some() || self.phase == Phase::Stopping {
            return Some(SqlError::fatal("57P03", "the database system is shutting down"));
        }
        if self.fatal_error || self.phase == Phase::Crashed {
            return Some(SqlError::fatal("57P03", "the database system is in recovery mode"));
        }
        if self.phase == Phase::Startup {
            return Some(SqlError::fatal("57P03", "the database system is starting up"));
        }
        if self.children.backend_count() >= self.max_connections {
            return Some(SqlError::fatal("53300", "sorry, too many clients already"));
        }
        None
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
