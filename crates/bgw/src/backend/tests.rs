//! End-to-end tests of the backend: a fake host, a Unix-socket server that runs [`serve`] on a thread per
//! connection (the real host forks; each `serve` builds its own current-thread runtime, so threads are fine
//! here), driven by the real `psql` and by a small raw protocol client.
//!
//! Uses only the backend itself, std, libc and tempfile.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{serve, ActivityRow, Handle, HostServices, RegistrationRequest, SqlError, Status, WorkerRow};

/// Worker slots in the fake host.
const SLOTS: usize = 8;
/// The first backend pid the fake host hands out.
const FIRST_PID: i32 = 4242;
/// The fake postmaster's start time, and how `pg_postmaster_start_time()` prints it.
const START_MICROS: u64 = 1_700_000_000_123_456;
const START_TEXT: &str = "2023-11-14 22:13:20.123456+00";

/// One worker registered with the fake host. What happens to it depends on its function name:
/// `fails_to_start` stops before starting, `postmaster_gone` reports a dead postmaster, `never_starts` stays
/// not-yet-started; anything else starts at once with pid 20000 + slot.
struct FakeWorker {
    handle: Handle,
    req: RegistrationRequest,
    status: Status,
    state: String,
    notify_pid: Option<i32>,
}

#[derive(Default)]
struct FakeSession {
    application_name: String,
    state: String,
    query: String,
}

/// The fake host's state, shared by all sessions of one test server.
#[derive(Default)]
pub(super) struct Shared {
    next_pid: i32,
    workers: Vec<FakeWorker>,
    sessions: HashMap<i32, FakeSession>,
    /// Backends asked to terminate (their next statement ends the session).
    terminate: HashSet<i32>,
    notices: HashMap<i32, Vec<SqlError>>,
    reloads: usize,
    absorbed: usize,
    /// Every report_state call: (pid, state, query).
    states: Vec<(i32, String, String)>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) struct FakeHost {
    shared: Arc<Mutex<Shared>>,
    pid: i32,
}

impl FakeHost {
    pub(super) fn new(shared: Arc<Mutex<Shared>>) -> FakeHost {
        let pid = {
            let mut state = lock(&shared);
            let pid = FIRST_PID + state.next_pid;
            state.next_pid += 1;
            state.sessions.insert(pid, FakeSession::default());
            pid
        };
        FakeHost { shared, pid }
    }

    fn state(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    fn worker_status(&self, handle: Handle) -> Result<Status, SqlError> {
        self.state()
            .workers
            .iter()
            .find(|w| w.handle == handle)
            .map(|w| w.status)
            .ok_or_else(|| SqlError::error("22023", format!("no background worker with handle {handle}")))
    }
}

impl HostServices for FakeHost {
    fn authenticate_peer(&self, uid: u32, user: &str, _database: &str) -> Result<(), SqlError> {
        let own_uid = nix::unistd::getuid().as_raw();
        if uid != own_uid || user == "intruder" {
            return Err(SqlError::fatal("28000", format!("Peer authentication failed for user \"{user}\"")));
        }
        Ok(())
    }

    fn register(&self, req: &RegistrationRequest) -> Result<Option<Handle>, SqlError> {
        let mut state = self.state();
        if req.library == "no_slot" || state.workers.len() >= SLOTS {
            return Ok(None);
        }
        let slot = state.workers.len() as u32;
        let handle = Handle { slot, generation: 1 };
        let (status, worker_state) = match req.function.as_str() {
            "fails_to_start" => (Status::Stopped, "stopped"),
            "postmaster_gone" => (Status::PostmasterDied, "stopped"),
            "never_starts" => (Status::NotYetStarted, "not_yet_started"),
            _ => (Status::Started(20_000 + slot as i32), "running"),
        };
        let notify_pid = req.notify.then_some(self.pid);
        state.workers.push(FakeWorker { handle, req: req.clone(), status, state: worker_state.to_owned(), notify_pid });
        Ok(Some(handle))
    }

    fn status(&self, handle: Handle) -> Result<Status, SqlError> {
        self.worker_status(handle)
    }

    fn wait_for_startup(&self, handle: Handle) -> Result<Status, SqlError> {
        self.worker_status(handle)
    }

    fn wait_for_shutdown(&self, handle: Handle) -> Result<Status, SqlError> {
        self.worker_status(handle)?;
        Ok(Status::Stopped)
    }

    fn terminate(&self, handle: Handle) -> Result<(), SqlError> {
        let mut state = self.state();
        let worker = state
            .workers
            .iter_mut()
            .find(|w| w.handle == handle)
            .ok_or_else(|| SqlError::error("22023", format!("no background worker with handle {handle}")))?;
        worker.status = Status::Stopped;
        worker.state = "terminating".to_owned();
        Ok(())
    }

    fn type_by_pid(&self, pid: i32) -> Option<String> {
        if pid == -1 {
            panic!("the fake host panics when asked about pid -1");
        }
        self.state().workers.iter().find(|w| w.status == Status::Started(pid)).map(|w| worker_type(&w.req))
    }

