//! The workspace's one test harness: the real `bgw` host in a temporary directory, driven with the real `psql`
//! and the `postgres` client crate, for the integration tests of `bgw` and of the module crates.
//!
//! - [`Host`] (with its options, [`Setup`]): a data directory made by `bgw initdb`, a postmaster started in the
//!   foreground, SQL through psql, client connections, waits on the server log, and the launch/register helpers
//!   of the host's SQL API. Its [`Endpoint`] (socket directory and port) does the same from another thread.
//! - [`binary`]: which `bgw` executable a test runs. The `bgw` package's tests name the one cargo built for them
//!   (`env!("CARGO_BIN_EXE_bgw")`); other crates' tests use [`find_bgw`], which finds it next to the test
//!   executable and builds it when it is missing.
//! - [`Module`]: a loadable Rust module crate (a cdylib) built by cargo and installed into a host's library
//!   directory; [`c_module`] builds C test modules the way a module author would.
//! - [`process`]: checks on processes from `/proc` (alive, title, children, process group) and [`signal`],
//!   the tests' one way to send a signal.
//! - [`reliability`]: invariant checks comparing the host's own view with `/proc`; [`Ledger`]: a writer whose
//!   acknowledged commits a guard test checks after its attack.
//! - [`client`] (the OS user, ports, TCP clients with a password) and [`wire`] (the protocol's framing, for
//!   tests that speak it by hand).
//! - [`pgxs`]: extensions built with their own Makefiles through PGXS and bgw's `pg_config`, into a temporary
//!   [`Installation`].
//! - [`pg15`]: the reference server, a throwaway PostgreSQL 15 cluster ([`Postgres`]), and [`Login`], the one way
//!   (TCP and a password) the comparison tests reach it and a bgw host alike; [`simple`]: a simple-query client
//!   that keeps each statement's answer as the server sent it (column type OIDs, text rows, SQLSTATE).
//!
//! Containment: every postmaster runs in its own process group with a parent-death signal, and the whole group
//! is killed when its `Host` is dropped, so no process outlives a test, also one that fails. Waits are on events
//! (a log line appearing, a query result changing) with a generous deadline ([`DEADLINE`]); nothing sleeps a
//! fixed time assuming speed.
//!
//! This crate runs in the test process only (never in the host); it is not published.

pub mod binary;
pub mod c_module;
pub mod client;
pub mod endpoint;
pub mod host;
pub mod ledger;
pub mod module;
pub mod pg15;
pub mod pgxs;
pub mod process;
pub mod reliability;
pub mod simple;
pub mod wait;
pub mod wire;

pub use binary::{driver_python, find_bgw, initdb, repo_root};
pub use c_module::{build_c_module, build_c_module_from_text, module_tempdir};
pub use client::{free_tcp_port, os_user, tcp_client, unique_port};
pub use endpoint::{Endpoint, Session};
pub use host::{Host, Setup};
pub use ledger::Ledger;
pub use module::Module;
pub use pg15::{bgw_login, pg_program, Login, Postgres, PG_BINDIR, TEST_PASSWORD, TEST_USER};
pub use pgxs::Installation;
pub use process::{
    alive, children_of, cmdline, group_members, is_root, kill_group, output_within, signal, stat, try_signal,
    GroupGuard,
};
pub use reliability::{parallel_balance, view_matches_processes, wait_consistent};
pub use simple::{Answer, ErrorFields, SimpleClient};
pub use wait::{numbers_after, wait_until, DEADLINE};

/// The signals tests send (so that a test needs no `libc` of its own to name them).
pub use libc::{SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGQUIT, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2};

/// A command's standard output, as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A command's standard error, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}
