//! [`ShmemHost`]: the [`HostServices`] a backend's session calls, on shared memory, the catalog and signals.
//!
//! Runs in a backend process. Per-session state lives here (who the session is connected as, its notices, its
//! LISTEN state); everything shared is read from or written to shared memory at each call.

use super::catalog_commands::{in_standby, run_catalog_command};
use super::registration::{check_library_privilege, spec_from_request, sql_error};
use super::views::{self, time_of};
use crate::backend::host::{ActivityRow, Handle, HostServices, RegistrationRequest, SqlError, Status, WorkerRow};
use crate::dynamic;
use crate::shmem;
use crate::sync::Ordering;
use std::cell::RefCell;
use std::time::SystemTime;

/// Host services backed by shared memory.
pub struct ShmemHost {
    pub(super) notices: RefCell<Vec<SqlError>>,
    /// The connected database's file, once the connection checks passed.
    pub(super) database_path: RefCell<Option<std::path::PathBuf>>,
    /// The connection string of the session's database when it is on a PostgreSQL server (the session is relayed).
    pub(super) remote_connection: RefCell<Option<String>>,
    /// The database and role the session connected as.
    pub(super) connected_as: RefCell<Option<(String, String)>>,
    /// The connected database's oid (notifications are per database).
    pub(super) db_oid: std::cell::Cell<u32>,
    /// The connected role's oid: every permission check compares oids, never names.
    pub(super) role_oid: std::cell::Cell<u32>,
    /// LISTENed channels, NOTIFYs waiting for the transaction to commit, and where this session reads the queue.
    pub(super) listening: RefCell<std::collections::BTreeSet<String>>,
    pub(super) pending_notifies: RefCell<crate::shmem::notify::Pending>,
    /// LISTEN (true) / UNLISTEN (false; None is `*`) of the open transaction, applied when it commits.
    pub(super) pending_listens: RefCell<Vec<(Option<String>, bool)>>,
    /// How many notifications and LISTENs were pending at each savepoint of the open block, oldest first.
    pub(super) savepoint_marks: RefCell<Vec<(usize, usize)>>,
    pub(super) read_pos: std::cell::Cell<u64>,
    /// Whether the session's user is a superuser, as of the connection's start or the last privileged call
    /// ([`ShmemHost::is_superuser`] reads the catalog).
    pub(super) superuser: std::cell::Cell<bool>,
}

impl Default for ShmemHost {
    fn default() -> Self {
        ShmemHost {
            notices: RefCell::new(Vec::new()),
            database_path: RefCell::new(None),
            remote_connection: RefCell::new(None),
            connected_as: RefCell::new(None),
            db_oid: std::cell::Cell::new(0),
            role_oid: std::cell::Cell::new(0),
            listening: RefCell::new(std::collections::BTreeSet::new()),
            pending_notifies: RefCell::new(crate::shmem::notify::Pending::new()),
            pending_listens: RefCell::new(Vec::new()),
            savepoint_marks: RefCell::new(Vec::new()),
            read_pos: std::cell::Cell::new(0),
            superuser: std::cell::Cell::new(false),
        }
    }
}

impl ShmemHost {
    /// Whether the session's role is a superuser now, read from the catalog at each privileged call as
    /// PostgreSQL's superuser() reads its cache: a role altered or dropped while connected gains or loses the
    /// privilege at once. An unreadable catalog grants nothing. (Module SQL functions use the answer of the last
    /// such call, or of the connection's start: they are called per row.)
    pub(super) fn is_superuser(&self) -> bool {
        let oid = self.role_oid.get();
        if oid == 0 {
            return false;
        }
        let now = crate::catalog::Catalog::open(crate::process::data_dir())
            .ok()
            .and_then(|c| c.role_by_oid(oid).ok().flatten())
            .is_some_and(|r| r.superuser);
        self.superuser.set(now);
        crate::sql::sqlite::set_session_superuser(now);
        now
    }