    fn backend_pid(&self) -> i32 {
        self.pid
    }

    fn reload_conf(&self) -> Result<bool, SqlError> {
        self.state().reloads += 1;
        Ok(true)
    }

    fn terminate_backend(&self, pid: i32) -> Result<bool, SqlError> {
        let mut state = self.state();
        if state.sessions.contains_key(&pid) {
            state.terminate.insert(pid);
            Ok(true)
        } else {
            let warning = SqlError::warning("01000", format!("PID {pid} is not a PostgreSQL backend process"));
            state.notices.entry(self.pid).or_default().push(warning);
            Ok(false)
        }
    }

    fn current_setting(&self, name: &str) -> Result<String, SqlError> {
        match name {
            "max_worker_processes" => Ok("8".to_owned()),
            "bgw.test" => Ok("yes".to_owned()),
            _ => Err(SqlError::error("42704", format!("unrecognized configuration parameter \"{name}\""))),
        }
    }

    fn postmaster_start_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(START_MICROS)
    }

    fn activity(&self) -> Vec<ActivityRow> {
        let state = self.state();
        let start = UNIX_EPOCH + Duration::from_micros(START_MICROS);
        let mut rows: Vec<ActivityRow> = state
            .sessions
            .iter()
            .map(|(&pid, s)| ActivityRow {
                pid,
                backend_type: "client backend".to_owned(),
                backend_start: start,
                application_name: s.application_name.clone(),
                state: s.state.clone(),
                query: s.query.clone(),
                datname: None,
                usename: None,
            })
            .collect();
        rows.extend(state.workers.iter().filter_map(|w| match w.status {
            Status::Started(pid) => Some(ActivityRow {
                pid,
                backend_type: worker_type(&w.req),
                backend_start: start,
                application_name: String::new(),
                state: String::new(),
                query: String::new(),
                datname: None,
                usename: None,
            }),
            _ => None,
        }));
        rows.sort_by_key(|r| r.pid);
        rows
    }

    fn workers(&self) -> Vec<WorkerRow> {
        self.state()
            .workers
            .iter()
            .map(|w| {
                let flags: Vec<&str> = [
                    (w.req.flags.shmem, "shmem"),
                    (w.req.flags.database, "database"),
                    (w.req.flags.parallel, "parallel"),
                ]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
                WorkerRow {
                    slot: w.handle.slot.into(),
                    generation: w.handle.generation as i64,
                    name: worker_name(&w.req),
                    worker_type: worker_type(&w.req),
                    library: w.req.library.clone(),
                    function: w.req.function.clone(),
                    main_arg: w.req.main_arg,
                    flags: flags.join(","),
                    start_phase: w.req.start.as_str().to_owned(),
                    restart_seconds: w.req.restart_seconds,
                    pid: match w.status {
                        Status::Started(pid) => Some(pid),
                        _ => None,
                    },
                    state: w.state.clone(),
                    notify_pid: w.notify_pid,
                    restart_count: 0,
                    last_exit_code: None,
                    starts: 0,
                    last_exit_reason: None,
                    last_exit_description: None,
                    last_exit_at: None,
                    next_start_at: None,
                }
            })
            .collect()
    }

    fn report_state(&self, state: &str, query: &str) {
        if query.contains("PANIC_IN_HOST") {
            panic!("the fake host panics on this query");
        }
        let mut shared = self.state();
        shared.states.push((self.pid, state.to_owned(), query.to_owned()));
        let session = shared.sessions.entry(self.pid).or_default();
        session.state = state.to_owned();
        session.query = query.to_owned();
    }

    fn report_application_name(&self, name: &str) {
        self.state().sessions.entry(self.pid).or_default().application_name = name.to_owned();
    }

    fn take_notices(&self) -> Vec<SqlError> {
        self.state().notices.remove(&self.pid).unwrap_or_default()
    }

    fn termination_requested(&self) -> bool {
        self.state().terminate.contains(&self.pid)
    }

    fn absorb_config_reload(&self) {
        self.state().absorbed += 1;
    }
}

fn worker_name(req: &RegistrationRequest) -> String {
    if req.name.is_empty() {
        req.function.clone()
    } else {
        req.name.clone()
    }
}

fn worker_type(req: &RegistrationRequest) -> String {
    if req.worker_type.is_empty() {
        worker_name(req)
    } else {
        req.worker_type.clone()
    }
}

/// A Unix-socket server in a fresh directory under /tmp: `.s.PGSQL.5432`, one `serve` thread per connection.
pub(super) struct TestServer {
    dir: tempfile::TempDir,
    pub(super) shared: Arc<Mutex<Shared>>,
    exits: Arc<Mutex<Vec<i32>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

pub(super) const PORT: u16 = 5432;

impl TestServer {
    pub(super) fn start() -> TestServer {
        TestServer::start_with(None)
    }

