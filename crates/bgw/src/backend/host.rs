//! What a backend needs from the host, as a trait.
//!
//! The backend (this module's parent) speaks the wire protocol and runs SQL on SQLite; everything it knows about
//! workers, other processes and settings comes through [`HostServices`]. In the real host the implementation lives
//! in `crate::services` and talks to shared memory; tests can supply a fake. Runs in a backend process
//! (forked from the postmaster), never in the postmaster.

pub use crate::bgworker::handle::{Handle, Status};
use std::fmt;
use std::time::SystemTime;

/// Errors are the SQL layer's: the host answers with the same [`SqlError`] the engine raises.
pub use crate::sql::{Severity, SqlError};

/// A handle's text that is not `slot:generation`, as SQL reports it: 22P02 with a hint.
impl From<crate::bgworker::handle::ParseHandleError> for SqlError {
    fn from(e: crate::bgworker::handle::ParseHandleError) -> SqlError {
        SqlError::error("22P02", e.to_string())
            .with_hint("A handle looks like \"slot:generation\", for example \"3:1\".")
    }
}

/// A registration as the SQL functions `bgw_register`/`bgw_launch` describe it, before the host's sanity checks.
/// The backend fills it from the arguments and the options JSON; the host checks it and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub library: String,
    pub function: String,
    /// The main argument (the spec's Datum); SQL passes an integer (default 0).
    pub main_arg: i64,
    /// Default: `<library>.<function>` is NOT used; an empty name means the host picks `<function>`.
    pub name: String,
    /// Empty means "same as name" (the spec's rule; the host applies it).
    pub worker_type: String,
    /// Restart interval in seconds, or None for never-restart (the default for SQL registrations).
    pub restart_seconds: Option<i64>,
    pub flags: RequestFlags,
    pub start: StartPhase,
    /// At most 128 bytes (BGW_EXTRALEN); the host rejects more.
    pub extra: Vec<u8>,
    /// Whether the registering backend wants SIGUSR1 notifications (default true).
    pub notify: bool,
    /// Beyond the spec: restart backoff, give-up rule, start timeout (`"backoff"`, `"give_up"`,
    /// `"start_timeout"`).
    pub options: crate::bgworker::options::RunOptions,
    /// `bgw_launch`: wait until the worker reports ready, not only until it started (`"wait": "ready"`).
    pub wait_ready: bool,
    /// Bound to the registering session: terminated when it ends (`"bind": "registrant"`).
    pub bind_registrant: bool,
    /// Wait this long for a free slot instead of failing at once (`bgw_register(..., wait => interval)`).
    pub wait_slot: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestFlags {
    pub shmem: bool,
    pub database: bool,
    pub parallel: bool,
    /// PostgreSQL 19's `BGWORKER_INTERRUPTIBLE`: DROP DATABASE terminates it.
    pub interruptible: bool,
    /// `BGWORKER_DIE_AT_INTERRUPTS`: SIGTERM is a flag acted on at CHECK_FOR_INTERRUPTS (PostgreSQL 19's `die()`).
    pub die_at_interrupts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPhase {
    PostmasterStart,
    ConsistentState,
    RecoveryFinished,
}

impl StartPhase {
    pub fn as_str(&self) -> &'static str {
        match self {
            StartPhase::PostmasterStart => "postmaster_start",
            StartPhase::ConsistentState => "consistent_state",
            StartPhase::RecoveryFinished => "recovery_finished",
        }
    }
}

/// One row of `pg_stat_activity`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub pid: i32,
    /// "client backend" for backends, the worker's type for background workers.
    pub backend_type: String,
    pub backend_start: SystemTime,
    pub application_name: String,
    /// The database and role the process is connected as (None for processes without a connection).
    pub datname: Option<String>,
    pub usename: Option<String>,
    /// "active", "idle", ... (empty for workers that report nothing)
    pub state: String,
    pub query: String,
}

/// One row of `bgw_workers`: every registered worker, running or not.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    pub slot: i64,
    pub generation: i64,
    pub name: String,
    pub worker_type: String,
    pub library: String,
    pub function: String,
    pub main_arg: i64,
    /// For example "shmem,database".
    pub flags: String,
    pub start_phase: String,
    /// None = never restart.
    pub restart_seconds: Option<i64>,
    pub pid: Option<i32>,
    /// "running", "not_yet_started", "waiting_restart", "terminating", "dropped", ...
    pub state: String,
    pub notify_pid: Option<i32>,
    pub restart_count: i64,
    pub last_exit_code: Option<i32>,
    /// How many times the registration's worker was started.
    pub starts: i64,
    /// Why its last run ended (`exit_code`, `signal`, `terminated`, ...) and in words, and when; None until a
    /// run of this registration has ended.
    pub last_exit_reason: Option<String>,
    pub last_exit_description: Option<String>,
    pub last_exit_at: Option<std::time::SystemTime>,
    /// When a worker waiting to restart starts again.
    pub next_start_at: Option<std::time::SystemTime>,
}

