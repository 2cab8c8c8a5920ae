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
//! What the postmaster writes between two forks is copied page by page (each page a fault) while the last child
//! shares it, so its own state (the [`Postmaster`] struct, the child table, the slots' launch state) lives in
//! memory children do not inherit (`crate::sys::private_memory`). A child never sees `&Postmaster`: the caller
//! of each fork hands it what it needs (a worker gets its registration, which stays in the ordinary heap, through
//! `crate::sys::fork::Inherited`).
//!
//! Files: [`datadir`] (checks, lock file, control file), [`children`] (the child table), [`workers`] (the
//! registered-worker list and everything the spec's `bgworker.c` does on the postmaster side), [`spares`] (idle
//! spare worker processes; the protocol is in `crate::worker::spare`).
//!
//! Modules' `_PG_init`s run in [`Postmaster::start`] after configuration and before anything else is created
//! (shared_preload_libraries); database recovery will run in the startup process ([`startup_process_main`]).

pub mod children;
pub mod datadir;
pub mod spares;
pub mod workers;

use crate::elog::{self, Level};
use crate::shmem::{pmsignal, Segment};
use crate::sync::Ordering;
use crate::sys::exit_watch::ExitWatch;
use crate::sys::fork::{fork_process, Forked};
use crate::sys::signals;
use children::{Child, ChildKind, Children};
use datadir::{ClusterState, PidFile, PidFileContents, StartError};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use spares::{IdleSpare, Spares};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use workers::Workers;

/// The postmaster's phase; defined beside the shared header that publishes it.
pub use crate::shmem::Phase;

/// How many workers the postmaster launches per loop iteration before it looks at its sockets and signals again.
/// A fork costs tens of microseconds here, so 32 keeps the longest stall of the front door near a millisecond
/// while a burst of registrations still goes out in few iterations (PostgreSQL launches one per iteration).
pub const LAUNCHES_PER_ITERATION: usize = 32;

/// How many connections the postmaster accepts per loop iteration, for the same reason.
pub const ACCEPTS_PER_ITERATION: usize = 16;

/// A shutdown request, in PostgreSQL's three modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShutdownMode {
    /// SIGTERM: wait for clients to leave, then stop workers.
    Smart,
    /// SIGINT: SIGTERM everything and wait.
    Fast,
    /// SIGQUIT: SIGQUIT everything and exit; the next start runs recovery.
    Immediate,
}

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
    /// Idle spare worker processes, and how many to keep (`worker_spare_processes`, at most max_worker_processes).
    spares: Spares,
    spare_target: usize,
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
    entry: Option<crate::worker::entry::EntryPoint>,
}

/// What runs in a new child: called with the context the caller gave, the child's process entry and the read end
/// of the postmaster-death pipe. Never returns. It gets no `&Postmaster`: the postmaster's state lives in memory a
/// child does not have (see [`run`]); what a child needs travels in the context. A plain function, not a closure:
/// a closure's code lands beside its caller's, one more block of code a new worker would map.
type ChildBody<C> = fn(C, Option<u32>, RawFd) -> std::convert::Infallible;

/// The descriptors a child closes, gathered on the stack at each fork (a heap buffer would be a page written
/// after every fork).
type CloseList = smallvec::SmallVec<[RawFd; 24]>;

/// Runs the postmaster until it shuts down. Returns the process exit code.
pub fn run(opts: StartOptions) -> Result<i32, StartError> {
    // The postmaster's state lives in memory its children do not inherit (sys::private_memory): it changes after
    // every fork (the exit watch, the spare pool, the loop's buffers), and on pages shared with the last child each
    // change was a copy-on-write fault. Children get what they need from the caller of each fork instead.
    let mut pm = allocator_api2::boxed::Box::new_in(Postmaster::start(opts)?, crate::sys::private_memory::PrivateAlloc);
    Ok(pm.main_loop())
}

fn io_err(what: &str, e: impl std::fmt::Display) -> StartError {
    StartError::new(format!("{what}: {e}"))
}