    /// After authentication, in PostgreSQL's order: the role (exists, may log in), then the database (exists,
    /// accepts connections). On success the session is connected as them.
    fn admit(&self, user: &str, database: &str, tcp: bool) -> Result<(), SqlError> {
        let data_dir = crate::process::data_dir();
        let internal = |e: crate::catalog::CatalogError| SqlError::fatal("XX000", e.to_string());
        let catalog = crate::catalog::Catalog::open(data_dir).map_err(internal)?;
        let role = catalog
            .role(user)
            .map_err(internal)?
            .ok_or_else(|| SqlError::fatal("28000", format!("role \"{user}\" does not exist")))?;
        if !role.can_login {
            return Err(SqlError::fatal("28000", format!("role \"{user}\" is not permitted to log in")));
        }
        admit_session(tcp, role.superuser)?;
        let db = catalog
            .database(database)
            .map_err(internal)?
            .ok_or_else(|| SqlError::fatal("3D000", format!("database \"{database}\" does not exist")))?;
        if !db.allow_connections {
            return Err(SqlError::fatal(
                "55000",
                format!("database \"{database}\" is not currently accepting connections"),
            ));
        }
        // Publish the connection (by oid), then make sure no DROP DATABASE is under way or committed meanwhile:
        // the handshake of `ProcEntry::begin_drop`.
        if let Some(shm) = shmem::attached() {
            if let Some(p) = crate::process::my_proc() {
                let gone = || {
                    SqlError::fatal("3D000", format!("database \"{database}\" does not exist"))
                        .with_detail("It seems to have just been dropped.")
                };
                if !p.announce_connection(shm.procs(), db.oid, role.oid) {
                    return Err(gone());
                }
                if catalog.database_by_oid(db.oid).map_err(internal)?.is_none() {
                    p.clear_database();
                    return Err(gone());
                }
            }
        }
        match &db.engine {
            crate::catalog::DatabaseEngine::Sqlite => {
                *self.database_path.borrow_mut() = Some(crate::catalog::database_path(data_dir, db.oid));
            }
            crate::catalog::DatabaseEngine::Postgresql { connection } => {
                *self.remote_connection.borrow_mut() = Some(connection.clone());
            }
        }
        *self.connected_as.borrow_mut() = Some((db.name.clone(), role.name.clone()));
        self.db_oid.set(db.oid);
        self.role_oid.set(role.oid);
        self.superuser.set(role.superuser);
        crate::sql::sqlite::set_session_superuser(role.superuser);
        // As PostgreSQL's backends: "postgres: user database [local]".
        crate::sys::proctitle::set(&format!("bgw: {user} {database} [local]"));
        Ok(())
    }

    /// pg_terminate_backend (SIGTERM) and pg_cancel_backend (SIGINT): a process of this host, of the caller's own
    /// role unless the caller is a superuser.
    fn signal_backend(&self, pid: i32, sig: libc::c_int) -> Result<bool, SqlError> {
        let ours = shmem::attached()
            .map(|shm| shm.procs().iter().any(|p| p.pid.load(Ordering::Acquire) == pid && pid > 0))
            .unwrap_or(false);
        if !ours {
            self.notices
                .borrow_mut()
                .push(SqlError::warning("01000", format!("PID {pid} is not a PostgreSQL backend process")));
            return Ok(false);
        }
        if !self.is_superuser() {
            // A non-superuser may only signal processes of its own role (compared by oid).
            let mine = self.role_oid.get();
            let theirs = shmem::attached()
                .and_then(|shm| shm.procs().iter().filter_map(|p| p.snapshot()).find(|s| s.pid == pid))
                .map(|s| s.role_oid)
                .unwrap_or(0);
            if mine == 0 || theirs != mine {
                let (message, detail) = if sig == libc::SIGINT {
                    ("permission denied to cancel query", "Only superusers may cancel queries of other roles.")
                } else {
                    (
                        "permission denied to terminate process",
                        "Only superusers may terminate processes of other roles.",
                    )
                };
                return Err(SqlError::error("42501", message).with_detail(detail));
            }
        }
        Ok(crate::sys::signals::send(pid, sig))
    }
}

impl HostServices for ShmemHost {
    fn authenticate_peer(&self, uid: u32, user: &str, database: &str) -> Result<(), SqlError> {
        // Peer authentication: the connecting OS user may connect as the role of the same name.
        let os_user = crate::sys::user::name_of_uid(uid);
        if os_user.as_deref() != Some(user) {
            crate::elog::Report::new(
                crate::elog::Level::Log,
                format!("Peer authentication failed for user \"{user}\""),
            )
            .detail(format!(
                "Provided user name ({user}) and authenticated user name ({}) do not match.",
                os_user.as_deref().unwrap_or("unknown")
            ))
            .emit();
            return Err(SqlError::fatal("28000", format!("Peer authentication failed for user \"{user}\"")));
        }
        self.admit(user, database, false)
    }

    fn password_verifier(&self, user: &str) -> Option<String> {
        crate::catalog::Catalog::open(crate::process::data_dir()).ok()?.password_verifier(user).ok()?
    }

    fn authenticate_password(&self, user: &str, database: &str) -> Result<(), SqlError> {
        self.admit(user, database, true)
    }

    fn database_path(&self) -> Option<std::path::PathBuf> {
        self.database_path.borrow().clone()
    }

    fn remote_connection(&self) -> Option<String> {
        self.remote_connection.borrow().clone()
    }

    fn read_only(&self) -> bool {
        in_standby()
    }