/// A SQL value crossing into or out of a module's SQL function.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlArg {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl SqlArg {
    /// A SQLite value as a module function's argument (text must be UTF-8: 22021 otherwise).
    pub(crate) fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Result<SqlArg, SqlError> {
        use rusqlite::types::ValueRef;
        Ok(match v {
            ValueRef::Null => SqlArg::Null,
            ValueRef::Integer(i) => SqlArg::Int(i),
            ValueRef::Real(f) => SqlArg::Real(f),
            ValueRef::Text(b) | ValueRef::Blob(b) => SqlArg::Text(
                std::str::from_utf8(b)
                    .map_err(|_| SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\""))?
                    .to_owned(),
            ),
        })
    }
}

/// The declared result type of a module's SQL function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlResultType {
    Int8,
    Float8,
    Text,
    Bool,
}

/// How a backend calls a module's SQL function.
pub type ModuleCall = std::rc::Rc<dyn Fn(&[SqlArg]) -> Result<SqlArg, SqlError>>;

/// A SQL function a loadable module defined: the backend makes it callable in every session.
#[derive(Clone)]
pub struct ModuleFunction {
    pub name: String,
    pub nargs: i32,
    pub result: SqlResultType,
    pub call: ModuleCall,
}

impl fmt::Debug for ModuleFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleFunction").field("name", &self.name).field("nargs", &self.nargs).finish()
    }
}