impl Postmaster {
    fn start(opts: StartOptions) -> Result<Postmaster, StartError> {
        let data_dir = std::fs::canonicalize(&opts.data_dir).unwrap_or(opts.data_dir.clone());
        datadir::check_data_dir(&data_dir)?;
        crate::sys::proctitle::init();
        // Installed here, before any fork, so that every child inherits it instead of allocating its own.
        crate::process::set_panic_hook();
        if !crate::catalog::exists(&data_dir) {
            let superuser = crate::sys::user::os_user_name().unwrap_or_else(|| "postgres".into());
            crate::catalog::create(&data_dir, &superuser).map_err(|e| StartError::new(e.to_string()))?;
            elog::log(format!("created the catalog, with bootstrap superuser \"{superuser}\""));
        }

        // Configuration: defaults < bgworker.conf < -c.
        let mut settings = crate::config::Settings::new(crate::config::host_parameters(&data_dir));
        let conf_path = data_dir.join(crate::process::CONFIG_FILE);
        let items = crate::config::read_config_file(&conf_path).map_err(|e| StartError::new(e.to_string()))?;
        settings.load_initial(&items, &opts.overrides).map_err(|e| {
            let mut err = StartError::new(e.to_string());
            if let Some(h) = e.hint() {
                err = err.hint(h.to_string());
            }
            err
        })?;
        let max_workers = settings.get_int("max_worker_processes").unwrap_or(8).max(0) as usize;
        let max_connections = settings.get_int("max_connections").unwrap_or(100).max(1) as usize;
        let port = settings.get_int("port").unwrap_or(5432) as u16;
        let socket_dir = settings.get_str("unix_socket_directories").unwrap_or_default().to_string();
        let listen = settings.get_str("listen_addresses").unwrap_or_default().to_string();
        let tcp_addresses = parse_listen_addresses(&listen)?;
        crate::process::init(&data_dir, opts.overrides.clone(), settings);

        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let start_time_us = elog::now_us();
        // Processes: backends, workers, the startup process, spare workers.
        let max_procs = max_connections + max_workers + 1 + spares::MAX_SPARES;

        // Modules first: each preloaded library's _PG_init runs once, before anything else exists, so a module
        // that fails stops start-up cleanly. Then static registration: modules' workers, then declared ones.
        let preload = crate::process::setting_text("shared_preload_libraries").unwrap_or_default();
        let from_modules = crate::modules::preload::process_shared_preload_libraries(&preload)
            .map_err(|e| StartError::new(e.to_string()))?;
        let mut workers = Workers::new(max_workers);
        for spec in from_modules {
            workers.register_static(spec);
        }
        let declared = crate::bgworker::declared::load(&data_dir).map_err(|e| StartError::new(e.to_string()))?;
        for spec in declared {
            workers.register_static(spec);
        }

        let socket_dir = if socket_dir.is_empty() { data_dir.display().to_string() } else { socket_dir };
        let pid_file = PidFile::create(
            &data_dir,
            PidFileContents {
                pid,
                data_dir: data_dir.display().to_string(),
                start_time: start_time_us / 1_000_000,
                port,
                socket_dir: socket_dir.clone(),
                listen: listen.clone(),
                status: "starting".into(),
            },
        )?;

        let socket_path = Path::new(&socket_dir).join(format!(".s.PGSQL.{port}"));
        let listener = bind_socket(&socket_path, port)?;
        let mut tcp_listeners = Vec::new();
        for ip in tcp_addresses {
            tcp_listeners.push(bind_tcp(ip, port)?);
        }

        // Signals arrive through a signalfd: blocked here, read in the loop. Children reset their mask at fork.
        let mut mask = SigSet::empty();
        for s in [Signal::SIGCHLD, Signal::SIGUSR1, Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT] {
            mask.add(s);
        }
        mask.thread_block().map_err(|e| io_err("could not block signals", e))?;
        signals::ignore(libc::SIGPIPE);
        let signal_fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| io_err("could not create signalfd", e))?;

        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io_err("could not create postmaster death pipe", std::io::Error::last_os_error()));
        }

        elog::log(format!("starting bgw {} (PostgreSQL-compatible background worker host)", env!("CARGO_PKG_VERSION")));
        for l in &tcp_listeners {
            if let Ok(a) = l.local_addr() {
                let family = if a.is_ipv4() { "IPv4" } else { "IPv6" };
                elog::log(format!("listening on {family} address \"{}\", port {}", a.ip(), a.port()));
            }
        }
        elog::log(format!("listening on Unix socket \"{}\"", socket_path.display()));

        let standby = data_dir.join(datadir::STANDBY_SIGNAL).exists();
        let exit_watch =
            ExitWatch::new().map_err(|e| elog::log(format!("could not create epoll set for child exits: {e}"))).ok();
        let mut pm = Postmaster {
            data_dir,
            pid,
            start_time_us,
            max_workers,
            max_procs,
            max_connections,
            addin_bytes: crate::modules::abi::requested_addin_bytes(),
            segment: None,
            pid_file: Some(pid_file),
            listener,
            tcp_listeners,
            socket_path,
            signal_fd,
            death_pipe: (fds[0], fds[1]),
            ready_fd: opts.ready_fd,
            phase: Phase::Startup,
            shutdown: None,
            fatal_error: false,
            startup_pid: None,
            children: Children::new(max_procs),
            workers,
            standby,
            exit_watch,
            unwatched: 0,
            spares: Spares::default(),
            spare_target: 0,
            scratch: Scratch::default(),
        };
        pm.spare_target = pm.configured_spares();
        pm.create_shared_memory()?;
        pm.workers.enqueue_all(pm.phase);
        // Signal dispositions are final from here (the postmaster's and the modules'): children reset only those.
        signals::note_dispositions();
        // Before the first fork: no rseq writes into a page each fork has just shared (see sys::rseq).
        crate::sys::rseq::unregister();
        pm.start_startup_process();
        // As PostgreSQL's postmaster does right after forking the startup process: workers that start at
        // postmaster start are forked now, while recovery runs, not after the first events are handled.
        if pm.may_launch() {
            pm.launch_pending_workers();
        }
        Ok(pm)
    }

    /// Creates (or, after a crash, re-creates) shared memory and puts the registered workers into its slots.
    fn create_shared_memory(&mut self) -> Result<(), StartError> {
        self.segment = None;
        let seg = Segment::create(self.max_workers, self.max_procs, self.addin_bytes, self.pid, self.start_time_us)
            .map_err(|e| io_err("could not create shared memory segment", e))?;
        let shm = seg.shmem();
        shm.header().max_parallel_workers.store(
            crate::process::setting_int("max_parallel_workers").clamp(0, u32::MAX as i64) as u32,
            Ordering::Relaxed,
        );
        for name in self.workers.dropped_names() {
            shm.header().record_dropped(name);
        }
        self.workers.install_in_segment(shm);
        self.segment = Some(seg);
        self.publish_phase();
        Ok(())
    }

    fn shmem(&self) -> &'static crate::shmem::Shmem {
        self.segment.as_ref().expect("shared memory exists while the postmaster runs").shmem()
    }

    fn publish_phase(&self) {
        if let Some(seg) = &self.segment {
            seg.shmem().header().phase.store(self.phase as u32, Ordering::Release);
        }
    }

    /// Descriptors children must not keep, into `v` (cleared first).
    fn postmaster_only_fds(&self, v: &mut CloseList) {
        v.clear();
        v.extend([self.signal_fd.as_raw_fd(), self.listener.as_raw_fd(), self.death_pipe.1]);
        v.extend(self.tcp_listeners.iter().map(|l| l.as_raw_fd()));
        if let Some(fd) = self.ready_fd {
            v.push(fd);
        }
        if let Some(w) = &self.exit_watch {
            v.extend(w.own_fds());
        }
        v.extend(self.spares.fds());
    }

    /// Forks a child: `body` runs in it with `ctx` and never returns. Returns the pid, or None (logged) if fork
    /// failed. The postmaster's copy of `ctx` is dropped after the fork (a backend's client socket closes here).
    fn fork_child<C>(&mut self, kind: ChildKind, shmem: bool, ctx: C, body: ChildBody<C>) -> Option<i32> {
        self.fork_child_closing(kind, shmem, &[], ctx, body)
    }

    /// [`Postmaster::fork_child`], the child also closing `also_close` (descriptors the postmaster keeps).
    ///
    /// In the start-up code's section, not inlined into its callers: a new child returns from the fork into this
    /// function, and its code page is then one a worker touches anyway instead of one more of the launch loop's.
    #[inline(never)]
    #[link_section = ".text.hot.bgw_worker"]
    fn fork_child_closing<C>(
        &mut self,
        kind: ChildKind,
        shmem: bool,
        also_close: &[RawFd],
        ctx: C,
        body: ChildBody<C>,
    ) -> Option<i32> {
        let proc_no = match kind {
            ChildKind::DeadEnd => None,
            _ => match self.children.take_proc() {
                Some(p) => Some(p),
                None => {
                    elog::log("could not fork new process: no free process entry");
                    return None;
                }
            },
        };
        if let Some(p) = proc_no {
            let (pk, slot) = match kind {
                ChildKind::Backend => (crate::shmem::procs::ProcKind::Backend, -1),
                ChildKind::Worker { slot } => (crate::shmem::procs::ProcKind::Worker, slot as i32),
                ChildKind::Spare => (crate::shmem::procs::ProcKind::Spare, -1),
                _ => (crate::shmem::procs::ProcKind::Startup, -1),
            };
            self.shmem().procs()[p as usize].prepare(pk, slot, elog::now_us());
        }
        let mut close = CloseList::new();
        self.postmaster_only_fds(&mut close);
        close.extend_from_slice(also_close);
        // Sorted, the child closes runs of adjacent descriptors with one system call each.
        close.sort_unstable();
        let death = self.death_pipe.0;
        match fork_process(&close) {
            Ok(Forked::Child) => {
                enter_child(proc_no);
                // The body never returns (it exits the child); Infallible says so in the type. Nor may it unwind
                // into the postmaster's frames: dropping the postmaster's state here would remove its pid file,
                // and its private tables are not even mapped in a child (sys::private_memory). The guard ends the
                // child if a panic unwinds this far (the inherited hook has reported it as an ERROR): it exits as
                // after any ERROR.
                let _exit_on_unwind = ExitOnUnwind;
                #[allow(unreachable_code)]
                match body(ctx, proc_no, death) {}
            }
            Ok(Forked::Parent { pid }) => {
                drop(ctx);
                if let Some(p) = proc_no {
                    self.shmem().procs()[p as usize].pid.store(pid, Ordering::Release);
                }
                let children = &self.children;
                let watched = self.exit_watch.as_mut().is_some_and(|w| w.watch(pid, |p| children.contains(p)));
                if !watched {
                    self.unwatched += 1;
                }
                self.children.insert(pid, Child { kind, proc_no, shmem, notify_slots: Default::default(), watched });
                Some(pid)
            }
            Err(e) => {
                if let Some(p) = proc_no {
                    self.children.give_back_proc(p);
                }
                elog::log(e.to_string());
                None
            }
        }
    }

    fn start_startup_process(&mut self) {
        let standby = self.standby;
        let data_dir = self.data_dir.clone();
        let pid = self.fork_child(ChildKind::Startup, true, (data_dir, standby), |(data_dir, standby), _, death| {
            crate::latch::init_child(death, crate::latch::OnPostmasterDeath::ExitNow);
            crate::sys::proctitle::set("bgw: startup");
            startup_process_main(&data_dir, standby)
        });
        match pid {
            Some(pid) => self.startup_pid = Some(pid),
            None => {
                elog::log("could not start startup process");
                self.begin_shutdown(ShutdownMode::Immediate);
            }
        }
    }

    // ----- the loop -----

    /// Out of line, so that its frame and the launch path's below it start right under `run`'s (which holds the
    /// postmaster's state while it is built, then idles): the path a fork takes then spans as few stack pages as
    /// its frames need, and each page it writes after a fork is a copy-on-write fault.
    #[inline(never)]
    fn main_loop(&mut self) -> i32 {
        loop {
            let timeout_ms = if self.workers.has_pending_launches() && self.may_launch() {
                0
            } else {
                self.workers.next_restart_delay_ms().unwrap_or(-1)
            };
            let accepting = self.shutdown.is_none() || self.shutdown == Some(ShutdownMode::Smart);
            let listening =
                |fd: RawFd| libc::pollfd { fd: if accepting { fd } else { -1 }, events: libc::POLLIN, revents: 0 };
            let mut fds = std::mem::take(&mut self.scratch.pollfds);
            fds.clear();
            fds.push(libc::pollfd { fd: self.signal_fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            let exits = self.exit_watch.as_ref().map_or(-1, |w| w.as_raw_fd());
            fds.push(libc::pollfd { fd: exits, events: libc::POLLIN, revents: 0 });
            fds.push(listening(self.listener.as_raw_fd()));
            fds.extend(self.tcp_listeners.iter().map(|l| listening(l.as_raw_fd())));
            // SAFETY: a vector of valid pollfd structs, its length passed.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms as i32) };
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                elog::log(format!("poll() failed in postmaster: {}", std::io::Error::last_os_error()));
            }
            if fds[0].revents != 0 {
                self.process_signals();
            }
            if fds[1].revents != 0 {
                self.process_watched_exits();
            }
            if fds[2].revents != 0 {
                self.process_connections(None);
            }
            for (i, fd) in fds.iter().enumerate().skip(3) {
                if fd.revents != 0 {
                    self.process_connections(Some(i - 3));
                }
            }
            self.scratch.pollfds = fds;
            if self.may_launch() {
                let now = std::time::Instant::now();
                self.workers.process_restart_timers(now, self.phase);
                self.launch_pending_workers();
                self.refill_spares();
            }
            if let Some(code) = self.check_state_transitions() {
                return code;
            }
        }
    }

    fn may_launch(&self) -> bool {
        !self.fatal_error && self.shutdown.is_none() && self.phase != Phase::Stopping && self.phase != Phase::Crashed
    }

    fn process_signals(&mut self) {
        let (mut chld, mut usr1, mut hup) = (false, false, false);
        let mut requested: Option<ShutdownMode> = None;
        while let Ok(Some(info)) = self.signal_fd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => chld = true,
                libc::SIGUSR1 => usr1 = true,
                libc::SIGHUP => hup = true,
                libc::SIGTERM => requested = requested.max(Some(ShutdownMode::Smart)),
                libc::SIGINT => requested = requested.max(Some(ShutdownMode::Fast)),
                libc::SIGQUIT => requested = requested.max(Some(ShutdownMode::Immediate)),
                _ => {}
            }
        }
        if let Some(mode) = requested {
            self.process_shutdown_request(mode);
        }
        // Watched children are reaped through their pidfds; SIGCHLD matters only while some child is not watched.
        if chld && self.unwatched > 0 {
            self.process_child_exits();
        }
        if usr1 {
            self.process_pm_signals();
        }
        if hup {
            self.process_reload();
        }
    }

    fn process_shutdown_request(&mut self, mode: ShutdownMode) {
        if self.shutdown.is_some_and(|m| m >= mode) {
            return;
        }
        match mode {
            ShutdownMode::Smart => elog::log("received smart shutdown request"),
            ShutdownMode::Fast => elog::log("received fast shutdown request"),
            ShutdownMode::Immediate => elog::log("received immediate shutdown request"),
        }
        self.begin_shutdown(mode);
    }

    fn begin_shutdown(&mut self, mode: ShutdownMode) {
        self.shutdown = Some(mode);
        self.spares.retire_all(false);
        if let Some(f) = self.pid_file.as_mut() {
            f.set_status("stopping");
        }
        match mode {
            ShutdownMode::Smart => {
                // Clients may finish; workers stop once they have (check_state_transitions).
                if self.children.backend_count() == 0 {
                    self.stop_all_children(libc::SIGTERM);
                }
            }
            ShutdownMode::Fast => {
                elog::log("aborting any active transactions");
                self.stop_all_children(libc::SIGTERM);
            }
            ShutdownMode::Immediate => self.stop_all_children(libc::SIGQUIT),
        }
    }

    fn stop_all_children(&mut self, sig: libc::c_int) {
        self.phase = Phase::Stopping;
        self.publish_phase();
        self.workers.cancel_pending();
        // (Spares were retired when the shutdown began, the only way here.)
        self.children.signal_all(sig, |c| c.kind != ChildKind::DeadEnd || sig == libc::SIGQUIT);
    }

    fn process_pm_signals(&mut self) {
        let Some(seg) = &self.segment else { return };
        let shm = seg.shmem();
        let flags = shm.header().pm_signal_flags.swap(0, Ordering::Acquire);
        // Also during a crash cycle (as PostgreSQL's postmaster does): a termination requested then must still be
        // honoured by the next cycle; the change bits live in the segment about to be replaced, so they are read
        // now or never.
        if flags & pmsignal::BACKGROUND_WORKER_CHANGE != 0 {
            self.workers.process_state_change(shm, &mut self.children, self.phase);
        }
        // `bgw promote` cannot set shared flags (it is not our child): it leaves a file and sends SIGUSR1.
        if self.phase == Phase::HotStandby && self.data_dir.join(datadir::PROMOTE_SIGNAL).exists() {
            self.promote();
        }
    }

    fn promote(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.join(datadir::PROMOTE_SIGNAL));
        let _ = std::fs::remove_file(self.data_dir.join(datadir::STANDBY_SIGNAL));
        elog::log("received promote request");
        self.standby = false;
        datadir::write_control(&self.data_dir, ClusterState::InProduction);
        self.enter_phase(Phase::Run);
    }

    fn enter_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.publish_phase();
        // Spares forked in the previous phase hold the postmaster's memory from then: replace them.
        self.spares.retire_all(true);
        match phase {
            Phase::Run => {
                elog::log("database system is ready to accept connections");
                if let Some(f) = self.pid_file.as_mut() {
                    f.set_status("ready");
                }
            }
            Phase::HotStandby => {
                elog::log("database system is ready to accept read-only connections");
                if let Some(f) = self.pid_file.as_mut() {
                    f.set_status("standby");
                }
            }
            _ => {}
        }
        if matches!(phase, Phase::Run | Phase::HotStandby) {
            self.signal_ready();
            self.workers.phase_advanced(phase);
        }
    }

    fn signal_ready(&mut self) {
        if let Some(fd) = self.ready_fd.take() {
            signals::write_all_raw(fd, b"ready\n");
            // SAFETY: closing the descriptor we were handed and no longer use.
            unsafe { libc::close(fd) };
        }
    }

    fn process_reload(&mut self) {
        elog::log("received SIGHUP, reloading configuration files");
        crate::process::reload_config();
        if let Some(seg) = &self.segment {
            let mpw = crate::process::setting_int("max_parallel_workers").clamp(0, u32::MAX as i64) as u32;
            seg.shmem().header().max_parallel_workers.store(mpw, Ordering::Relaxed);
        }
        // dynamic_library_path may have changed: entry points are looked up again.
        self.scratch.primed.clear();
        // Spares hold the old configuration: replace them.
        self.spare_target = self.configured_spares();
        self.spares.retire_all(true);
        self.children.signal_all(libc::SIGHUP, |c| !matches!(c.kind, ChildKind::DeadEnd | ChildKind::Spare));
    }

    /// Accepts waiting clients on the Unix socket (None) or TCP listener `Some(i)`, a backend for each.
    fn process_connections(&mut self, tcp: Option<usize>) {
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

    fn launch_pending_workers(&mut self) {
        for _ in 0..LAUNCHES_PER_ITERATION {
            let Some(slot) = self.workers.next_launch(self.phase) else { return };
            let shmem_flag = self.workers.has_shmem(slot);
            let found = self.primed_entry_point(slot);
            // The new worker is usually put on the CPU its registrant left to sleep on, and the registrant is about
            // to be woken to learn the pid: the worker lets it run first (a scheduling hint, one syscall), or it
            // would wait behind the worker's start-up. Not while more launches are queued: then the postmaster's
            // next fork is what everyone waits for.
            let yield_first = !self.workers.has_pending_launches();
            let pid = match self.spares.take() {
                Some(spare) => self.assign_spare(spare, slot, shmem_flag, yield_first),
                None => None,
            };
            let pid = pid.or_else(|| {
                // The registration is read in the child, from its copy of the postmaster's memory: building the
                // 1.5 KB C struct here would write stack pages that the fork has just made copy-on-write.
                let spec = crate::sys::fork::Inherited::new(self.workers.spec(slot)?);
                self.fork_child(ChildKind::Worker { slot }, shmem_flag, (spec, found, yield_first), worker_child_main)
            });
            match pid {
                Some(pid) => self.workers.started(self.shmem(), &mut self.children, slot, pid),
                None => {
                    self.workers.start_failed(slot);
                    workers::notify_slot_change(self.shmem(), &self.children, slot, 0);
                }
            }
        }
    }

    /// The entry point of `slot`'s worker, looked up once per (library, function) and configuration: a worker
    /// forked after this finds it in its copy of the postmaster's memory, and the spares forked after it find it in
    /// the loader's cache they inherit. None for a library the postmaster has not loaded (not preloaded): its
    /// workers load it themselves, as in PostgreSQL.
    fn primed_entry_point(&mut self, slot: u32) -> Option<crate::worker::entry::EntryPoint> {
        let (library, function) = self.workers.entry_names(slot)?;
        if let Some(p) = self.scratch.primed.iter().find(|p| p.library == library && p.function == function) {
            return p.entry;
        }
        let entry = crate::worker::entry::lookup_loaded(library, function);
        self.scratch.primed.push(Primed { library: library.to_string(), function: function.to_string(), entry });
        entry
    }

    /// Makes an idle spare the worker in `slot` (see `crate::worker::spare` for the protocol). None if the spare
    /// could not take it (it died idle): the caller forks instead. Out of line: the 1.5 KB registration it sends
    /// would otherwise sit in the launch loop's frame, and widen the stack every fork's path writes.
    #[inline(never)]
    fn assign_spare(&mut self, spare: IdleSpare, slot: u32, shmem: bool, yield_first: bool) -> Option<i32> {
        let worker = self.workers.raw(slot);
        let proc_no = self.children.get_mut(spare.pid)?.proc_no;
        let procs = self.shmem().procs();
        if let Some(p) = proc_no {
            procs[p as usize].prepare(crate::shmem::procs::ProcKind::Worker, slot as i32, elog::now_us());
        }
        let msg = crate::worker::spare::Assignment { yield_first: yield_first as u32, worker };
        if let Err(e) = crate::sys::message_pipe::send(spare.assign.as_fd(), &msg) {
            elog::debug1_with(|| format!("could not hand a worker to spare worker process {}: {e}", spare.pid));
            if let Some(p) = proc_no {
                procs[p as usize].prepare(crate::shmem::procs::ProcKind::Spare, -1, elog::now_us());
            }
            return None;
        }
        // From here the child is this worker: its exit follows the worker's rules.
        let child = self.children.get_mut(spare.pid)?;
        child.kind = ChildKind::Worker { slot };
        child.shmem = shmem;
        Some(spare.pid)
    }

    /// How many spares the configuration asks for.
    fn configured_spares(&self) -> usize {
        let n = crate::process::setting_int("worker_spare_processes").clamp(0, spares::MAX_SPARES as i64) as usize;
        n.min(self.max_workers)
    }

    /// Forks spares up to the configured number, when one was consumed or retired and nothing waits to launch.
    fn refill_spares(&mut self) {
        if !self.spares.refill_wanted() || self.workers.has_pending_launches() || !self.may_launch() {
            return;
        }
        self.spares.refilled();
        while self.spares.idle_count() < self.spare_target {
            let (read, write) = match crate::sys::message_pipe::create() {
                Ok(p) => p,
                Err(e) => {
                    elog::log(format!("could not create pipe for spare worker process: {e}"));
                    return;
                }
            };
            let assignments = read.as_raw_fd();
            let keep = [write.as_raw_fd()];
            let Some(pid) =
                self.fork_child_closing(ChildKind::Spare, false, &keep, assignments, |assignments, _, death| {
                    crate::worker::spare::run(assignments, death)
                })
            else {
                return;
            };
            drop(read);
            self.spares.add(IdleSpare { pid, assign: write });
        }
    }

    // ----- children exiting -----

    /// Reaps the children whose pidfds say they exited.
    fn process_watched_exits(&mut self) {
        let mut exited = std::mem::take(&mut self.scratch.exited);
        exited.clear();
        if let Some(w) = &self.exit_watch {
            w.exited(&mut exited);
        }
        for &pid in &exited {
            let mut status = 0;
            // SAFETY: waitpid on one of our children with WNOHANG and a valid status pointer.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                self.child_exited(pid, status);
            }
        }
        self.scratch.exited = exited;
    }

    /// Reaps every exited child, asking the kernel about all of them (SIGCHLD, for children without a pidfd).
    fn process_child_exits(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on any child with WNOHANG and a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            self.child_exited(pid, status);
        }
    }

    /// Everything that follows a child's exit (`status` from waitpid).
    fn child_exited(&mut self, pid: i32, status: i32) {
        let Some(child) = self.children.remove(pid) else { return };
        match (child.watched, self.exit_watch.as_mut()) {
            (true, Some(w)) => {
                let children = &self.children;
                w.reaped(|p| children.contains(p));
            }
            _ => self.unwatched = self.unwatched.saturating_sub(1),
        }
        if let (Some(p), Some(seg)) = (child.proc_no, &self.segment) {
            seg.shmem().procs()[p as usize].pid.store(0, Ordering::Release);
        }
        if let Some(p) = child.proc_no {
            self.children.give_back_proc(p);
        }
        self.workers.stop_notifications(pid, &child.notify_slots, self.segment.as_ref().map(|s| s.shmem()));
        let exit = ExitStatus::from_wait(status);
        match child.kind {
            ChildKind::Startup => self.startup_exited(pid, exit),
            ChildKind::Backend => {
                if !exit.is_code(0) && !exit.is_code(1) {
                    self.handle_child_crash("server process", pid, exit);
                }
            }
            ChildKind::DeadEnd => {}
            ChildKind::Spare => {
                // Never touched shared memory (see crate::worker::spare): its death is not a crash.
                self.spares.forget(pid);
                if !exit.is_code(0) {
                    log_child_exit(Level::Log, "spare worker process", pid, exit);
                }
            }
            ChildKind::Worker { slot } => {
                // A never-restart or terminated worker is forgotten; one that exited with 1 waits out its
                // interval on the timer heap (unless launches are off: shutdown or crash).
                let launching = self.may_launch();
                if let Some(name) = self.workers.worker_exited(self.shmem(), &self.children, slot, pid, exit, launching)
                {
                    self.handle_child_crash(&name, pid, exit);
                }
            }
        }
    }

    fn startup_exited(&mut self, pid: i32, exit: ExitStatus) {
        self.startup_pid = None;
        if self.fatal_error || self.shutdown.is_some() {
            return;
        }
        if !exit.is_code(0) {
            log_child_exit(Level::Log, "startup process", pid, exit);
            elog::log("aborting startup due to startup process failure");
            self.begin_shutdown(ShutdownMode::Immediate);
            return;
        }
        self.enter_phase(if self.standby { Phase::HotStandby } else { Phase::Run });
    }

    /// The spec's HandleChildCrash: a process attached to shared memory died badly. SIGQUIT every other child and
    /// reinitialize once all are gone.
    fn handle_child_crash(&mut self, what: &str, pid: i32, exit: ExitStatus) {
        if self.fatal_error || self.shutdown == Some(ShutdownMode::Immediate) {
            return;
        }
        log_child_exit(Level::Log, what, pid, exit);
        elog::log("terminating any other active server processes");
        self.fatal_error = true;
        self.phase = Phase::Crashed;
        self.publish_phase();
        self.workers.cancel_pending();
        self.spares.retire_all(true);
        self.children.signal_all(libc::SIGQUIT, |_| true);
    }

    /// After events: finish a crash cycle, a smart shutdown's first half, or the shutdown itself.
    fn check_state_transitions(&mut self) -> Option<i32> {
        if self.shutdown == Some(ShutdownMode::Smart)
            && self.phase != Phase::Stopping
            && self.children.backend_count() == 0
        {
            self.stop_all_children(libc::SIGTERM);
        }
        if self.children.is_empty() && (self.shutdown.is_some() || self.phase == Phase::Stopping) {
            return Some(self.finish_shutdown());
        }
        if self.fatal_error && self.children.is_empty() {
            if crate::process::settings().as_ref().and_then(|s| s.get_bool("restart_after_crash")) == Some(false) {
                elog::log("shutting down because restart_after_crash is off");
                self.cleanup_files(false);
                return Some(1);
            }
            elog::log("all server processes terminated; reinitializing");
            self.reinitialize();
        }
        None
    }

    fn reinitialize(&mut self) {
        self.workers.reset_after_crash();
        self.children.reset_procs(self.max_procs);
        self.fatal_error = false;
        self.phase = Phase::Startup;
        if let Err(e) = self.create_shared_memory() {
            e.log_fatal();
            self.shutdown = Some(ShutdownMode::Immediate);
            return;
        }
        self.workers.enqueue_all(self.phase);
        self.start_startup_process();
    }

    fn finish_shutdown(&mut self) -> i32 {
        if self.fatal_error {
            // A process crashed while the host was shutting down (or a shutdown interrupted a crash cycle): as in
            // PostgreSQL, not a clean shutdown. The control file still says the system was running, so the next
            // start runs recovery.
            elog::log("abnormal database system shutdown");
            self.cleanup_files(false);
            return 1;
        }
        let clean = self.shutdown != Some(ShutdownMode::Immediate);
        if clean {
            datadir::write_control(&self.data_dir, ClusterState::ShutDown);
        }
        elog::log("database system is shut down");
        self.cleanup_files(clean);
        0
    }

    fn cleanup_files(&mut self, _clean: bool) {
        let _ = std::fs::remove_file(&self.socket_path);
        self.pid_file = None;
    }
}

