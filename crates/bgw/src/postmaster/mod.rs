//! The postmaster: the single-threaded supervisor that owns shared memory and forks, watches and restarts every
//! other process of the host.
//!
//! It never takes a lock, never trusts shared memory, starts no threads, and sleeps in one `poll(2)` on four
//! things: a signalfd (children asking for attention, administrator signals), an epoll set of the children's
//! pidfds (children exiting), the listening sockets, and, when a worker is waiting out its restart interval, a
//! timeout. Every event is handled in time proportional to what changed: registrations come from the slot
//! array's change bitmaps, exits from the pidfds that became readable (each reaped with `waitpid(pid)`, never a
//! walk over all children; SIGCHLD and `waitpid(-1)` only for a child that could not get a pidfd), restarts from
//! a timer heap, launches from a queue. A launch hands the worker to an idle spare process when there is one
//! (no fork between a registration and its pid); spares are forked again only when no launch is waiting.
//!
//! # Who owns what, and the hand-off at each fork
//!
//! What the postmaster writes between two forks is copied page by page (each page a fault) while the last child
//! shares it, so its own state (the [`Postmaster`] struct, the child table, the slots' launch state) lives in
//! memory children do not inherit (`crate::sys::private_memory`). A child never sees `&Postmaster`: the caller
//! of each fork hands it what it needs (a worker gets its registration, which stays in the ordinary heap, through
//! `crate::sys::fork::Inherited`). Everything in this folder runs in the postmaster process, except the bodies
//! its forks run: the startup process's (`startup_process.rs`), a backend's (`crate::services::backend_main`), a
//! worker's and a spare's (`crate::worker::forked`, `crate::worker::spare`).
//!
//! # Files
//!
//! This file holds the [`Postmaster`] struct and [`run`]; the postmaster's work is spread over:
//!
//! - `start.rs`: start-up (data directory, catalog, configuration, preloaded modules, static registrations, the
//!   lock file, sockets, signals) and creating shared memory.
//! - `sockets.rs`: binding the listening sockets, accepting clients and forking a backend for each.
//! - `serverloop.rs`: the main loop, signals, `pmsignal` requests and reloads.
//! - `fork.rs`: forking a child of any kind, with its process entry and the descriptors it must close.
//! - `launch.rs`: launching workers, by handing them to spares or by forking, and refilling the spare pool.
//! - `exits.rs`: reaping children, what follows each exit, and the crash cycle.
//! - `shutdown.rs`: the three shutdown modes.
//! - `startup_process.rs`: the startup process (its fork, its body, its exit) and the phases it leads to.
//! - [`datadir`] (checks, lock file, control file), [`children`] (the child table), [`workers`] (the
//!   registered-worker list and everything the spec's `bgworker.c` does on the postmaster side), [`spares`] (idle
//!   spare worker processes; the protocol is in `crate::worker::spare`).
//!
//! Modules' `_PG_init`s run in `Postmaster::start` after configuration and before anything else is created
//! (shared_preload_libraries); database recovery will run in the startup process
//! (`startup_process_main`).

pub mod children;
pub mod datadir;
mod exits;
mod fork;
mod launch;
mod serverloop;
mod shutdown;
mod sockets;
pub mod spares;
mod start;
mod startup_process;
pub mod workers;

use crate::shmem::Segment;
use crate::sync::Ordering;
use crate::sys::exit_watch::ExitWatch;
use children::Children;
use datadir::{PidFile, StartError};
use nix::sys::signalfd::SignalFd;
use spares::Spares;
use std::os::fd::RawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use workers::Workers;

pub use exits::{log_child_exit, ExitStatus};
pub use launch::LAUNCHES_PER_ITERATION;
pub use shutdown::ShutdownMode;
pub use sockets::{ACCEPTS_PER_ITERATION, MIN_UNAUTHENTICATED};

/// The postmaster's phase; defined beside the shared header that publishes it.
use crate::shmem::Phase;

/// What `bgw start` passes to the postmaster.
pub struct StartOptions {
    pub data_dir: PathBuf,
    pub overrides: Vec<(String, String)>,
    /// A pipe to write "ready" to once connections are accepted (`bgw start --detach` waits on it).
    pub ready_fd: Option<RawFd>,
}