    fn catalog_statement_len(&self, sql: &str) -> Option<usize> {
        crate::catalog::ddl::first_catalog_statement(sql).or_else(|| {
            // A catalog command without a terminating semicolon is the whole rest.
            crate::catalog::ddl::is_catalog_command(sql).then_some(sql.len())
        })
    }

    fn catalog_command(&self, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
        run_catalog_command(self, sql, in_transaction_block)
    }

    fn register(&self, req: &RegistrationRequest) -> Result<Option<Handle>, SqlError> {
        let superuser = self.is_superuser();
        check_library_privilege(&req.library, superuser)?;
        if !superuser {
            return Err(SqlError::error("42501", "permission denied to register background workers")
                .with_hint("Only superusers may register workers with an arbitrary library and function."));
        }
        let spec = spec_from_request(req);
        match req.wait_slot {
            Some(timeout) => dynamic::register_dynamic_background_worker_wait(
                &spec,
                crate::modules::entry::check_entry,
                Some(timeout),
            ),
            None => dynamic::register_dynamic_background_worker(&spec, crate::modules::entry::check_entry),
        }
        .map_err(sql_error)
    }

    fn status(&self, h: Handle) -> Result<Status, SqlError> {
        dynamic::get_background_worker_pid(h).map_err(sql_error)
    }

    fn wait_for_startup(&self, h: Handle) -> Result<Status, SqlError> {
        dynamic::wait_for_background_worker_startup(h).map_err(sql_error)
    }

    fn wait_for_shutdown(&self, h: Handle) -> Result<Status, SqlError> {
        dynamic::wait_for_background_worker_shutdown(h).map_err(sql_error)
    }

    fn terminate(&self, h: Handle) -> Result<(), SqlError> {
        if !self.is_superuser() {
            return Err(SqlError::error("42501", "permission denied to terminate background workers")
                .with_hint("Only superusers may terminate background workers."));
        }
        dynamic::terminate_background_worker(h).map_err(sql_error)
    }

    fn terminate_with_grace(&self, h: Handle, grace_ms: u32) -> Result<(), SqlError> {
        if !self.is_superuser() {
            return Err(SqlError::error("42501", "permission denied to terminate background workers")
                .with_hint("Only superusers may terminate background workers."));
        }
        dynamic::terminate_background_worker_with_grace(h, grace_ms).map_err(sql_error)
    }

    fn wait_for_ready(
        &self,
        h: Handle,
        timeout: Option<std::time::Duration>,
    ) -> Result<crate::bgworker::handle::ReadyWait, SqlError> {
        dynamic::wait_for_background_worker_ready(h, timeout).map_err(sql_error)
    }

    fn reset(&self, h: Handle) -> Result<bool, SqlError> {
        if !self.is_superuser() {
            return Err(SqlError::error("42501", "permission denied to reset background workers")
                .with_hint("Only superusers may reset background workers."));
        }
        dynamic::reset_background_worker(h).map_err(sql_error)
    }

    fn exit_reason(&self, h: Handle) -> Result<Option<crate::bgworker::exit_reason::BgwExitInfo>, SqlError> {
        dynamic::get_background_worker_exit_reason(h).map_err(sql_error)
    }

    fn type_by_pid(&self, pid: i32) -> Option<String> {
        dynamic::get_background_worker_type_by_pid(pid)
    }

    fn backend_pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn reload_conf(&self) -> Result<bool, SqlError> {
        if !self.is_superuser() {
            // As in PostgreSQL, where EXECUTE on pg_reload_conf is revoked from PUBLIC.
            return Err(SqlError::error("42501", "permission denied for function pg_reload_conf"));
        }
        let shm = shmem::attached().ok_or_else(|| SqlError::error("55000", "not attached to shared memory"))?;
        Ok(crate::sys::signals::send(shm.header().postmaster_pid.load(Ordering::Relaxed), libc::SIGHUP))
    }

    fn terminate_backend(&self, pid: i32) -> Result<bool, SqlError> {
        self.signal_backend(pid, libc::SIGTERM)
    }

    fn cancel_backend(&self, pid: i32) -> Result<bool, SqlError> {
        self.signal_backend(pid, libc::SIGINT)
    }

    fn current_setting(&self, name: &str) -> Result<String, SqlError> {
        // PostgreSQL's read-only is_superuser: of the role the session is connected as.
        if name == "is_superuser" {
            return Ok(if self.is_superuser() { "on" } else { "off" }.to_string());
        }
        let superuser_only =
            crate::process::settings().as_ref().and_then(|s| s.def(name)).is_some_and(|d| d.superuser_only);
        if superuser_only && !self.is_superuser() {
            return Err(SqlError::error(
                "42501",
                format!("must be superuser or have privileges of pg_read_all_settings to examine \"{name}\""),
            ));
        }
        if let Some(shown) = crate::modules::params::shown_by_hook(name) {
            return Ok(shown);
        }
        crate::process::setting_text(name)
            .ok_or_else(|| SqlError::error("42704", format!("unrecognized configuration parameter \"{name}\"")))
    }