/// Dropped only if a child's body unwinds (bodies never return): exits the child with status 1.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    #[link_section = ".text.hot.bgw_worker"]
    fn drop(&mut self) {
        crate::process::exit(1);
    }
}

/// A child's first steps after the fork, before its body: which process entry is its own, and the C ABI's
/// per-process globals. (This and [`worker_child_main`] sit with the worker runtime's start-up code, see
/// `crate::worker`: a new worker maps fewer blocks of code.)
#[inline(never)]
#[link_section = ".text.hot.bgw_worker"]
fn enter_child(proc_no: Option<u32>) {
    crate::process::set_my_proc(proc_no);
    // SAFETY: the child is single-threaded, fresh from fork.
    unsafe { crate::modules::abi::init_process_globals() };
}

/// What a forked worker gets from the postmaster: its registration, its entry point if the postmaster found it,
/// and whether to yield first.
type WorkerChildContext =
    (crate::sys::fork::Inherited<crate::bgworker::types::WorkerSpec>, Option<crate::worker::entry::EntryPoint>, bool);

/// A forked worker's body: its registration built from this process's copy of the postmaster's heap, then the
/// worker runtime. A function of its own, not inlined into the launch loop, so that building the registration runs
/// from the start-up code's section (measured: 2-3 page faults more per worker when it was inlined).
#[inline(never)]
#[link_section = ".text.hot.bgw_worker"]
fn worker_child_main(
    (spec, found, yield_first): WorkerChildContext,
    _: Option<u32>,
    postmaster_death: RawFd,
) -> std::convert::Infallible {
    // SAFETY: this is the child of the fork made right after the reference was taken, from a registration in the
    // ordinary heap (the registered workers' boxes), alive at the fork.
    let spec = unsafe { spec.in_child() };
    crate::worker::enter_worker(spec.to_raw_adopted(), found, yield_first, postmaster_death)
}