    /// A server whose sessions are all rejected with `reject`, as the host does when it is full.
    pub(super) fn start_with(reject: Option<SqlError>) -> TestServer {
        let dir = tempfile::Builder::new().prefix("bgw").tempdir_in("/tmp").expect("a temporary directory");
        let listener = UnixListener::bind(dir.path().join(format!(".s.PGSQL.{PORT}"))).expect("bind the socket");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let exits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, exits, stop) = (shared.clone(), exits.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (shared, exits, reject) = (shared.clone(), exits.clone(), reject.clone());
                    std::thread::spawn(move || {
                        let host = Rc::new(FakeHost::new(shared));
                        let code = serve(stream, host, reject);
                        exits.lock().unwrap().push(code);
                    });
                }
            })
        };
        TestServer { dir, shared, exits, stop, accept: Some(accept) }
    }

    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn socket_path(&self) -> PathBuf {
        self.dir().join(format!(".s.PGSQL.{PORT}"))
    }

    /// Runs `psql -h DIR -p PORT -X -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose` with `args`.
    pub(super) fn psql(&self, args: &[&str]) -> Psql {
        let mut command = Command::new("psql");
        command
            .arg("-h")
            .arg(self.dir())
            .args(["-p", &PORT.to_string(), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
            .args(args);
        for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGSERVICE", "PGSSLMODE", "PGAPPNAME"] {
            command.env_remove(var);
        }
        command.env("PGCONNECT_TIMEOUT", "10");
        run_with_timeout(command, Duration::from_secs(60))
    }

    /// Waits until `count` sessions have ended and returns their exit codes.
    pub(super) fn exit_codes(&self, count: usize) -> Vec<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let codes = self.exits.lock().unwrap().clone();
            if codes.len() >= count || Instant::now() > deadline {
                return codes;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    pub(super) fn connect(&self) -> RawClient {
        RawClient::connect(&self.socket_path())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = UnixStream::connect(self.socket_path());
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// What a psql run printed.
#[derive(Debug)]
pub(super) struct Psql {
    pub(super) success: bool,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

fn run_with_timeout(mut command: Command, timeout: Duration) -> Psql {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql must be installed to run the backend's end-to-end tests");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for psql") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("psql did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Psql { success: status.success(), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// A minimal protocol client, for what psql cannot show: transaction status bytes, the extended protocol with
/// binary formats, an idle session.
pub(super) struct RawClient {
    stream: UnixStream,
}

/// A backend message: its type byte and body.
pub(super) type Msg = (u8, Vec<u8>);

impl RawClient {
    pub(super) fn connect(path: &Path) -> RawClient {
        let stream = UnixStream::connect(path).expect("connect to the backend");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        RawClient { stream }
    }

    /// Sends a startup packet for `user` and reads up to ReadyForQuery.
    pub(super) fn startup(&mut self, user: &str) -> Vec<Msg> {
        let mut body = 196_608u32.to_be_bytes().to_vec();
        for (key, value) in [("user", user), ("database", "test"), ("application_name", "raw")] {
            body.extend_from_slice(key.as_bytes());
            body.push(0);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        packet.extend_from_slice(&body);
        self.stream.write_all(&packet).unwrap();
        self.until_ready()
    }

    pub(super) fn send(&mut self, tag: u8, body: &[u8]) {
        let mut packet = vec![tag];
        packet.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        packet.extend_from_slice(body);
        self.stream.write_all(&packet).unwrap();
    }

    /// The next message, or None at end of input.
    pub(super) fn recv(&mut self) -> Option<Msg> {
        let mut header = [0u8; 5];
        self.stream.read_exact(&mut header).ok()?;
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        self.stream.read_exact(&mut body).ok()?;
        Some((header[0], body))
    }

    /// Messages up to and including ReadyForQuery (or up to end of input).
    pub(super) fn until_ready(&mut self) -> Vec<Msg> {
        let mut messages = Vec::new();
        while let Some(message) = self.recv() {
            let done = message.0 == b'Z';
            messages.push(message);
            if done {
                break;
            }
        }
        messages
    }

    pub(super) fn query(&mut self, sql: &str) -> Vec<Msg> {
        self.send(b'Q', &cstring(sql));
        self.until_ready()
    }
}

pub(super) fn cstring(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The fields of an ErrorResponse or NoticeResponse body.
pub(super) fn fields(body: &[u8]) -> HashMap<char, String> {
    body.split(|&b| b == 0)
        .filter(|field| !field.is_empty())
        .map(|field| (field[0] as char, String::from_utf8_lossy(&field[1..]).into_owned()))
        .collect()
}

/// The values of a DataRow body.
pub(super) fn values(body: &[u8]) -> Vec<Option<Vec<u8>>> {
    let count = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2;
    (0..count)
        .map(|_| {
            let len = i32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
            at += 4;
            (len >= 0).then(|| {
                let value = body[at..at + len as usize].to_vec();
                at += len as usize;
                value
            })
        })
        .collect()
}

fn tags(messages: &[Msg]) -> String {
    messages.iter().map(|(tag, _)| *tag as char).collect()
}

/// The ReadyForQuery status of the last message.
fn ready_status(messages: &[Msg]) -> char {
    let (tag, body) = messages.last().expect("messages");
    assert_eq!(*tag, b'Z', "{}", tags(messages));
    body[0] as char
}

fn error_code(messages: &[Msg]) -> Option<String> {
    messages.iter().find(|(tag, _)| *tag == b'E').and_then(|(_, body)| fields(body).get(&'C').cloned())
}

/// psql's `-c` with the statements given, and the output trimmed.
fn sql(server: &TestServer, statement: &str) -> String {
    let run = server.psql(&["-c", statement]);
    assert!(run.success, "psql failed on {statement:?}: {}", run.stderr);
    run.stdout.trim_end().to_owned()
}

/// psql's `-c` expected to fail; returns its stderr.
fn sql_error(server: &TestServer, statement: &str) -> String {
    let run = server.psql(&["-c", statement]);
    assert!(!run.success, "psql succeeded on {statement:?}: {}", run.stdout);
    run.stderr
}

#[test]
fn psql_runs_the_sql_functions() {
    let server = TestServer::start();
    assert_eq!(sql(&server, "SELECT pg_backend_pid()"), FIRST_PID.to_string());
    assert!(sql(&server, "SELECT version()").starts_with("PostgreSQL 15.0 (bgw"));
    assert_eq!(sql(&server, "SELECT pg_reload_conf()"), "t");
    assert_eq!(server.state().reloads, 1);
    assert_eq!(sql(&server, "SELECT current_setting('max_worker_processes')"), "8");
    assert_eq!(sql(&server, "SELECT current_setting('nope', true) IS NULL"), "1");
    assert_eq!(sql(&server, "SELECT pg_postmaster_start_time()"), START_TEXT);

    assert_eq!(sql(&server, "SELECT bgw_register('worker_spi', 'worker_spi_main', 3, '{\"name\": \"spi 1\"}')"), "0:1");
    assert_eq!(sql(&server, "SELECT bgw_status('0:1')"), "started");
    assert_eq!(sql(&server, "SELECT bgw_pid('0:1')"), "20000");
    assert_eq!(sql(&server, "SELECT bgw_wait_for_startup('0:1')"), "20000");
    assert_eq!(sql(&server, "SELECT bgw_type_by_pid(20000)"), "spi 1");
    assert_eq!(sql(&server, "SELECT bgw_type_by_pid(1) IS NULL"), "1");
    assert_eq!(sql(&server, "SELECT bgw_launch('worker_spi', 'worker_spi_main')"), "20001");
    assert_eq!(sql(&server, "SELECT bgw_register('worker_spi', 'never_starts')"), "2:1");
    assert_eq!(
        sql(&server, "SELECT bgw_status('2:1'), bgw_pid('2:1') IS NULL, bgw_wait_for_startup('2:1') IS NULL"),
        "not_yet_started|1|1"
    );
    assert_eq!(sql(&server, "SELECT bgw_terminate('0:1')"), "t");
    assert_eq!(sql(&server, "SELECT bgw_wait_for_shutdown('0:1')"), "stopped");
    assert_eq!(sql(&server, "SELECT bgw_status(NULL) IS NULL, bgw_pid(NULL) IS NULL"), "1|1");
    // No free slot: NULL.
    assert_eq!(sql(&server, "SELECT bgw_register('no_slot', 'f') IS NULL"), "1");

    let workers = server.state();
    let spi = &workers.workers[0].req;
    assert_eq!((spi.library.as_str(), spi.function.as_str(), spi.main_arg), ("worker_spi", "worker_spi_main", 3));
    assert_eq!(spi.name, "spi 1");
    assert!(workers.absorbed > 0);
}

#[test]
fn errors_come_with_their_sqlstate() {
    let server = TestServer::start();
    let cases = [
        ("SELEC 1", "ERROR:  42601:"),
        ("SELECT * FROM no_such_table", "ERROR:  42P01:"),
        ("SELECT no_such_function()", "ERROR:  42883:"),
        ("SELECT current_setting('nope')", "ERROR:  42704: unrecognized configuration parameter \"nope\""),
        (
            "SELECT bgw_register('l', 'f', 0, '{\"colour\": 1}')",
            "ERROR:  22023: unrecognized registration option \"colour\"",
        ),
        ("SELECT bgw_register('l', 'f', 0, '{\"restart\": \"soon\"}')", "\"restart\""),
        ("SELECT bgw_register('l', 'f', 0, '{not json')", "ERROR:  22P02: invalid input syntax for type json"),
        ("SELECT bgw_register(NULL, 'f')", "ERROR:  22023: library name must not be null"),
        ("SELECT bgw_register('l', 'f', 'abc')", "ERROR:  22P02:"),
        ("SELECT bgw_status('nonsense')", "ERROR:  22P02: invalid input syntax for type bgw_handle: \"nonsense\""),
        ("SELECT bgw_launch('no_slot', 'f')", "ERROR:  53400: could not register background process"),
        ("SELECT bgw_launch('no_slot', 'f')", "HINT:  You may need to increase \"max_worker_processes\"."),
        (
            "SELECT bgw_launch('l', 'fails_to_start')",
            "ERROR:  55000: background worker \"fails_to_start\" stopped before it started",
        ),
        (
            "SELECT bgw_launch('l', 'fails_to_start', 0, '{\"name\": \"w9\"}')",
            "background worker \"w9\" stopped before it started",
        ),
        (
            "SELECT bgw_launch('l', 'postmaster_gone')",
            "ERROR:  57P01: cannot start background processes without postmaster",
        ),
        (
            "SELECT bgw_launch('l', 'postmaster_gone')",
            "HINT:  Kill all remaining database processes and restart the database.",
        ),
        ("SELECT pg_terminate_backend(99999999999)", "ERROR:  22003:"),
        ("CREATE TABLE t(a INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (1)", "ERROR:  23505:"),
    ];
    for (statement, expected) in cases {
        let stderr = sql_error(&server, statement);
        assert!(stderr.contains(expected), "{statement}: expected {expected:?} in {stderr:?}");
    }
    // Every failed statement ended its session normally (no crash, no FATAL).
    let codes = server.exit_codes(cases.len());
    assert_eq!(codes, vec![0; cases.len()]);
}

#[test]
fn a_failing_statement_does_not_end_the_session() {
    let server = TestServer::start();
    let run = server.psql(&[
        "-v",
        "ON_ERROR_STOP=0",
        "-c",
        "SELECT * FROM nope",
        "-c",
        "SELECT bgw_launch('l', 'fails_to_start')",
        "-c",
        "SELECT 'still here'",
    ]);
    assert!(run.stderr.contains("42P01") && run.stderr.contains("55000"), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "still here");
    assert_eq!(server.exit_codes(1), vec![0]);
}

#[test]
fn multiple_statements_in_one_query() {
    let server = TestServer::start();
    let out = sql(
        &server,
        "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y'); SELECT sum(a) FROM t; \
         SELECT b FROM t ORDER BY a DESC",
    );
    // psql 15 shows every result: the command tags, then the rows.
    assert_eq!(out, "CREATE TABLE\nINSERT 0 2\n3\ny\nx");
    // Statements before an error have run; the error stops the rest.
    let stderr = sql_error(&server, "CREATE TABLE u(a); INSERT INTO nope VALUES (1); CREATE TABLE v(a)");
    assert!(stderr.contains("42P01"), "{stderr}");
    // Command tags as PostgreSQL prints them (psql without -t shows them).
    let run = server.psql(&[
        "-c",
        "CREATE TABLE w(a INTEGER)",
        "-c",
        "INSERT INTO w VALUES (1), (2)",
        "-c",
        "UPDATE w SET a = a + 1",
        "-c",
        "DELETE FROM w",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim_end(), "CREATE TABLE\nINSERT 0 2\nUPDATE 2\nDELETE 2");
}

#[test]
fn types_show_like_postgres() {
    let server = TestServer::start();
    assert_eq!(sql(&server, "SELECT 1, 2.5, 'text', x'00ff', NULL, 1e20"), "1|2.5|text|\\x00ff||1e+20");
    assert_eq!(
        sql(&server, "CREATE TABLE b(flag BOOLEAN); INSERT INTO b VALUES (1), (0); SELECT flag FROM b"),
        "CREATE TABLE\nINSERT 0 2\nt\nf"
    );
    assert_eq!(sql(&server, "SELECT pg_reload_conf() AS reloaded, bgw_terminate(NULL)"), "t|");
}

#[test]
fn views_read_the_host() {
    let server = TestServer::start();
    let first = r#"{"name": "first", "restart": 10, "flags": ["shmem", "database"]}"#;
    sql(&server, &format!("SELECT bgw_register('lib', 'one', 0, '{first}')"));
    sql(&server, "SELECT bgw_register('lib', 'never_starts', 7, '{\"type\": \"waiter\", \"notify\": false}')");
    sql(&server, "SELECT bgw_register('lib', 'three', 0, '{\"start\": \"postmaster_start\", \"extra\": \"e\"}')");
    assert_eq!(sql(&server, "SELECT name FROM bgw_workers WHERE state = 'running' ORDER BY slot"), "first\nthree");
    assert_eq!(
        sql(&server, "SELECT * FROM bgw_workers WHERE slot = 0"),
        format!("0|1|first|first|lib|one|0|shmem,database|recovery_finished|10|20000|running|{}|0||0||||", FIRST_PID)
    );
    assert_eq!(
        sql(
            &server,
            "SELECT slot, type, main_arg, restart_interval IS NULL, pid IS NULL, notify_pid IS NULL \
             FROM bgw_workers WHERE slot = 1"
        ),
        "1|waiter|7|1|1|1"
    );
    assert_eq!(sql(&server, "SELECT start_phase FROM bgw_workers WHERE slot = 2"), "postmaster_start");
    assert_eq!(sql(&server, "SELECT count(*) FROM bgw_workers"), "3");

    // The session sees itself as active, running this very query.
    let own =
        "SELECT pid, backend_type, application_name, state, query FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    let out = sql(&server, own);
    let (pid, rest) = out.split_once('|').unwrap();
    assert_eq!(rest, format!("client backend|psql|active|{own}"));
    let pid: i32 = pid.parse().unwrap();
    assert_eq!(
        sql(&server, "SELECT backend_type, backend_start FROM pg_stat_activity WHERE pid = 20000"),
        format!("first|{START_TEXT}")
    );
    // After a statement the backend reports itself idle.
    let states = server.state().states.clone();
    let own_states: Vec<&(i32, String, String)> = states.iter().filter(|(p, _, _)| *p == pid).collect();
    assert_eq!(own_states.last().unwrap().1, "idle");
    assert_eq!(own_states.last().unwrap().2, "");
}

#[test]
fn rejected_clients_get_the_hosts_error() {
    let server = TestServer::start_with(Some(SqlError::fatal("53300", "sorry, too many clients already")));
    let run = server.psql(&["-c", "SELECT 1"]);
    assert!(!run.success);
    assert!(run.stderr.contains("FATAL:  sorry, too many clients already"), "{}", run.stderr);
    assert_eq!(server.exit_codes(1), vec![1]);

    let server = TestServer::start_with(Some(SqlError::error("57P03", "the database system is starting up")));
    let mut client = server.connect();
    let messages = client.startup("tester");
    assert_eq!(tags(&messages), "E");
    let error = fields(&messages[0].1);
    assert_eq!(error[&'S'], "FATAL");
    assert_eq!(error[&'C'], "57P03");
    assert!(client.recv().is_none(), "the connection must be closed");
}

#[test]
fn failed_authentication_is_fatal() {
    let server = TestServer::start();
    let run = server.psql(&["-U", "intruder", "-c", "SELECT 1"]);
    assert!(!run.success);
    assert!(run.stderr.contains("FATAL:  Peer authentication failed for user \"intruder\""), "{}", run.stderr);
    assert_eq!(server.exit_codes(1), vec![1]);
}

#[test]
fn host_notices_show_as_warnings() {
    let server = TestServer::start();
    let run = server.psql(&["-c", "SELECT pg_terminate_backend(99999)"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "f");
    assert!(run.stderr.contains("WARNING:  01000: PID 99999 is not a PostgreSQL backend process"), "{}", run.stderr);
    // The backend's own warnings go the same way.
    let run = server.psql(&["-c", "COMMIT"]);
    assert!(run.stderr.contains("WARNING:  25P01: there is no transaction in progress"), "{}", run.stderr);
}

#[test]
fn termination_between_statements() {
    let server = TestServer::start();
    // Terminating oneself: the host flags the backend, and the next statement is not run.
    let run = server.psql(&["-c", "SELECT pg_terminate_backend(pg_backend_pid()); SELECT 'not reached'"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("FATAL:  57P01: terminating connection due to administrator command"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("not reached"));
    assert_eq!(server.exit_codes(1), vec![1]);

    // Flagged between two queries of one session.
    let mut client = server.connect();
    client.startup("tester");
    let pid = FIRST_PID + 1;
    assert_eq!(ready_status(&client.query("SELECT 1")), 'I');
    server.state().terminate.insert(pid);
    let messages = client.query("SELECT 2");
    assert_eq!(tags(&messages), "E");
    assert_eq!(fields(&messages[0].1)[&'C'], "57P01");
    assert!(client.recv().is_none(), "the connection must be closed");
    assert_eq!(server.exit_codes(2), vec![1, 1]);
}

#[test]
fn transaction_status_in_ready_for_query() {
    let server = TestServer::start();
    let mut client = server.connect();
    let greeting = client.startup("tester");
    let statuses: HashMap<String, String> = greeting
        .iter()
        .filter(|(tag, _)| *tag == b'S')
        .map(|(_, body)| {
            let parts: Vec<String> = body.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            (parts[0].clone(), parts[1].clone())
        })
        .collect();
    assert_eq!(statuses["server_version"], "15.0 (bgw)");
    assert_eq!(statuses["server_encoding"], "UTF8");
    assert_eq!(statuses["client_encoding"], "UTF8");
    assert_eq!(statuses["DateStyle"], "ISO, MDY");
    assert_eq!(statuses["integer_datetimes"], "on");
    assert_eq!(statuses["standard_conforming_strings"], "on");
    assert_eq!(statuses["TimeZone"], "UTC");
    assert_eq!(statuses["application_name"], "raw");
    assert!(tags(&greeting).starts_with('R') && tags(&greeting).ends_with("KZ"), "{}", tags(&greeting));
    assert_eq!(ready_status(&greeting), 'I');

    assert_eq!(ready_status(&client.query("CREATE TABLE t(a)")), 'I');
    assert_eq!(ready_status(&client.query("BEGIN")), 'T');
    assert_eq!(ready_status(&client.query("INSERT INTO t VALUES (1)")), 'T');
    let failed = client.query("SELECT * FROM nope");
    assert_eq!((error_code(&failed).as_deref(), ready_status(&failed)), (Some("42P01"), 'E'));
    let ignored = client.query("SELECT 1");
    assert_eq!((error_code(&ignored).as_deref(), ready_status(&ignored)), (Some("25P02"), 'E'));
    let rolled_back = client.query("COMMIT");
    assert_eq!(ready_status(&rolled_back), 'I');
    assert!(rolled_back.iter().any(|(tag, body)| *tag == b'C' && body.starts_with(b"ROLLBACK")));
    let count = client.query("SELECT count(*) FROM t");
    assert_eq!(values(&count.iter().find(|(t, _)| *t == b'D').unwrap().1), vec![Some(b"0".to_vec())]);
}

#[test]
fn empty_queries() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.startup("tester");
    assert_eq!(tags(&client.query("")), "IZ");
    assert_eq!(tags(&client.query(" ; ;; -- nothing")), "IZ");
    assert_eq!(tags(&client.query("SELECT 1;;")), "TDCZ");
}

#[test]
fn extended_protocol_with_binary_formats() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.startup("tester");

    // Parse "SELECT $1 + 1, $2, bgw_status($3)" with $1 int8, $2 unspecified, $3 text.
    let mut parse = cstring("s1");
    parse.extend(cstring("SELECT CAST($1 AS INTEGER) + 1, $2, bgw_status($3), pg_backend_pid()"));
    parse.extend(3u16.to_be_bytes());
    for oid in [20u32, 0, 25] {
        parse.extend(oid.to_be_bytes());
    }
    client.send(b'P', &parse);
    let mut describe = vec![b'S'];
    describe.extend(cstring("s1"));
    client.send(b'D', &describe);
    client.send(b'S', &[]);
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "1tTZ");
    let params = &reply[1].1;
    assert_eq!(u16::from_be_bytes([params[0], params[1]]), 3);
    let param_oids: Vec<u32> = params[2..].chunks(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(param_oids, vec![20, 25, 25]);

    sql_register(&mut client);
    // Bind: $1 binary int8 41, $2 text 'x', $3 text '0:1'; results: binary for all.
    let mut bind = cstring("");
    bind.extend(cstring("s1"));
    bind.extend(3u16.to_be_bytes());
    for format in [1u16, 0, 0] {
        bind.extend(format.to_be_bytes());
    }
    bind.extend(3u16.to_be_bytes());
    for value in [41i64.to_be_bytes().to_vec(), b"x".to_vec(), b"0:1".to_vec()] {
        bind.extend((value.len() as u32).to_be_bytes());
        bind.extend(value);
    }
    bind.extend(1u16.to_be_bytes());
    bind.extend(1u16.to_be_bytes());
    client.send(b'B', &bind);
    client.send(b'D', &[b'P', 0]);
    client.send(b'E', &[0, 0, 0, 0, 0]);
    client.send(b'S', &[]);
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "2TDCZ");
    let row = values(&reply[2].1);
    assert_eq!(row[0].as_deref(), Some(&42i64.to_be_bytes()[..]));
    assert_eq!(row[1].as_deref(), Some(&b"x"[..]));
    assert_eq!(row[2].as_deref(), Some(&b"started"[..]));
    assert_eq!(row[3].as_deref(), Some(&(FIRST_PID).to_be_bytes()[..]));
    assert_eq!(reply[3].1, cstring("SELECT 1"));

    // An error skips everything up to Sync, then the session goes on.
    let mut bad = cstring("");
    bad.extend(cstring("SELECT * FROM nope"));
    bad.extend(0u16.to_be_bytes());
    client.send(b'P', &bad);
    client.send(b'B', &[0, 0, 0, 0, 0, 0, 0, 0]);
    client.send(b'E', &[0, 0, 0, 0, 0]);
    client.send(b'S', &[]);
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "EZ");
    assert_eq!(error_code(&reply).as_deref(), Some("42P01"));
    // A simple query before that Sync is ignored too, as PostgreSQL does.
    client.send(b'P', &bad);
    client.send(b'Q', &cstring("SELECT 'ignored'"));
    client.send(b'S', &[]);
    assert_eq!(tags(&client.until_ready()), "EZ");

    // Row limits: PortalSuspended, then the rest.
    let mut parse = cstring("");
    parse.extend(cstring("SELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2 UNION ALL SELECT 3)"));
    parse.extend(0u16.to_be_bytes());
    client.send(b'P', &parse);
    client.send(b'B', &[0, 0, 0, 0, 0, 0, 0, 0]);
    client.send(b'E', &[0, 0, 0, 0, 2]);
    client.send(b'E', &[0, 0, 0, 0, 0]);
    client.send(b'S', &[]);
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "12DDsDCZ");
    assert_eq!(reply[6].1, cstring("SELECT 1"));

    // An empty statement.
    let mut parse = cstring("");
    parse.extend(cstring(""));
    parse.extend(0u16.to_be_bytes());
    client.send(b'P', &parse);
    client.send(b'B', &[0, 0, 0, 0, 0, 0, 0, 0]);
    client.send(b'E', &[0, 0, 0, 0, 0]);
    client.send(b'S', &[]);
    assert_eq!(tags(&client.until_ready()), "12IZ");
}

/// Registers one worker (handle 0:1) through a simple query.
fn sql_register(client: &mut RawClient) {
    let reply = client.query("SELECT bgw_register('lib', 'starts')");
    assert_eq!(values(&reply[1].1), vec![Some(b"0:1".to_vec())]);
}

#[test]
fn panics_become_internal_errors() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.startup("tester");
    // Inside a SQL function.
    let reply = client.query("SELECT bgw_type_by_pid(-1)");
    assert_eq!(error_code(&reply).as_deref(), Some("XX000"));
    let message = fields(&reply.iter().find(|(t, _)| *t == b'E').unwrap().1)[&'M'].clone();
    assert!(message.contains("bgw_type_by_pid") && message.contains("panics"), "{message}");
    assert_eq!(ready_status(&reply), 'I');
    // In the session itself, outside SQLite.
    let reply = client.query("SELECT 'PANIC_IN_HOST'");
    assert_eq!(error_code(&reply).as_deref(), Some("XX000"));
    assert_eq!(ready_status(&reply), 'I');
    // The session goes on.
    let reply = client.query("SELECT 7");
    assert_eq!(values(&reply[1].1), vec![Some(b"7".to_vec())]);
}

#[test]
fn protocol_violations_are_fatal_not_silent() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.startup("tester");
    client.send(b'?', b"junk");
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "E");
    let error = fields(&reply[0].1);
    assert_eq!((error[&'S'].as_str(), error[&'C'].as_str()), ("FATAL", "08P01"));
    assert!(client.recv().is_none());
}

#[test]
fn ssl_requests_are_refused() {
    let server = TestServer::start();
    let mut stream = UnixStream::connect(server.socket_path()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).unwrap();
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"N");
    let mut client = RawClient { stream };
    assert_eq!(ready_status(&client.startup("tester")), 'I');
}

/// The name libtest knows this module by (`backend::tests`), whatever the crate is called.
fn test_module() -> String {
    let path = module_path!();
    path.split_once("::").map_or(path, |(_, rest)| rest).to_owned()
}

const SIGTERM_SOCKET_VAR: &str = "BGW_BACKEND_SIGTERM_TEST_SOCKET";

/// Not a test by itself: when the SIGTERM test runs this test binary again with the socket path in the
/// environment, it serves one session there (in a process of its own, so that the signal reaches nothing else).
#[test]
fn sigterm_child() {
    let Ok(path) = std::env::var(SIGTERM_SOCKET_VAR) else { return };
    let listener = UnixListener::bind(&path).expect("bind");
    let (stream, _) = listener.accept().expect("accept");
    let code = serve(stream, Rc::new(FakeHost::new(Arc::new(Mutex::new(Shared::default())))), None);
    println!("serve returned {code}");
}

#[test]
fn sigterm_while_idle_ends_the_session() {
    let dir = tempfile::Builder::new().prefix("bgw").tempdir_in("/tmp").unwrap();
    let path = dir.path().join(format!(".s.PGSQL.{PORT}"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([&format!("{}::sigterm_child", test_module()), "--exact", "--nocapture", "--test-threads=1"])
        .env(SIGTERM_SOCKET_VAR, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the child never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    let threads = || std::fs::read_dir(format!("/proc/{}/task", child.id())).map(|d| d.count()).unwrap_or(0);
    let threads_before = threads();
    let mut client = RawClient::connect(&path);
    assert_eq!(ready_status(&client.startup("tester")), 'I');
    assert_eq!(ready_status(&client.query("SELECT 1")), 'I');
    // The session runs on the thread that called serve: no runtime threads, no others.
    assert_eq!(threads(), threads_before);
    // The backend now waits for the client; SIGTERM must end it without another query.
    assert!(crate::sys::signals::send(child.id() as i32, libc::SIGTERM));
    let reply = client.until_ready();
    assert_eq!(tags(&reply), "E");
    let error = fields(&reply[0].1);
    assert_eq!((error[&'S'].as_str(), error[&'C'].as_str()), ("FATAL", "57P01"));
    assert_eq!(error[&'M'], "terminating connection due to administrator command");
    assert!(client.recv().is_none());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("serve returned 1"), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_postmasters_refusal_is_a_fatal_error_response() {
    let bytes = super::fatal_error_message(&SqlError::fatal("53300", "sorry, too many clients already"));
    assert_eq!(bytes[0], b'E');
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    assert_eq!(len + 1, bytes.len());
    let fields: Vec<&[u8]> = bytes[5..].split(|b| *b == 0).filter(|f| !f.is_empty()).collect();
    for expected in [&b"SFATAL"[..], b"VFATAL", b"C53300", b"Msorry, too many clients already"] {
        assert!(fields.contains(&expected), "{:?}", String::from_utf8_lossy(&bytes));
    }
}