    fn postmaster_start_time(&self) -> SystemTime {
        time_of(shmem::attached().map(|s| s.header().start_time_us.load(Ordering::Relaxed)).unwrap_or(0))
    }

    fn activity(&self) -> Vec<ActivityRow> {
        views::activity(self.role_oid.get(), self.is_superuser())
    }

    fn workers(&self) -> Vec<WorkerRow> {
        views::workers()
    }

    fn report_state(&self, state: &str, query: &str) {
        if let Some(p) = crate::process::my_proc() {
            p.report(None, Some(state), Some(query));
        }
    }

    fn report_application_name(&self, name: &str) {
        if let Some(p) = crate::process::my_proc() {
            p.report(Some(name), None, None);
        }
    }

    fn take_notices(&self) -> Vec<SqlError> {
        let mut notices = std::mem::take(&mut *self.notices.borrow_mut());
        // What modules' SQL functions reported with ereport(INFO | NOTICE | WARNING).
        notices.extend(crate::modules::sqlfn::take_client_notices());
        notices
    }

    fn termination_requested(&self) -> bool {
        crate::process::termination_pending()
    }

    fn absorb_config_reload(&self) {
        if crate::process::take_reload_request() {
            crate::process::reload_config();
        }
    }

    fn notify(&self, channel: &str, payload: &str) -> Result<(), SqlError> {
        self.queue_notify(channel, payload)
    }

    fn pre_commit(&self) -> Result<(), SqlError> {
        self.pre_commit_notify()
    }

    fn transaction_ended(&self, committed: bool) {
        self.end_notify_transaction(committed);
    }

    fn subtransaction(&self, what: crate::sql::txn::SubXact) {
        self.notify_subtransaction(what);
    }

    fn take_notifications(&self) -> Vec<(i32, String, String)> {
        let channels = self.listening.borrow();
        if channels.is_empty() {
            return Vec::new();
        }
        let Some(shm) = shmem::attached() else { return Vec::new() };
        // Positions overwritten before this session read them held other databases' entries only (writers
        // never overwrite an entry this session still needs: its position is in its process entry).
        let (got, pos, _skipped) = shm.notify_queue().read(self.read_pos.get(), self.db_oid.get());
        self.read_pos.set(pos);
        if let Some(p) = crate::process::my_proc() {
            p.set_notify_pos(pos);
        }
        got.into_iter().filter(|n| channels.contains(&n.channel)).map(|n| (n.pid, n.channel, n.payload)).collect()
    }

    fn wakeup_fd(&self) -> Option<std::os::fd::OwnedFd> {
        crate::latch::latch_fd_owned()
    }

    fn idle_wait(&self, begin: bool) {
        if begin {
            crate::latch::begin_external_wait();
        } else {
            crate::latch::end_external_wait();
        }
    }

    fn clear_wakeup(&self) {
        crate::latch::clear();
    }

    fn module_functions(&self) -> Vec<crate::backend::host::ModuleFunction> {
        crate::modules::sqlfn::module_functions(self.superuser.get())
    }

    fn c_function(
        &self,
        library: &str,
        symbol: &str,
        argtypes: &[u32],
        rettype: u32,
        strict: bool,
    ) -> Result<crate::backend::host::ModuleCall, SqlError> {
        crate::modules::sqlfn::c_function(library, symbol, argtypes, rettype, strict)
    }
}

/// The connection limits, once the role is known (PostgreSQL checks them in InitPostgres, after authentication):
/// at most `max_connections` sessions, the last `superuser_reserved_connections` of them for superusers only.
fn admit_session(tcp: bool, superuser: bool) -> Result<(), SqlError> {
    use crate::shmem::procs::Refused;
    let Some(shm) = crate::shmem::attached() else { return Ok(()) };
    let max = crate::process::setting_int("max_connections").clamp(0, u32::MAX as i64) as u32;
    let reserved = crate::process::setting_int("superuser_reserved_connections").clamp(0, u32::MAX as i64) as u32;
    match shm.header().sessions.admit(crate::process::my_proc(), tcp, superuser, max, reserved) {
        Ok(()) => Ok(()),
        Err(Refused::Full) => Err(SqlError::fatal("53300", "sorry, too many clients already")),
        Err(Refused::Reserved) => Err(SqlError::fatal(
            "53300",
            "remaining connection slots are reserved for non-replication superuser connections",
        )),
    }
}
