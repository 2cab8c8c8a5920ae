//! The host's built-in parameters: the table the postmaster starts from and `bgw initdb` documents in the default
//! file, and the bounds some of them share with the code that uses them.

use super::{GucContext, GucDef, Unit};
use std::path::Path;

/// The most spare worker processes `worker_spare_processes` may ask for: the parameter's upper bound, and how
/// many process entries the postmaster reserves for spares at start (see `crate::postmaster::spares`).
pub const MAX_SPARES: usize = 8;

/// `max_spare_worker_processes`' default: the spare pool grows, after a burst of launches, to the burst's size up
/// to this many (see `crate::postmaster::spares`).
pub const DEFAULT_SPARE_POOL_MAX: i64 = 256;
/// `max_spare_worker_processes`' upper bound.
pub const MAX_SPARE_POOL: usize = 4096;

/// The host's built-in parameters. `unix_socket_directories` defaults to
/// `data_dir`.
pub fn host_parameters(data_dir: &Path) -> Vec<GucDef> {
    use GucContext::{Postmaster, Sighup, User};
    vec![
        GucDef::int(
            "max_worker_processes",
            8,
            0,
            262_143,
            Unit::None,
            Sighup,
            "Maximum number of concurrent background worker processes (reloadable up to max_worker_slots).",
        ),
        GucDef::int(
            "max_worker_slots",
            -1,
            -1,
            262_143,
            Unit::None,
            Postmaster,
            "Background worker slots allocated at start: the most max_worker_processes can be raised to by a \
             reload (-1: max_worker_processes).",
        ),
        GucDef::int(
            "max_parallel_workers",
            8,
            0,
            1024,
            Unit::None,
            Sighup,
            "Maximum number of parallel workers that can be active at one time.",
        ),
        GucDef::bool("restart_after_crash", true, Sighup, "Reinitialize the server after a worker crash."),
        GucDef::int(
            "shutdown_kill_timeout",
            60_000,
            0,
            i32::MAX as i64,
            Unit::Ms,
            Sighup,
            "Sets how long a fast shutdown waits for processes to exit after SIGTERM before it sends SIGKILL (0: forever).",
        ),
        GucDef::int(
            "worker_spare_processes",
            1,
            0,
            MAX_SPARES as i64,
            Unit::None,
            Sighup,
            "Number of idle processes forked ahead of need, to start background workers without a fork.",
        ),
        GucDef::int(
            "max_spare_worker_processes",
            DEFAULT_SPARE_POOL_MAX,
            0,
            MAX_SPARE_POOL as i64,
            Unit::None,
            Postmaster,
            "Most idle processes the spare pool grows to after a burst of worker launches (0: only worker_spare_processes).",
        ),
        GucDef::int(
            "max_connections",
            100,
            1,
            262_143,
            Unit::None,
            Postmaster,
            "Maximum number of concurrent connections to the front door.",
        ),
        GucDef::int(
            "superuser_reserved_connections",
            3,
            0,
            262_143,
            Unit::None,
            Postmaster,
            "Sets the number of connection slots reserved for superusers.",
        ),
        GucDef::int(
            "authentication_timeout",
            60,
            1,
            600,
            Unit::S,
            Sighup,
            "Sets the maximum allowed time to complete client authentication.",
        ),
        GucDef::int("port", 5432, 1, 65_535, Unit::None, Postmaster, "TCP port the server listens on."),
        GucDef::string(
            "unix_socket_directories",
            &data_dir.to_string_lossy(),
            Postmaster,
            "Directories where the server creates its Unix-domain socket.",
        ),
        GucDef::string(
            "listen_addresses",
            "",
            Postmaster,
            "Host names or IP addresses to listen on; empty means Unix socket only.",
        ),
        GucDef::enumeration(
            "log_min_messages",
            "warning",
            &[
                "debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal",
                "panic",
            ],
            Sighup,
            "Minimum severity of messages written to the server log.",
        ),
        GucDef::enumeration(
            "sql_dialect",
            "postgresql",
            &["sqlite", "postgresql"],
            Sighup,
            "The SQL the front door speaks in new sessions: SQLite's, or PostgreSQL's (translated).",
        ),
        GucDef::string(
            "worker_type_quota",
            "",
            Sighup,
            "Sets how many workers of a type may run at once: 'type=N, type=N' (beyond PostgreSQL).",
        ),
        GucDef::string("shared_preload_libraries", "", Postmaster, "Libraries to load into the server at start."),
        GucDef::string("dynamic_library_path", "$libdir", Sighup, "Search path for dynamically loadable modules."),
        GucDef::string(
            "extension_control_path",
            "$system",
            Sighup,
            "A path to search for extensions, specifically extension control files (name.control).",
        ),
        GucDef::int(
            "backend_memory_limit",
            1024 * 1024,
            0,
            i32::MAX as i64,
            Unit::Kb,
            Sighup,
            "Sets the most memory SQLite may use in one backend or worker (0: no limit).",
        ),
        // Session guards (PostgreSQL's names, defaults and units; 0 turns each off).
        GucDef::int(
            "statement_timeout",
            0,
            0,
            i32::MAX as i64,
            Unit::Ms,
            User,
            "Sets the maximum allowed duration of any statement.",
        ),
        GucDef::int(
            "lock_timeout",
            0,
            0,
            i32::MAX as i64,
            Unit::Ms,
            User,
            "Sets the maximum allowed duration of any wait for a lock.",
        ),
        GucDef::int(
            "idle_in_transaction_session_timeout",
            0,
            0,
            i32::MAX as i64,
            Unit::Ms,
            User,
            "Sets the maximum allowed idle time between queries, when in a transaction.",
        ),
        GucDef::int(
            "idle_session_timeout",
            0,
            0,
            i32::MAX as i64,
            Unit::Ms,
            User,
            "Sets the maximum allowed idle time between queries, when not in a transaction.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::GucSource;

    #[test]
    fn host_parameter_defaults() {
        let s = host();
        assert_eq!(s.get_int("max_worker_processes"), Some(8));
        assert_eq!(s.get_int("max_parallel_workers"), Some(8));
        assert_eq!(s.get_bool("restart_after_crash"), Some(true));
        assert_eq!(s.get_int("max_connections"), Some(100));
        assert_eq!(s.get_int("port"), Some(5432));
        assert_eq!(s.get_str("unix_socket_directories"), Some("/data"));
        assert_eq!(s.get_str("listen_addresses"), Some(""));
        assert_eq!(s.get_str("log_min_messages"), Some("warning"));
        assert_eq!(s.get_str("shared_preload_libraries"), Some(""));
        assert_eq!(s.get_str("dynamic_library_path"), Some("$libdir"));
        assert_eq!(s.get_int("worker_spare_processes"), Some(1));
        assert_eq!(s.get_int("max_spare_worker_processes"), Some(256));
        assert_eq!(s.def("worker_spare_processes").unwrap().context, GucContext::Sighup);
        assert_eq!(s.get("bgw_launches_per_iteration"), None);
        assert_eq!(s.get_int("superuser_reserved_connections"), Some(3));
        assert_eq!(s.get_int("authentication_timeout"), Some(60));
        assert_eq!(s.show("authentication_timeout").as_deref(), Some("1min"));
        for timeout in
            ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"]
        {
            assert_eq!(s.get_int(timeout), Some(0), "{timeout}");
        }
        assert_eq!(s.get_int("backend_memory_limit"), Some(1024 * 1024));
        assert_eq!(s.get_int("shutdown_kill_timeout"), Some(60_000));
        assert_eq!(s.show("worker_type_quota").as_deref(), Some(""));
        assert_eq!(s.get_str("extension_control_path"), Some("$system"));
        assert_eq!(s.names().len(), 24);
        assert_eq!(s.get_int("max_worker_slots"), Some(-1));
        assert_eq!(s.def("max_worker_slots").unwrap().context, GucContext::Postmaster);
        assert_eq!(s.def("max_worker_processes").unwrap().context, GucContext::Sighup);
        assert!(s.names().windows(2).all(|w| w[0] < w[1]));
        assert!(host_parameters(Path::new("/d")).iter().all(|d| !d.short_desc.is_empty()));
        assert_eq!(s.def("max_connections").unwrap().context, GucContext::Postmaster);
        assert_eq!(s.def("max_parallel_workers").unwrap().context, GucContext::Sighup);
        assert_eq!(s.source("port"), Some(GucSource::Default));
    }
}