/// Parses `listen_addresses`: comma-separated IP addresses, `localhost`, or `*` (all IPv4 addresses); empty means
/// Unix socket only.
fn parse_listen_addresses(value: &str) -> Result<Vec<std::net::IpAddr>, StartError> {
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
fn bind_tcp(ip: std::net::IpAddr, port: u16) -> Result<std::net::TcpListener, StartError> {
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
fn bind_socket(path: &Path, port: u16) -> Result<UnixListener, StartError> {
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

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    Other(i32),
}

impl ExitStatus {
    pub fn from_wait(status: i32) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Other(status)
        }
    }
    pub fn is_code(self, c: i32) -> bool {
        self == ExitStatus::Code(c)
    }
    /// For views: the exit code, or minus the signal number.
    pub fn as_view_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => -s,
            ExitStatus::Other(s) => s,
        }
    }
}

fn signal_name(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string (or NULL); copied at once.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            "unknown signal".to_string()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// The spec's LogChildExit wording.
pub fn log_child_exit(level: Level, what: &str, pid: i32, exit: ExitStatus) {
    let msg = match exit {
        ExitStatus::Code(c) => format!("{what} (PID {pid}) exited with exit code {c}"),
        ExitStatus::Signal(s) => format!("{what} (PID {pid}) was terminated by signal {s}: {}", signal_name(s)),
        ExitStatus::Other(s) => format!("{what} (PID {pid}) exited with unrecognized status {s}"),
    };
    elog::report(level, msg);
}

/// The startup process: recovery, then exit 0 once consistent. (Database recovery plugs in here.)
fn startup_process_main(data_dir: &Path, standby: bool) -> ! {
    crate::process::set_panic_hook();
    signals::install(libc::SIGQUIT, quickdie, &[]);
    signals::unblock_all();
    match datadir::read_control(data_dir) {
        Some((ClusterState::ShutDown, t)) => {
            elog::log(format!("database system was shut down at {}", datadir::format_time(t)))
        }
        Some((_, t)) => {
            elog::log(format!("database system was interrupted; last known up at {}", datadir::format_time(t)));
            elog::log("database system was not properly shut down; automatic recovery in progress");
            elog::log("redo done; recovery complete");
        }
        None => elog::log("database system is new; no recovery needed"),
    }
    if standby {
        elog::log("entering standby mode");
        elog::log("consistent recovery state reached");
        datadir::write_control(data_dir, ClusterState::InArchiveRecovery);
    } else {
        datadir::write_control(data_dir, ClusterState::InProduction);
    }
    crate::process::exit(0)
}

extern "C" fn quickdie(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(2) };
}
