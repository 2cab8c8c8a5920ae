//! The real [`HostServices`] for client backends, and the backend process's entry point.
//!
//! Runs in a backend process, forked from the postmaster for one client connection. Everything a backend asks of
//! the host goes through shared memory (the slot array, the process entries, the published settings) or through
//! signals to processes the host owns.

use crate::backend::host::{
    ActivityRow, HandleStatus, HostServices, RegistrationRequest, SqlError, StartPhase, WorkerHandle, WorkerRow,
};
use crate::bgworker::dynamic::{self, Handle, Status};
use crate::bgworker::types::{
    flags_text, RegistrationError, Restart, StartTime, WorkerSpec, BGWORKER_BACKEND_DATABASE_CONNECTION,
    BGWORKER_CLASS_PARALLEL, BGWORKER_SHMEM_ACCESS,
};
use crate::shmem::procs::ProcKind;
use crate::shmem::{self, WorkerState};
use crate::sync::Ordering;
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A backend process's main function: serve one client, then exit.
pub fn backend_main(
    stream: crate::backend::ClientStream,
    proc_no: Option<u32>,
    death_read: RawFd,
    reject: Option<SqlError>,
) -> ! {
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

/// Host services backed by shared memory.
pub struct ShmemHost {
    notices: RefCell<Vec<SqlError>>,
    /// The connected database's file, once the connection checks passed.
    database_path: RefCell<Option<std::path::PathBuf>>,
    /// The database and role the session connected as.
    connected_as: RefCell<Option<(String, String)>>,
    /// The connected database's oid (notifications are per database).
    db_oid: std::cell::Cell<u32>,
    /// LISTENed channels, NOTIFYs waiting for the transaction to commit, and where this session reads the queue.
    listening: RefCell<std::collections::BTreeSet<String>>,
    pending_notifies: RefCell<Vec<(String, String)>>,
    /// LISTEN (true) / UNLISTEN (false; None is `*`) of the open transaction, applied when it commits.
    pending_listens: RefCell<Vec<(Option<String>, bool)>>,
    read_pos: std::cell::Cell<u64>,
    /// Whether the session's user is a superuser, as of the connection's start or the last privileged call
    /// ([`ShmemHost::is_superuser`] reads the catalog).
    superuser: std::cell::Cell<bool>,
}

impl Default for ShmemHost {
    fn default() -> Self {
        ShmemHost {
            notices: RefCell::new(Vec::new()),
            database_path: RefCell::new(None),
            connected_as: RefCell::new(None),
            db_oid: std::cell::Cell::new(0),
            listening: RefCell::new(std::collections::BTreeSet::new()),
            pending_notifies: RefCell::new(Vec::new()),
            pending_listens: RefCell::new(Vec::new()),
            read_pos: std::cell::Cell::new(0),
            superuser: std::cell::Cell::new(false),
        }
    }
}

/// Only superusers may name a library by path; others get what `dynamic_library_path` finds.
pub fn check_library_privilege(library: &str, superuser: bool) -> Result<(), SqlError> {
    if library.contains('/') && !superuser {
        return Err(SqlError::error("42501", "permission denied to load a library by path")
            .with_detail(format!("Library \"{library}\" names a file; only superusers may do that."))
            .with_hint("Give a library name found on dynamic_library_path."));
    }
    Ok(())
}

fn sql_error(e: RegistrationError) -> SqlError {
    let mut s = SqlError::error(e.sqlstate, e.message);
    s.detail = e.detail;
    s.hint = e.hint;
    s
}

fn to_status(s: Status) -> HandleStatus {
    match s {
        Status::NotYetStarted => HandleStatus::NotYetStarted,
        Status::Started(pid) => HandleStatus::Started(pid),
        Status::Stopped => HandleStatus::Stopped,
        Status::PostmasterDied => HandleStatus::PostmasterDied,
    }
}

fn handle(h: WorkerHandle) -> Handle {
    Handle { slot: h.slot, generation: h.generation }
}

fn time_of(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

/// Builds a spec from a SQL registration request (the defaults SQL functions promise).
pub fn spec_from_request(req: &RegistrationRequest) -> WorkerSpec {
    let name = if req.name.is_empty() { req.function.clone() } else { req.name.clone() };
    let mut spec = WorkerSpec::new(&name, &req.library, &req.function);
    spec.worker_type = req.worker_type.clone();
    spec.main_arg = req.main_arg as usize;
    spec.restart = match req.restart_seconds {
        None => Restart::Never,
        Some(s) => Restart::After { seconds: s.clamp(i32::MIN as i64 + 1, i32::MAX as i64) as i32 },
    };
    let mut flags = 0;
    if req.flags.shmem {
        flags |= BGWORKER_SHMEM_ACCESS;
    }
    if req.flags.database {
        flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
    }
    if req.flags.parallel {
        flags |= BGWORKER_CLASS_PARALLEL;
    }
    spec.flags = flags;
    spec.start_time = match req.start {
        StartPhase::PostmasterStart => StartTime::PostmasterStart,
        StartPhase::ConsistentState => StartTime::ConsistentState,
        StartPhase::RecoveryFinished => StartTime::RecoveryFinished,
    };
    spec.extra = req.extra.clone();
    spec.notify_pid = if req.notify { std::process::id() as i32 } else { 0 };
    spec
}

impl ShmemHost {
    /// NOTIFY / pg_notify: checks the channel and payload, and queues the notification until the transaction
    /// commits.
    fn queue_notify(&self, channel: &str, payload: &str) -> Result<(), SqlError> {
        crate::shmem::notify::add_pending(&mut self.pending_notifies.borrow_mut(), channel, payload)
            .map_err(|m| SqlError::error("22023", m))
    }

    /// LISTEN / UNLISTEN: take effect when the transaction commits (at once for a statement of its own), as in
    /// PostgreSQL.
    fn queue_listen(&self, channel: Option<&str>, on: bool) {
        self.pending_listens.borrow_mut().push((channel.map(str::to_string), on));
    }

    /// Applies a committed LISTEN / UNLISTEN to this session's channels (the first LISTEN starts reading the
    /// queue where it is now).
    fn apply_listen(&self, channel: Option<&str>, on: bool) {
        let mut channels = self.listening.borrow_mut();
        if on {
            if channels.is_empty() {
                if let Some(shm) = shmem::attached() {
                    self.read_pos.set(shm.notify_queue().head());
                }
            }
            channels.insert(channel.unwrap_or_default().to_string());
        } else {
            match channel {
                Some(c) => {
                    channels.remove(c);
                }
                None => channels.clear(),
            }
        }
        if let Some(p) = crate::process::my_proc() {
            p.listening.store(!channels.is_empty(), Ordering::Release);
        }
    }

    /// Whether the session's role is a superuser now, read from the catalog at each privileged call as
    /// PostgreSQL's superuser() reads its cache: a role altered or dropped while connected gains or loses the
    /// privilege at once. An unreadable catalog grants nothing. (Module SQL functions use the answer of the last
    /// such call, or of the connection's start: they are called per row.)
    fn is_superuser(&self) -> bool {
        let Some((_, user)) = self.connected_as.borrow().clone() else { return false };
        let now = crate::catalog::Catalog::open(crate::process::data_dir())
            .ok()
            .and_then(|c| c.role(&user).ok().flatten())
            .is_some_and(|r| r.superuser);
        self.superuser.set(now);
        now
    }

    /// After authentication, in PostgreSQL's order: the role (exists, may log in), then the database (exists,
    /// accepts connections). On success the session is connected as them.
    fn admit(&self, user: &str, database: &str) -> Result<(), SqlError> {
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
        *self.database_path.borrow_mut() = Some(crate::catalog::database_path(data_dir, db.oid));
        *self.connected_as.borrow_mut() = Some((db.name.clone(), role.name.clone()));
        self.db_oid.set(db.oid);
        self.superuser.set(role.superuser);
        if let Some(p) = crate::process::my_proc() {
            p.report_connection(&db.name, &role.name);
        }
        // As PostgreSQL's backends: "postgres: user database [local]".
        crate::sys::proctitle::set(&format!("bgw: {user} {database} [local]"));
        Ok(())
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
        self.admit(user, database)
    }

    fn password_verifier(&self, user: &str) -> Option<String> {
        crate::catalog::Catalog::open(crate::process::data_dir()).ok()?.password_verifier(user).ok()?
    }

    fn authenticate_password(&self, user: &str, database: &str) -> Result<(), SqlError> {
        self.admit(user, database)
    }

    fn database_path(&self) -> Option<std::path::PathBuf> {
        self.database_path.borrow().clone()
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

    fn register(&self, req: &RegistrationRequest) -> Result<Option<WorkerHandle>, SqlError> {
        let superuser = self.is_superuser();
        check_library_privilege(&req.library, superuser)?;
        if !superuser {
            return Err(SqlError::error("42501", "permission denied to register background workers")
                .with_hint("Only superusers may register workers with an arbitrary library and function."));
        }
        let spec = spec_from_request(req);
        dynamic::register_dynamic_background_worker(&spec)
            .map(|h| h.map(|h| WorkerHandle { slot: h.slot, generation: h.generation }))
            .map_err(sql_error)
    }

    fn status(&self, h: WorkerHandle) -> Result<HandleStatus, SqlError> {
        dynamic::get_background_worker_pid(handle(h)).map(to_status).map_err(sql_error)
    }

    fn wait_for_startup(&self, h: WorkerHandle) -> Result<HandleStatus, SqlError> {
        dynamic::wait_for_background_worker_startup(handle(h)).map(to_status).map_err(sql_error)
    }

    fn wait_for_shutdown(&self, h: WorkerHandle) -> Result<HandleStatus, SqlError> {
        dynamic::wait_for_background_worker_shutdown(handle(h)).map(to_status).map_err(sql_error)
    }

    fn terminate(&self, h: WorkerHandle) -> Result<(), SqlError> {
        if !self.is_superuser() {
            return Err(SqlError::error("42501", "permission denied to terminate background workers")
                .with_hint("Only superusers may terminate background workers."));
        }
        dynamic::terminate_background_worker(handle(h)).map_err(sql_error)
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
            // A non-superuser may only end processes of its own role.
            let mine = self.connected_as.borrow().as_ref().map(|(_, u)| u.clone()).unwrap_or_default();
            let theirs = shmem::attached()
                .and_then(|shm| shm.procs().iter().filter_map(|p| p.snapshot()).find(|s| s.pid == pid))
                .map(|s| s.user)
                .unwrap_or_default();
            if theirs != mine {
                return Err(SqlError::error("42501", "permission denied to terminate process")
                    .with_detail("Only superusers may terminate processes of other roles."));
            }
        }
        Ok(crate::sys::signals::send(pid, libc::SIGTERM))
    }

    fn current_setting(&self, name: &str) -> Result<String, SqlError> {
        crate::process::setting_text(name)
            .ok_or_else(|| SqlError::error("42704", format!("unrecognized configuration parameter \"{name}\"")))
    }

    fn postmaster_start_time(&self) -> SystemTime {
        time_of(shmem::attached().map(|s| s.header().start_time_us.load(Ordering::Relaxed)).unwrap_or(0))
    }

    fn activity(&self) -> Vec<ActivityRow> {
        let Some(shm) = shmem::attached() else { return Vec::new() };
        // As in PostgreSQL, only superusers see what other roles' sessions (and workers) are running.
        let me = self.connected_as.borrow().as_ref().map(|(_, u)| u.clone());
        let sees_all = self.is_superuser();
        shm.procs()
            .iter()
            .filter_map(|p| p.snapshot())
            .map(|s| {
                let backend_type = match s.kind {
                    ProcKind::Backend => "client backend".to_string(),
                    ProcKind::Startup => "startup".to_string(),
                    ProcKind::Spare => "spare worker".to_string(),
                    ProcKind::Worker => shm
                        .slots()
                        .copy_locked(s.worker_slot.max(0) as u32)
                        .map(|(c, _)| WorkerSpec::sanitized_from(&c.payload).worker_type)
                        .unwrap_or_else(|| "background worker".to_string()),
                    ProcKind::Free => "unknown".to_string(),
                };
                let query = if sees_all || me.as_deref() == Some(s.user.as_str()) {
                    s.query
                } else {
                    "<insufficient privilege>".to_string()
                };
                ActivityRow {
                    pid: s.pid,
                    backend_type,
                    backend_start: time_of(s.start_us),
                    datname: (!s.database.is_empty()).then_some(s.database),
                    usename: (!s.user.is_empty()).then_some(s.user),
                    application_name: s.application_name,
                    state: s.state,
                    query,
                }
            })
            .collect()
    }

    fn workers(&self) -> Vec<WorkerRow> {
        let Some(shm) = shmem::attached() else { return Vec::new() };
        let slots = shm.slots();
        let status = shm.slot_status();
        let mut rows = Vec::new();
        for i in 0..slots.len() as u32 {
            let Some((copy, pid)) = slots.copy_locked(i) else { continue };
            let spec = WorkerSpec::sanitized_from(&copy.payload);
            let st = &status[i as usize];
            let mut state = WorkerState::from_u32(st.state.load(Ordering::Relaxed));
            if state == WorkerState::Free {
                state = WorkerState::Registered;
            }
            let last = st.last_exit.load(Ordering::Relaxed);
            let notify = st.notify_pid.load(Ordering::Relaxed);
            rows.push(WorkerRow {
                slot: i as i64,
                generation: copy.generation as i64,
                name: spec.name.clone(),
                worker_type: spec.worker_type.clone(),
                library: spec.library.clone(),
                function: spec.function.clone(),
                main_arg: spec.main_arg as i64,
                flags: flags_text(spec.flags),
                start_phase: spec.start_time.as_str().to_string(),
                restart_seconds: match spec.restart {
                    Restart::Never => None,
                    Restart::After { seconds } => Some(seconds as i64),
                },
                pid: (pid > 0).then_some(pid),
                state: if copy.terminate && pid > 0 { "terminating".into() } else { state.as_str().into() },
                notify_pid: (notify > 0).then_some(notify),
                restart_count: st.restart_count.load(Ordering::Relaxed) as i64,
                last_exit_code: (last != i32::MIN).then_some(last),
            });
        }
        for name in shm.header().dropped() {
            rows.push(WorkerRow {
                slot: -1,
                generation: 0,
                name,
                worker_type: String::new(),
                library: String::new(),
                function: String::new(),
                main_arg: 0,
                flags: String::new(),
                start_phase: String::new(),
                restart_seconds: None,
                pid: None,
                state: "dropped".into(),
                notify_pid: None,
                restart_count: 0,
                last_exit_code: None,
            });
        }
        rows
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
        std::mem::take(&mut self.notices.borrow_mut())
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

    fn transaction_ended(&self, committed: bool) {
        let listens = std::mem::take(&mut *self.pending_listens.borrow_mut());
        let pending = std::mem::take(&mut *self.pending_notifies.borrow_mut());
        if committed {
            // Listening first: a session hears what its own transaction sends on a channel it just listened to.
            for (channel, on) in &listens {
                self.apply_listen(channel.as_deref(), *on);
            }
            crate::shmem::notify::send(self.db_oid.get(), &pending);
        }
    }

    fn take_notifications(&self) -> Vec<(i32, String, String)> {
        let channels = self.listening.borrow();
        if channels.is_empty() {
            return Vec::new();
        }
        let Some(shm) = shmem::attached() else { return Vec::new() };
        let (got, pos, lost) = shm.notify_queue().read(self.read_pos.get(), self.db_oid.get());
        self.read_pos.set(pos);
        if lost > 0 {
            self.notices.borrow_mut().push(SqlError::warning(
                "01000",
                format!("{lost} notifications were lost because this session fell too far behind"),
            ));
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
}

fn notice(message: String) -> SqlError {
    let mut e = SqlError::warning("00000", message);
    e.severity = crate::backend::host::Severity::Notice;
    e
}

/// Other live processes connected to database `name` (this one excluded).
fn sessions_using(name: &str) -> usize {
    let me = std::process::id() as i32;
    shmem::attached()
        .map(|shm| {
            shm.procs().iter().filter_map(|p| p.snapshot()).filter(|s| s.pid != me && s.database == name).count()
        })
        .unwrap_or(0)
}

/// CREATE/ALTER/DROP DATABASE and ROLE: privileges, PostgreSQL's checks and messages, then the catalog.
fn run_catalog_command(host: &ShmemHost, sql: &str, in_transaction_block: bool) -> Result<String, SqlError> {
    use crate::catalog::ddl::{parse, CatalogCommand};
    let cmd = parse(sql).map_err(|m| SqlError::error("42601", m))?;
    if in_standby() {
        return Err(SqlError::error("25006", format!("cannot execute {} in a read-only transaction", cmd.tag())));
    }
    if in_transaction_block
        && matches!(cmd, CatalogCommand::CreateDatabase { .. } | CatalogCommand::DropDatabase { .. })
    {
        return Err(SqlError::error("25001", format!("{} cannot run inside a transaction block", cmd.tag())));
    }
    match &cmd {
        CatalogCommand::Listen(channel) => {
            if channel.is_empty() || channel.len() >= crate::shmem::notify::CHANNEL_LEN {
                return Err(SqlError::error("22023", "invalid channel name"));
            }
            host.queue_listen(Some(channel), true);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::Unlisten(channel) => {
            host.queue_listen(channel.as_deref(), false);
            return Ok(cmd.tag().to_string());
        }
        CatalogCommand::Notify { channel, payload } => {
            host.queue_notify(channel, payload)?;
            return Ok(cmd.tag().to_string());
        }
        _ => {}
    }
    let data_dir = crate::process::data_dir();
    let internal = |e: crate::catalog::CatalogError| SqlError::error("XX000", e.to_string());
    let mut cat = crate::catalog::Catalog::open(data_dir).map_err(internal)?;
    // The command's checks and changes are one transaction: a failure part-way (DROP ROLE a, missing) changes
    // nothing, and concurrent commands cannot pick the same new oid.
    cat.begin().map_err(internal)?;
    let superuser = host.is_superuser();
    let (my_db, my_user) = host.connected_as.borrow().clone().unwrap_or_default();
    let denied = |m: String| SqlError::error("42501", m);
    match &cmd {
        CatalogCommand::CreateDatabase { name, allow_connections } => {
            if !superuser {
                return Err(denied("permission denied to create database".into()));
            }
            if cat.database(name).map_err(internal)?.is_some() {
                return Err(SqlError::error("42P04", format!("database \"{name}\" already exists")));
            }
            cat.create_database(data_dir, name, *allow_connections).map_err(internal)?;
        }
        CatalogCommand::AlterDatabase { name, allow_connections } => {
            if !superuser {
                return Err(denied(format!("must be owner of database {name}")));
            }
            if !cat.set_allow_connections(name, *allow_connections).map_err(internal)? {
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            }
        }
        CatalogCommand::DropDatabase { name, if_exists } => {
            if !superuser {
                return Err(denied(format!("must be owner of database {name}")));
            }
            let Some(db) = cat.database(name).map_err(internal)? else {
                if *if_exists {
                    host.notices.borrow_mut().push(notice(format!("database \"{name}\" does not exist, skipping")));
                    return Ok(cmd.tag().to_string());
                }
                return Err(SqlError::error("3D000", format!("database \"{name}\" does not exist")));
            };
            if *name == my_db {
                return Err(SqlError::error("55006", "cannot drop the currently open database"));
            }
            let others = sessions_using(name);
            if others > 0 {
                let detail = if others == 1 {
                    "There is 1 other session using the database.".to_string()
                } else {
                    format!("There are {others} other sessions using the database.")
                };
                return Err(SqlError::error("55006", format!("database \"{name}\" is being accessed by other users"))
                    .with_detail(detail));
            }
            cat.drop_database(data_dir, &db).map_err(internal)?;
        }
        CatalogCommand::CreateRole { name, options } => {
            if !superuser {
                return Err(denied("permission denied to create role".into()));
            }
            if cat.role(name).map_err(internal)?.is_some() {
                return Err(SqlError::error("42710", format!("role \"{name}\" already exists")));
            }
            let verifier = options.password.clone().flatten().map(|p| crate::catalog::scram::verifier(&p));
            cat.create_role(
                name,
                options.superuser.unwrap_or(false),
                options.login.unwrap_or(false),
                verifier.as_deref(),
            )
            .map_err(internal)?;
        }
        CatalogCommand::AlterRole { name, options } => {
            if !superuser {
                return Err(denied("permission denied to alter role".into()));
            }
            let role = cat
                .role(name)
                .map_err(internal)?
                .ok_or_else(|| SqlError::error("42704", format!("role \"{name}\" does not exist")))?;
            let verifier = options.password.clone().map(|p| p.map(|p| crate::catalog::scram::verifier(&p)));
            cat.alter_role(role.oid, options.superuser, options.login, verifier.as_ref().map(|v| v.as_deref()))
                .map_err(internal)?;
        }
        CatalogCommand::DropRole { names, if_exists } => {
            if !superuser {
                return Err(denied("permission denied to drop role".into()));
            }
            for name in names {
                let Some(role) = cat.role(name).map_err(internal)? else {
                    if *if_exists {
                        host.notices.borrow_mut().push(notice(format!("role \"{name}\" does not exist, skipping")));
                        continue;
                    }
                    return Err(SqlError::error("42704", format!("role \"{name}\" does not exist")));
                };
                if *name == my_user {
                    return Err(SqlError::error("55006", "current user cannot be dropped"));
                }
                if role.oid == crate::catalog::BOOTSTRAP_SUPERUSER_OID {
                    return Err(SqlError::error(
                        "2BP01",
                        format!("cannot drop role {name} because it is required by the database system"),
                    ));
                }
                cat.drop_role(role.oid).map_err(internal)?;
            }
        }
        CatalogCommand::Listen(_) | CatalogCommand::Unlisten(_) | CatalogCommand::Notify { .. } => {}
    }
    cat.commit().map_err(internal)?;
    Ok(cmd.tag().to_string())
}

/// Whether the host is a standby that has not been promoted (sessions are then read-only).
fn in_standby() -> bool {
    shmem::attached()
        .is_some_and(|s| s.header().phase.load(Ordering::Acquire) == crate::shmem::Phase::HotStandby as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_superusers_name_libraries_by_path() {
        assert!(check_library_privilege("/tmp/evil.so", true).is_ok());
        assert!(check_library_privilege("c_hello", false).is_ok());
        let e = check_library_privilege("/tmp/evil.so", false).unwrap_err();
        assert_eq!(e.code, "42501");
        assert_eq!(e.message, "permission denied to load a library by path");
        // A session starts as no one until authentication says otherwise.
        let host = ShmemHost::default();
        assert!(host.authenticate_peer(u32::MAX - 1, "stranger", "postgres").is_err());
        assert!(!host.superuser.get());
    }
}