/// The postmaster's state. Lives only in the postmaster process.
pub struct Postmaster {
    data_dir: PathBuf,
    pid: i32,
    start_time_us: i64,
    max_workers: usize,
    max_procs: usize,
    max_connections: usize,
    /// Shared memory the preloaded modules requested.
    addin_bytes: usize,
    segment: Option<Segment>,
    pid_file: Option<PidFile>,
    listener: UnixListener,
    /// TCP listeners for `listen_addresses` (password authentication).
    tcp_listeners: Vec<std::net::TcpListener>,
    socket_path: PathBuf,
    signal_fd: SignalFd,
    death_pipe: (RawFd, RawFd),
    ready_fd: Option<RawFd>,
    phase: Phase,
    shutdown: Option<ShutdownMode>,
    /// A crash is being handled (the spec's FatalError): no launches, no new connections.
    fatal_error: bool,
    startup_pid: Option<i32>,
    children: Children,
    workers: Workers,
    standby: bool,
    /// Children's pidfds: exits are learnt per child, never by a walk over all children (None: no epoll).
    exit_watch: Option<ExitWatch>,
    /// Children without a pidfd; while there are any, SIGCHLD makes the postmaster ask about every child.
    unwatched: usize,
    /// The errno of the last failed fork (a worker's exit record says it).
    last_fork_errno: i32,
    /// When a shutdown that has sent SIGTERM gives up waiting and sends SIGKILL (`shutdown_kill_timeout`).
    shutdown_kill_at: Option<std::time::Instant>,
    /// The shutdown has sent SIGKILL: the deaths that follow are not crashes.
    shutdown_killed: bool,
    /// Idle spare worker processes, and how many to keep (`worker_spare_processes`, at most max_worker_processes).
    spares: Spares,
    spare_target: usize,
    /// `max_spare_worker_processes` (fixed at start: process entries are reserved for it).
    spare_pool_max: usize,
    /// Buffers the loop reuses instead of allocating per event (every heap page the postmaster writes between two
    /// forks is a copy-on-write fault, so the launch path allocates nothing it can avoid).
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    pollfds: Vec<libc::pollfd>,
    exited: Vec<i32>,
    /// Entry points the postmaster has looked up under the current configuration, by (library, function); None
    /// where the library is not loaded here (its workers load it themselves). Read without writing anything, so
    /// checking costs no copy-on-write fault after a fork.
    primed: Vec<Primed>,
}

/// An entry point the postmaster looked up, by the names a registration gives.
struct Primed {
    library: String,
    function: String,
    entry: Option<crate::modules::entry::EntryPoint>,
}

/// Runs the postmaster until it shuts down. Returns the process exit code.
pub fn run(opts: StartOptions) -> Result<i32, StartError> {
    // The internal library's built-in workers, before any fork (every child inherits the table).
    crate::modules::entry::set_builtin_functions(crate::worker::builtin::INTERNAL);
    crate::spi::connection::set_postgres_sql_setup(crate::backend::setup_for_spi);
    // The postmaster's state lives in memory its children do not inherit (sys::private_memory): it changes after
    // every fork (the exit watch, the spare pool, the loop's buffers), and on pages shared with the last child each
    // change was a copy-on-write fault. Children get what they need from the caller of each fork instead.
    let mut pm = allocator_api2::boxed::Box::new_in(Postmaster::start(opts)?, crate::sys::private_memory::PrivateAlloc);
    // Start-up ran code and read constants the main loop never touches again: their mappings go (the pages stay
    // in the page cache, shared with the children).
    crate::sys::text::release_startup_text();
    Ok(pm.main_loop())
}

fn io_err(what: &str, e: impl std::fmt::Display) -> StartError {
    StartError::new(format!("{what}: {e}"))
}

impl Postmaster {
    fn shmem(&self) -> &'static crate::shmem::Shmem {
        self.segment.as_ref().expect("shared memory exists while the postmaster runs").shmem()
    }

    fn publish_phase(&self) {
        if let Some(seg) = &self.segment {
            seg.shmem().header().phase.store(self.phase as u32, Ordering::Release);
        }
    }

    fn may_launch(&self) -> bool {
        !self.fatal_error && self.shutdown.is_none() && self.phase != Phase::Stopping && self.phase != Phase::Crashed
    }
}
