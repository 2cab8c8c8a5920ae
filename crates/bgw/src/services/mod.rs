//! The host behind the backends: what a client session asks of the host, and a backend process's entry.
//!
//! Runs in a backend process, forked from the postmaster for one client connection. The session itself (wire
//! protocol, SQL) is [`crate::backend`], which reaches the host only through its
//! [`HostServices`](crate::backend::host::HostServices) trait; this module implements that trait on shared memory
//! (the slot array, the process entries, the published settings), the catalog, and signals to processes the host
//! owns.
//!
//! - [`host`]: [`ShmemHost`], the trait's implementation: authentication and admission, the dynamic API,
//!   settings, reports to the process entry.
//! - [`registration`]: a SQL registration request as the spec's registration, and who may make one.
//! - [`notify`]: LISTEN / NOTIFY: what a transaction queues and what its commit sends and applies.
//! - [`catalog_commands`]: CREATE / ALTER / DROP of databases and roles: privileges, PostgreSQL's checks and
//!   messages, then the catalog.
//! - [`views`]: the rows of `pg_stat_activity` and `bgw_workers`, read from shared memory.

pub mod catalog_commands;
pub mod host;
pub mod notify;
pub mod registration;
pub mod views;

pub use host::ShmemHost;

use crate::backend::host::SqlError;
use std::os::fd::RawFd;
use std::rc::Rc;

/// A backend process's main function: serve one client, then exit.
pub fn backend_main(
    stream: crate::backend::ClientStream,
    proc_no: Option<u32>,
    death_read: RawFd,
    reject: Option<SqlError>,
) -> ! {
    crate::sys::alloc::on_failure(out_of_memory);
    crate::latch::init_child(death_read, crate::latch::OnPostmasterDeath::ExitNow);
    crate::process::install_backend_signals();
    crate::sys::signals::unblock_all();
    crate::process::set_panic_hook();
    crate::sys::proctitle::set(if reject.is_some() { "bgw: dead-end backend" } else { "bgw: client backend" });
    let _ = proc_no;
    let host = Rc::new(ShmemHost::default());
    let code = crate::backend::serve_client(stream, host, reject);
    crate::process::exit(code)
}

/// A backend's answer to a failed allocation outside a critical section (see [`crate::sys::alloc`]): PostgreSQL's
/// FATAL "out of memory" with the size in DETAIL, in the log, and exit 1: the session ends, nothing shared was
/// half-changed, so the postmaster takes it as an ordinary FATAL exit, not a crash. Allocates nothing.
fn out_of_memory(size: usize) -> ! {
    crate::elog::write_from_signal_handler(b"FATAL", b"out of memory");
    let mut detail = [0u8; 64];
    let mut n = 0;
    for &b in b"Failed on request of size " {
        detail[n] = b;
        n += 1;
    }
    let mut digits = [0u8; 20];
    let mut d = digits.len();
    let mut v = size;
    loop {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in digits[d..].iter().chain(b".") {
        detail[n] = b;
        n += 1;
    }
    crate::elog::write_from_signal_handler(b"DETAIL", &detail[..n]);
    crate::sys::process::exit_now(1)
}
