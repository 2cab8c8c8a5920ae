//! The postmaster's start-up: the data directory and catalog, configuration, preloaded modules and static
//! registrations, the lock file, the listening sockets, signals; then shared memory, the startup process and the
//! first launches. Also creating (after a crash, re-creating) the shared memory segment.
//!
//! Runs in the postmaster process. [`Postmaster::start`] ends with the first forks (the startup process, then the
//! workers that start at postmaster start); [`Postmaster::create_shared_memory`] runs again in each crash cycle,
//! once every child has exited.

use super::children::Children;
use super::datadir::{PidFile, PidFileContents, StartError};
use super::sockets::{bind_socket, bind_tcp, parse_listen_addresses};
use super::spares::{self, Spares};
use super::workers::Workers;
use super::{datadir, io_err, Phase, Postmaster, Scratch, StartOptions};
use crate::elog;
use crate::shmem::Segment;
use crate::sync::Ordering;
use crate::sys::exit_watch::ExitWatch;
use crate::sys::signals;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::path::Path;

impl Postmaster {
    pub(super) fn start(opts: StartOptions) -> Result<Postmaster, StartError> {
        let data_dir = std::fs::canonicalize(&opts.data_dir).unwrap_or(opts.data_dir.clone());
        datadir::check_data_dir(&data_dir)?;
        crate::sys::proctitle::init();
        // Installed here, before any fork, so that every child inherits it instead of allocating its own.
        crate::process::set_panic_hook();
        if !crate::catalog::exists(&data_dir) {
            let superuser = crate::sys::user::os_user_name().unwrap_or_else(|| "postgres".into());
            crate::catalog::create(&data_dir, &superuser).map_err(|e| StartError::new(e.to_string()))?;
            elog::log(format!("created the catalog, with bootstrap superuser \"{superuser}\""));
        } else {
            // A catalog made by an earlier version gets this one's columns before any backend reads it.
            crate::catalog::upgrade(&data_dir).map_err(|e| StartError::new(e.to_string()))?;
        }
        // A data directory made before the server secret existed gets one now, before any backend needs it.
        crate::catalog::secret::ensure_secret(&data_dir).map_err(|e| {
            StartError::new(format!(
                "could not create the server secret \"{}\": {e}",
                crate::catalog::secret::secret_path(&data_dir).display()
            ))
        })?;

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
        // The slot array is allocated for `max_worker_slots` (the ceiling, fixed at start); `max_worker_processes`
        // limits how many are used and may change at reload up to it (PostgreSQL 18's autovacuum_worker_slots and
        // autovacuum_max_workers).
        let worker_limit = settings.get_int("max_worker_processes").unwrap_or(8).max(0);
        let max_workers = match settings.get_int("max_worker_slots").unwrap_or(-1) {
            n if n < 0 => worker_limit,
            n if n < worker_limit => {
                return Err(StartError::new(format!(
                    "max_worker_processes ({worker_limit}) must be less than or equal to max_worker_slots ({n})"
                )))
            }
            n => n,
        } as usize;
        settings.limit_int_max("max_worker_processes", max_workers as i64);
        let max_connections = settings.get_int("max_connections").unwrap_or(100).max(1) as usize;
        let reserved = settings.get_int("superuser_reserved_connections").unwrap_or(3).max(0) as usize;
        if reserved >= max_connections {
            return Err(StartError::new(format!(
                "superuser_reserved_connections ({reserved}) must be less than max_connections ({max_connections})"
            )));
        }
        let port = settings.get_int("port").unwrap_or(5432) as u16;
        let socket_dir = settings.get_str("unix_socket_directories").unwrap_or_default().to_string();
        let listen = settings.get_str("listen_addresses").unwrap_or_default().to_string();
        let tcp_addresses = parse_listen_addresses(&listen)?;
        crate::process::init(&data_dir, opts.overrides.clone(), settings);

        let pid = std::process::id() as i32;
        let start_time_us = elog::now_us();
        // Processes: backends (authenticated ones, and on TCP and on the Unix socket those not yet authenticated
        // and those evicted and not yet exited, see sockets.rs), workers, the startup process, spare workers.
        // Spares: the floor (at most MAX_SPARES) and the pool that grows after bursts.
        let spare_pool_max = crate::process::setting_int("max_spare_worker_processes").max(0) as usize;
        let max_procs = max_connections
            + 4 * super::sockets::unauthenticated_cap(max_connections)
            + max_workers
            + 1
            + spare_pool_max.max(spares::MAX_SPARES);

        // Modules first: each preloaded library's _PG_init runs once, before anything else exists, so a module
        // that fails stops start-up cleanly. Then static registration: modules' workers, then declared ones.
        let preload = crate::process::setting_text("shared_preload_libraries").unwrap_or_default();
        let from_modules = crate::modules::preload::process_shared_preload_libraries(&preload)
            .map_err(|e| StartError::new(e.to_string()))?;
        let mut workers = Workers::new(max_workers);
        workers.set_limit(worker_limit as usize);
        workers.set_quotas(&crate::process::setting_text("worker_type_quota").unwrap_or_default());
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
                start_ticks: crate::sys::process::my_start_ticks(),
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

        let fds = crate::sys::fd::pipe(false).map_err(|e| io_err("could not create postmaster death pipe", e))?;

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
            death_pipe: fds,
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
            last_fork_errno: 0,
            shutdown_kill_at: None,
            shutdown_killed: false,
            spares: Spares::default(),
            spare_target: 0,
            spare_pool_max,
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
    pub(super) fn create_shared_memory(&mut self) -> Result<(), StartError> {
        self.segment = None;
        let seg = Segment::create(self.max_workers, self.max_procs, self.addin_bytes, self.pid, self.start_time_us)
            .map_err(|e| io_err("could not create shared memory segment", e))?;
        crate::bgworker::arg_area::create(self.max_workers)
            .map_err(|e| io_err("could not create the background worker argument area", e))?;
        let shm = seg.shmem();
        shm.header().max_parallel_workers.store(
            crate::process::setting_int("max_parallel_workers").clamp(0, u32::MAX as i64) as u32,
            Ordering::Relaxed,
        );
        for name in self.workers.dropped_names() {
            shm.header().record_dropped(name);
        }
        shm.slots().header().set_limit(self.workers.limit() as u32);
        self.workers.install_in_segment(shm);
        self.segment = Some(seg);
        crate::modules::preload::shmem_startup();
        self.publish_phase();
        Ok(())
    }
}