/// Everything a backend asks of the host. Blocking calls (the waits) block the calling backend only.
pub trait HostServices {
    /// The connection checks for a Unix-socket client: peer authentication of the OS user `uid`, then the role
    /// (exists, may log in) and the database (exists, accepts connections). Ok if the session may start.
    fn authenticate_peer(&self, uid: u32, user: &str, database: &str) -> Result<(), SqlError>;
    /// The stored SCRAM-SHA-256 verifier of a role, for password authentication (None: no such role, or no
    /// password).
    fn password_verifier(&self, _user: &str) -> Option<String> {
        None
    }
    /// After a successful password exchange: the role and database checks (as `authenticate_peer` makes them).
    fn authenticate_password(&self, user: &str, _database: &str) -> Result<(), SqlError> {
        Err(SqlError::fatal("28P01", format!("password authentication failed for user \"{user}\"")))
    }
    /// Register a dynamic worker. Ok(None) means no free slot (SQL: NULL).
    fn register(&self, req: &RegistrationRequest) -> Result<Option<Handle>, SqlError>;
    fn status(&self, handle: Handle) -> Result<Status, SqlError>;
    fn wait_for_startup(&self, handle: Handle) -> Result<Status, SqlError>;
    fn wait_for_shutdown(&self, handle: Handle) -> Result<Status, SqlError>;
    fn terminate(&self, handle: Handle) -> Result<(), SqlError>;
    /// [`HostServices::terminate`], then SIGKILL if the worker is still running `grace_ms` after.
    fn terminate_with_grace(&self, _handle: Handle, _grace_ms: u32) -> Result<(), SqlError> {
        Err(SqlError::error("0A000", "terminating with a grace period is not available here"))
    }
    /// Waits until the worker reports ready, stops, or `timeout` passes (`bgw_wait_for_ready`).
    fn wait_for_ready(
        &self,
        _h: Handle,
        _timeout: Option<std::time::Duration>,
    ) -> Result<crate::bgworker::handle::ReadyWait, SqlError> {
        Err(SqlError::error("0A000", "waiting for readiness is not available here"))
    }
    /// Lets a worker its restart policy gave up on run again (`bgw_reset`); false for a stale handle.
    fn reset(&self, _h: Handle) -> Result<bool, SqlError> {
        Err(SqlError::error("0A000", "resetting workers is not available here"))
    }
    /// Why the registration `h` names last ended a run (`bgw_exit_reason`); None when it cannot be read now.
    fn exit_reason(&self, _h: Handle) -> Result<Option<crate::bgworker::exit_reason::BgwExitInfo>, SqlError> {
        Err(SqlError::error("0A000", "exit reasons are not available here"))
    }
    fn type_by_pid(&self, pid: i32) -> Option<String>;
    fn backend_pid(&self) -> i32;
    /// pg_reload_conf(): signal the postmaster to reload.
    fn reload_conf(&self) -> Result<bool, SqlError>;
    /// pg_terminate_backend(pid): Ok(false) with a warning already reported when pid is not one of ours.
    fn terminate_backend(&self, pid: i32) -> Result<bool, SqlError>;
    /// pg_cancel_backend(pid): cancels the running query of that process (SIGINT), under the same rules as
    /// `terminate_backend`.
    fn cancel_backend(&self, _pid: i32) -> Result<bool, SqlError> {
        Err(SqlError::error("0A000", "pg_cancel_backend is not supported here"))
    }
    /// current_setting(name): error 42704 for an unknown name.
    fn current_setting(&self, name: &str) -> Result<String, SqlError>;
    fn postmaster_start_time(&self) -> SystemTime;
    fn activity(&self) -> Vec<ActivityRow>;
    fn workers(&self) -> Vec<WorkerRow>;
    /// The backend reports its own state (shown in pg_stat_activity).
    fn report_state(&self, state: &str, query: &str);
    fn report_application_name(&self, name: &str);
    /// A WARNING or NOTICE raised by a host call (for example by terminate_backend), to be sent to the client.
    fn take_notices(&self) -> Vec<SqlError>;
    /// Called between statements: true if the session must end (SIGTERM arrived); the backend then sends
    /// FATAL 57P01 "terminating connection due to administrator command" and exits.
    fn termination_requested(&self) -> bool;
    /// Called between statements: reload configuration if SIGHUP arrived.
    fn absorb_config_reload(&self);
    /// The file of the database the session connected to (after `authenticate_peer` succeeded); None runs the
    /// session on a private in-memory database.
    fn database_path(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// The connection string of the session's database when that database is on a PostgreSQL server: the
    /// session is then relayed to the server (see `relay`). None for an embedded database.
    fn remote_connection(&self) -> Option<String> {
        None
    }
    /// Whether sessions are read-only now (the host is a standby that has not been promoted).
    fn read_only(&self) -> bool {
        false
    }
    /// If the first statement of `sql` is a catalog command the host runs itself (CREATE/ALTER/DROP DATABASE and
    /// ROLE), its length in bytes.
    fn catalog_statement_len(&self, _sql: &str) -> Option<usize> {
        None
    }
    /// Runs a catalog command; returns its command tag. `in_transaction_block` lets the host refuse commands that
    /// cannot run inside one.
    fn catalog_command(&self, sql: &str, _in_transaction_block: bool) -> Result<String, SqlError> {
        Err(SqlError::error("0A000", format!("catalog commands are not supported here: {sql}")))
    }
    /// pg_notify(channel, payload): queue a notification until the transaction commits.
    fn notify(&self, _channel: &str, _payload: &str) -> Result<(), SqlError> {
        Err(SqlError::error("0A000", "notifications are not supported here"))
    }
    /// Before the session's transaction commits (PostgreSQL's PreCommit_Notify): reserves room in the
    /// notification queue for its notifications; Err (54000) fails the COMMIT and the transaction rolls back.
    fn pre_commit(&self) -> Result<(), SqlError> {
        Ok(())
    }
    /// The session's transaction ended (committed or not): publish or drop its queued notifications.
    fn transaction_ended(&self, _committed: bool) {}
    /// A savepoint of the session's transaction block was set, released or rolled back to: a rollback drops the
    /// notifications and LISTENs queued since, as PostgreSQL's subtransaction abort does.
    fn subtransaction(&self, _what: crate::sql::txn::SubXact) {}
    /// Notifications for this session's channels, as (sender pid, channel, payload), in commit order.
    fn take_notifications(&self) -> Vec<(i32, String, String)> {
        Vec::new()
    }
    /// A descriptor (the caller's own duplicate) that becomes readable when the host wants the idle session to look for notifications, and
    /// the calls around waiting on it.
    fn wakeup_fd(&self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    fn idle_wait(&self, _begin: bool) {}
    fn clear_wakeup(&self) {}
    /// SQL functions defined by loaded modules, registered in each session.
    fn module_functions(&self) -> Vec<ModuleFunction> {
        Vec::new()
    }
    /// A C function of CREATE FUNCTION ... LANGUAGE C: its library loaded (RTLD_NOW) and its version-1 symbol
    /// checked, as PostgreSQL's `load_external_function`; how to call it with arguments of `argtypes` (oids).
    fn c_function(
        &self,
        _library: &str,
        _symbol: &str,
        _argtypes: &[u32],
        _rettype: u32,
        _strict: bool,
    ) -> Result<ModuleCall, SqlError> {
        Err(SqlError::error("0A000", "C functions are not supported here"))
    }
}
