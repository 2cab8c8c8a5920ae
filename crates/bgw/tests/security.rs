//! Security at the host's edges, against the real `bgw` binary: whom the postmaster signals (only its own
//! children, never a pid a registration or a shared-memory watch list names), the data directory, socket and lock
//! file permissions, authentication that cannot be bypassed (peer with a real second OS user, SCRAM with forged
//! and malformed messages written byte by byte), what non-superusers cannot do (escalate, reach the catalog file,
//! plant triggers that run privileged functions for a superuser, read other roles' statements), and hostile role
//! and database names that stay names.
//!
//! What a non-superuser may register: nothing. `bgw_register`/`bgw_launch` are refused (42501) whatever the
//! library, and so are module SQL functions defined with `BGW_SQLFN_SUPERUSER` (such as `worker_spi_launch`).
//!
//! Related tests elsewhere (not repeated here): databases.rs `connection_checks_follow_postgres` (unknown
//! database, peer mismatch for another role name, NOLOGIN, ALLOW_CONNECTIONS false), `password_authentication_over_tcp`
//! (wrong password, unknown role, role without password: 28P01), `roles_and_privileges` (non-superusers: CREATE
//! DATABASE/ROLE, DROP ROLE, bgw_register, library paths, pg_terminate_backend of another role's session);
//! commands.rs `start_refuses_bad_directories_and_second_postmasters` (0750 message, second postmaster).

use base64::Engine as _;
use bgw_test_support::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A test module: workers that name foreign pids to the host, and a superuser-only SQL function.
const SEC_MODULE: &str = r#"
#include "bgworker.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PG_MODULE_MAGIC;

void _PG_init(void);
PGDLLEXPORT void sec_notify_foreign(Datum main_arg);
PGDLLEXPORT void sec_watch_foreign(Datum main_arg);

static int sec_privileged(int nargs, const BgwSqlValue *args, BgwSqlValue *result);

void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		bgw_define_sql_function("sec_privileged", 0, BGW_SQL_INT8, BGW_SQLFN_SUPERUSER, sec_privileged);
}

static int
sec_privileged(int nargs, const BgwSqlValue *args, BgwSqlValue *result)
{
	(void) nargs;
	(void) args;
	elog(LOG, "sec_privileged ran");
	result->kind = BGW_SQL_INT8;
	result->int8 = 42;
	return 0;
}

static void
fill(BackgroundWorker *w, const char *name, const char *function)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w->bgw_library_name, MAXPGPATH, "bgw");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(w->bgw_name, BGW_MAXLEN, "%s", name);
}

/* Registers workers whose bgw_notify_pid is main_arg (a process that is no child of the postmaster), then its
 * negation (a process group), and waits for each to start and stop: the postmaster must signal neither. */
void
sec_notify_foreign(Datum main_arg)
{
	int targets[2];
	int i;

	targets[0] = DatumGetInt32(main_arg);
	targets[1] = -DatumGetInt32(main_arg);
	BackgroundWorkerUnblockSignals();
	for (i = 0; i < 2; i++)
	{
		BackgroundWorker w;
		BackgroundWorkerHandle *h;

		fill(&w, "sec notified", "noop");
		w.bgw_notify_pid = targets[i];
		if (!RegisterDynamicBackgroundWorker(&w, &h))
			ereport(ERROR, (errmsg("could not register background process")));
		if (WaitForBackgroundWorkerShutdown(h) != BGWH_STOPPED)
			ereport(ERROR, (errmsg("the worker did not stop")));
		elog(LOG, "sec: worker with notify pid %d stopped", targets[i]);
		free(h);
	}
}

/* Registers a sleeper and forks a process (no child of the postmaster) that waits for it to stop, with SIGUSR1
 * at its default action: if the postmaster signals it (it is in the slot's watch list), it dies. */
void
sec_watch_foreign(Datum main_arg)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *h;
	pid_t child;

	(void) main_arg;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	fill(&w, "sec watched", "sleeper");
	if (!RegisterDynamicBackgroundWorker(&w, &h))
		ereport(ERROR, (errmsg("could not register background process")));
	child = fork();
	if (child == 0)
	{
		signal(SIGUSR1, SIG_DFL);
		WaitForBackgroundWorkerShutdown(h);
		_exit(0);
	}
	elog(LOG, "sec: watcher %d watches handle %d:%llu", (int) child, h->slot, (unsigned long long) h->generation);
	for (;;)
	{
		WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
"#;

/// Builds the test module into a fresh directory, the way a module author would.
fn module_dir() -> tempfile::TempDir {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "sec", SEC_MODULE);
    dir
}

/// A process that is no child of the postmaster and dies if it gets SIGUSR1 (default action), in its own
/// process group; killed when dropped.
struct Bystander(std::process::Child);

impl Bystander {
    fn spawn() -> Bystander {
        Bystander(Command::new("sleep").arg("600").process_group(0).spawn().unwrap())
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The signal that ended `pid`, if it is a zombie killed by one (its parent has not reaped it yet; the exit
/// status is field 52 of /proc/PID/stat).
fn killed_by(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // fields[0] is field 3 (state); field 52 is fields[49].
    if fields.first() != Some(&"Z") {
        return None;
    }
    let status: i32 = fields.get(49)?.parse().ok()?;
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

/// The number after `prefix` in the log.
fn logged_number(log: &str, prefix: &str) -> i32 {
    let at = log.find(prefix).unwrap_or_else(|| panic!("{prefix:?} not in the log")) + prefix.len();
    log[at..].split(|c: char| !c.is_ascii_digit() && c != '-').next().unwrap().parse().unwrap()
}

#[test]
fn the_postmaster_never_signals_a_foreign_notify_pid_or_watcher() {
    let dir = module_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    // bgw_notify_pid naming a process that is not ours (and, negated, its process group): the registration is
    // adopted without it, and neither start nor exit signals it.
    let bystander = Bystander::spawn();
    let victim = bystander.pid();
    // (Registered, not launched: the worker may be done before a launch's wait would see it start.)
    h.sql(&format!("SELECT bgw_register('sec', 'sec_notify_foreign', {victim}, '{{\"name\": \"sec notifier\"}}')"));
    h.wait_log(&format!("sec: worker with notify pid -{victim} stopped"));
    let log = h.log();
    assert!(alive(victim), "the postmaster signalled a foreign bgw_notify_pid\n{log}");
    assert!(log.contains(&format!("worker notification PID {victim} is not valid")), "{log}");
    assert!(log.contains(&format!("worker notification PID -{victim} is not valid")), "{log}");

    // A process outside the postmaster's children in a slot's watch list (a worker's fork calling
    // WaitForBackgroundWorkerShutdown): the slot's release must not signal it.
    h.sql("SELECT bgw_launch('sec', 'sec_watch_foreign', 0, '{\"name\": \"sec watcher\"}')");
    let log = h.wait_log("sec: watcher ");
    let watcher = logged_number(&log, "sec: watcher ");
    let handle = {
        let prefix = "watches handle ";
        let at = log.find(prefix).unwrap() + prefix.len();
        log[at..].split_whitespace().next().unwrap().to_string()
    };
    // It is in the list once it sleeps in the latch's poll(2) (it adds itself before it checks the status).
    wait_until("the watcher to block in poll (or die)", || {
        !alive(watcher)
            || std::fs::read_to_string(format!("/proc/{watcher}/syscall"))
                .is_ok_and(|s| s.split_whitespace().next() == Some(&libc::SYS_poll.to_string()))
    });
    assert_eq!(killed_by(watcher), None, "the postmaster signalled a watcher that is not its child");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    h.wait_sql(&format!("SELECT bgw_status('{handle}')"), |s| s == "stopped");
    // The postmaster released the slot (and woke its watchers) before publishing "stopped"; one more round
    // trip through the postmaster (a worker registered, started and gone) orders this check after any signal it
    // sent.
    assert_eq!(h.sql("SELECT bgw_wait_for_shutdown(bgw_register('bgw', 'noop'))"), "stopped");
    // Woken by anything else, it would have exited normally; only a signal kills it.
    assert_eq!(killed_by(watcher), None, "the postmaster signalled a watcher that is not its child\n{}", h.log());
    signal(watcher, SIGKILL);
    assert!(alive(victim));
    assert!(alive(h.pid()), "the postmaster survived all of it");
}

/// Runs `bgw start` on `data`, expecting it to refuse: (exit code, stderr). A postmaster that starts anyway is
/// killed after the deadline and the test fails.
fn start_refused(data: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(BGW)
        .args(["start", "-D"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > DEADLINE {
            kill_group(child.id() as i32);
            let _ = child.wait();
            panic!("bgw start did not refuse {}", data.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn start_refuses_a_data_directory_others_can_reach_or_another_user_owns() {
    let h = Host::init(&Setup::new(BGW));
    let data = h.data();
    let shown = data.display().to_string();
    let nothing_started = |what: &str| {
        assert!(!data.join("postmaster.pid").exists(), "{what}: a lock file was written");
        assert!(!data.join(format!(".s.PGSQL.{}", h.port)).exists(), "{what}: a socket was created");
    };
    for mode in [0o750, 0o755, 0o777, 0o701] {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, err) = start_refused(&data);
        assert_eq!(code, Some(1), "mode {mode:o}: {err}");
        assert!(err.contains(&format!("FATAL:  data directory \"{shown}\" has invalid permissions")), "{err}");
        assert!(err.contains("DETAIL:  Permissions should be u=rwx (0700)."), "{err}");
        nothing_started(&format!("mode {mode:o}"));
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Owned by another user (only root can arrange that).
    if is_root() {
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
        let (code, err) = start_refused(&data);
        std::os::unix::fs::chown(&data, Some(0), Some(0)).unwrap();
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(&format!("FATAL:  data directory \"{shown}\" has wrong ownership")), "{err}");
        assert!(err.contains("HINT:  The server must be started by the user that owns the data directory."));
        nothing_started("owned by nobody");
    } else {
        eprintln!("not root: the ownership check is not exercised");
    }
    // The same directory, fixed, starts; detached, its log file is private too (as pg_ctl makes it).
    let log = h.dir.path().join("detached.log");
    let out = Command::new(BGW).args(["start", "--detach", "-l"]).arg(&log).arg("-D").arg(&data).output().unwrap();
    let pid = std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
    let _guard = GroupGuard(pid.unwrap_or(0));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    let out = Command::new(BGW).args(["stop", "-D"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::mem::forget(_guard); // stopped: its pid is no longer ours to signal
}

/// psql as another OS user (nobody): Ok(stdout) or Err(stderr).
fn psql_as_nobody(host_dir: &Path, port: u16, user: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-A", "-t", "-h"]).arg(host_dir).args(["-p", &port.to_string(), "-d", "postgres"]);
    if let Some(u) = user {
        cmd.args(["-U", u]);
    }
    let out = cmd
        .args(["-c", "SELECT current_setting('port')"])
        .env("HOME", "/")
        .env("PGCONNECT_TIMEOUT", "30")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(stdout(&out).trim().to_string())
    } else {
        Err(stderr(&out))
    }
}

#[test]
fn other_os_users_cannot_reach_or_impersonate_through_the_socket() {
    let h = Host::start(Setup::new(BGW));
    let data = h.data();
    // The lock file is private, and stays so after the postmaster rewrote its status to "ready".
    let pid_file = std::fs::metadata(data.join("postmaster.pid")).unwrap();
    assert_eq!(pid_file.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(data.join("postmaster.pid")).unwrap().contains("ready"));
    // The socket is in the data directory (0700, ours): its own mode is PostgreSQL's default 0777, so the
    // directory is what keeps others out.
    let socket = data.join(format!(".s.PGSQL.{}", h.port));
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    assert_eq!(meta.permissions().mode() & 0o777, 0o777);
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    if !is_root() {
        eprintln!("not root: another OS user cannot be simulated");
        return;
    }
    // Another OS user cannot even reach it (the parent is opened up, so only the data directory stands between).
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let e = psql_as_nobody(&data, h.port, None).unwrap_err();
    assert!(e.contains("Permission denied"), "{e}");
    drop(h);

    // With the socket in a directory anyone may enter, peer authentication is what stands between: nobody is
    // nobody, not the superuser.
    let sockets = tempfile::Builder::new().prefix("bgws").tempdir_in("/tmp").unwrap();
    std::fs::set_permissions(sockets.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let h = Host::start(Setup::new(BGW).conf("unix_socket_directories", &format!("'{}'", sockets.path().display())));
    let me = os_user();
    let e = psql_as_nobody(sockets.path(), h.port, Some(&me)).unwrap_err();
    assert!(e.contains(&format!("FATAL:  Peer authentication failed for user \"{me}\"")), "{e}");
    h.wait_log(&format!("Provided user name ({me}) and authenticated user name (nobody) do not match."));
    let e = psql_as_nobody(sockets.path(), h.port, None).unwrap_err();
    assert!(e.contains("FATAL:  role \"nobody\" does not exist"), "{e}");
    // Once the role exists (and may log in), nobody gets in as nobody, a non-superuser.
    let mut admin = postgres::Config::new()
        .host_path(sockets.path())
        .port(h.port)
        .user(&me)
        .dbname("postgres")
        .connect(postgres::NoTls)
        .unwrap();
    admin.batch_execute("CREATE ROLE nobody LOGIN").unwrap();
    assert_eq!(psql_as_nobody(sockets.path(), h.port, None), Ok(h.port.to_string()));
    let e = psql_as_nobody(sockets.path(), h.port, Some(&me)).unwrap_err();
    assert!(e.contains("Peer authentication failed"), "{e}");
}

// ---------- SCRAM, byte by byte ----------

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A raw wire-protocol client, enough for the authentication exchange.
struct Raw(std::net::TcpStream);

/// A backend message: type byte and body.
type Msg = (u8, Vec<u8>);

impl Raw {
    fn connect(port: u16, user: &str) -> Raw {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut raw = Raw(s);
        raw.0.write_all(&wire::startup_message(&[("user", user), ("database", "postgres")])).unwrap();
        raw
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        // The server may already have closed the connection; what it answered is read next.
        let _ = self.0.write_all(&wire::message(tag, body));
    }

    /// The next message, or None at end of stream.
    fn recv(&mut self) -> Option<Msg> {
        wire::read_message(&mut self.0)
    }

    /// An authentication request ('R') of the given code; returns its data.
    fn expect_auth(&mut self, code: i32) -> Vec<u8> {
        let (tag, body) = self.recv().expect("a message");
        assert_eq!(tag, b'R', "expected an authentication request, got {:?}", String::from_utf8_lossy(&body));
        assert_eq!(i32::from_be_bytes(body[..4].try_into().unwrap()), code);
        body[4..].to_vec()
    }

    /// SASLInitialResponse with SCRAM-SHA-256 (or another mechanism).
    fn sasl_initial(&mut self, mechanism: &str, data: &[u8]) {
        let mut body = mechanism.as_bytes().to_vec();
        body.push(0);
        body.extend_from_slice(&(data.len() as i32).to_be_bytes());
        body.extend_from_slice(data);
        self.send(b'p', &body);
    }

    /// What ends a refused exchange: an ErrorResponse (severity, code, message), then end of stream; never an
    /// AuthenticationOk.
    fn expect_refusal(&mut self) -> (String, String, String) {
        let (tag, body) = self.recv().expect("an error response");
        assert_eq!(tag, b'E', "expected an error, got {} {:?}", tag as char, String::from_utf8_lossy(&body));
        let mut fields = std::collections::HashMap::new();
        for f in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
            fields.insert(f[0], String::from_utf8_lossy(&f[1..]).to_string());
        }
        assert!(self.recv().is_none(), "the server kept the connection open after refusing it");
        (fields[&b'S'].clone(), fields[&b'C'].clone(), fields[&b'M'].clone())
    }
}

/// The client's side of SCRAM-SHA-256 from the RFC: the client-final message for `password`, with the nonce
/// the client claims (normally the server's).
fn client_final(password: &str, client_first_bare: &str, server_first: &str, claimed_nonce: &str) -> String {
    client_final_with(password, client_first_bare, server_first, claimed_nonce, "biws")
}

/// The same with the channel-binding attribute `c=` given.
fn client_final_with(password: &str, bare: &str, server_first: &str, claimed_nonce: &str, cbind: &str) -> String {
    let attr = |k: &str| server_first.split(',').find_map(|kv| kv.strip_prefix(k)).unwrap().to_string();
    let salt = B64.decode(attr("s=")).unwrap();
    let iterations: u32 = attr("i=").parse().unwrap();
    let mut salted = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations).unwrap(),
        &salt,
        password.as_bytes(),
        &mut salted,
    );
    let client_key = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &salted), b"Client Key");
    let stored = ring::digest::digest(&ring::digest::SHA256, client_key.as_ref());
    let without_proof = format!("c={cbind},r={claimed_nonce}");
    let auth = format!("{bare},{server_first},{without_proof}");
    let sig = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, stored.as_ref()), auth.as_bytes());
    let proof: Vec<u8> = client_key.as_ref().iter().zip(sig.as_ref()).map(|(a, b)| a ^ b).collect();
    format!("{without_proof},p={}", B64.encode(proof))
}

/// Starts an exchange as `user` up to the server-first message: (connection, client-first-bare, server-first).
fn scram_start(port: u16, user: &str) -> (Raw, String, String) {
    let mut c = Raw::connect(port, user);
    let mechanisms = c.expect_auth(10);
    assert_eq!(mechanisms, b"SCRAM-SHA-256\0\0");
    let bare = "n=,r=rOprNGfwEbeRWgbNEkqO".to_string();
    c.sasl_initial("SCRAM-SHA-256", format!("n,,{bare}").as_bytes());
    let server_first = String::from_utf8(c.expect_auth(11)).unwrap();
    assert!(server_first.starts_with("r=rOprNGfwEbeRWgbNEkqO"), "{server_first}");
    (c, bare, server_first)
}

fn server_nonce(server_first: &str) -> String {
    server_first.split(',').next().unwrap().strip_prefix("r=").unwrap().to_string()
}

#[test]
fn scram_refuses_forged_replayed_and_malformed_exchanges() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    h.sql("CREATE ROLE alice LOGIN PASSWORD 'wonder'");
    let failed = ("FATAL".to_string(), "28P01".to_string(), "password authentication failed for user \"alice\"".into());

    // The right exchange, written by hand, succeeds: the raw client is right, so its refusals below mean something.
    let (mut c, bare, sf) = scram_start(port, "alice");
    let good = client_final("wonder", &bare, &sf, &server_nonce(&sf));
    c.send(b'p', good.as_bytes());
    let v = String::from_utf8(c.expect_auth(12)).unwrap();
    assert!(v.starts_with("v="), "{v}");
    c.expect_auth(0);
    drop(c);

    // A proof made for one exchange is worthless in another (the server's nonce differs).
    let (mut c, _, _) = scram_start(port, "alice");
    c.send(b'p', good.as_bytes());
    assert_eq!(c.expect_refusal(), failed);

    // The right password, but a nonce other than the server's (the proof computed over it).
    let (mut c, bare, sf) = scram_start(port, "alice");
    let forged = format!("{}x", server_nonce(&sf));
    c.send(b'p', client_final("wonder", &bare, &sf, &forged).as_bytes());
    assert_eq!(c.expect_refusal(), failed);
    // Only the client's part of the nonce.
    let (mut c, bare, sf) = scram_start(port, "alice");
    c.send(b'p', client_final("wonder", &bare, &sf, "rOprNGfwEbeRWgbNEkqO").as_bytes());
    assert_eq!(c.expect_refusal(), failed);

    // The GS2 header changed between the client's messages ("n,," then "y,,"), with a proof over what was sent.
    let (mut c, bare, sf) = scram_start(port, "alice");
    c.send(b'p', client_final_with("wonder", &bare, &sf, &server_nonce(&sf), "eSws").as_bytes());
    assert_eq!(c.expect_refusal(), failed);

    // Malformed client-final messages: no proof, an empty or short proof, bad base64, not UTF-8, nothing.
    for make in [
        |n: &str| format!("c=biws,r={n}"),
        |n: &str| format!("c=biws,r={n},p="),
        |n: &str| format!("c=biws,r={n},p=AAAA"),
        |n: &str| format!("c=biws,r={n},p=!!!not base64!!!"),
        |_: &str| "hello".to_string(),
        |_: &str| String::new(),
    ] {
        let (mut c, _, sf) = scram_start(port, "alice");
        let msg = make(&server_nonce(&sf));
        c.send(b'p', msg.as_bytes());
        assert_eq!(c.expect_refusal(), failed, "{msg:?}");
    }
    let (mut c, _, _) = scram_start(port, "alice");
    c.send(b'p', &[0xff, 0xfe, b',', b'p', b'=']);
    assert_eq!(c.expect_refusal(), failed);

    // Skipping the exchange: a query instead of the SASL response, before and after the server's first message.
    let mut c = Raw::connect(port, "alice");
    c.expect_auth(10);
    c.send(b'Q', b"SELECT 1\0");
    let (severity, code, _) = c.expect_refusal();
    assert_eq!((severity.as_str(), code.as_str()), ("FATAL", "08P01"));
    let (mut c, _, _) = scram_start(port, "alice");
    c.send(b'Q', b"SELECT 1\0");
    assert_eq!(c.expect_refusal().1, "08P01");
    // Another mechanism, or a client-first message without a nonce.
    let mut c = Raw::connect(port, "alice");
    c.expect_auth(10);
    c.sasl_initial("PLAIN", b"\0alice\0wonder");
    assert_eq!(c.expect_refusal().2, "client selected an invalid SASL authentication mechanism");
    let mut c = Raw::connect(port, "alice");
    c.expect_auth(10);
    c.sasl_initial("SCRAM-SHA-256", b"n,,n=,r=");
    assert_eq!(c.expect_refusal().1, "08P01");

    // None of it hurt the host: the right password still gets in.
    let mut ok = tcp_client(port, "alice", "wonder").unwrap();
    ok.simple_query("SELECT 1").unwrap();
    assert!(alive(h.pid()));
}

// ---------- non-superusers ----------

fn tcp(port: u16, user: &str, password: &str) -> postgres::Client {
    tcp_client(port, user, password).unwrap_or_else(|e| panic!("{user} could not connect: {e}"))
}

/// SQLSTATE and message of a failed statement.
fn refused(c: &mut postgres::Client, sql: &str) -> (String, String) {
    let e = c.batch_execute(sql).expect_err(sql);
    let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
    (db.code().code().to_string(), db.message().to_string())
}

#[test]
fn non_superusers_cannot_escalate_or_reach_others_processes() {
    let dir = module_dir();
    // SQLite's own attack surface (ATTACH, triggers in SQLite's syntax, sqlite_master) is reachable only in the
    // SQLite dialect, which an operator may choose: the sandbox must hold there. (PostgreSQL's dialect refuses
    // these statements before SQLite sees them: see sqlite_statements_are_refused_in_the_postgres_dialect.)
    let h = Host::start(
        Setup::new(BGW)
            .tcp()
            .library_path(dir.path())
            .conf("shared_preload_libraries", "'sec'")
            .conf("sql_dialect", "'sqlite'"),
    );
    let port = h.port;
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'secret'");
    let me = os_user();
    let worker_pid: i32 =
        h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"root sleeper\"}')").parse().unwrap();
    let handle = h.sql(&format!("SELECT slot || ':' || generation FROM bgw_workers WHERE pid = {worker_pid}"));
    let catalog = h.data().join("global/catalog.db");
    let mut bob = tcp(port, "bob", "secret");
    let denied = |m: &str| ("42501".to_string(), m.to_string());
    // PostgreSQL's message for ALTER ROLE on a superuser or of the superuser attribute by a non-superuser.
    const SUPERUSER_ONLY: &str = "must be superuser to alter superuser roles or change superuser attribute";
    for (sql, expected) in [
        ("ALTER ROLE bob SUPERUSER", denied(SUPERUSER_ONLY)),
        (&format!("ALTER ROLE \"{me}\" PASSWORD 'mine'") as &str, denied(SUPERUSER_ONLY)),
        ("ALTER USER bob SUPERUSER", denied(SUPERUSER_ONLY)),
        ("ALTER DATABASE postgres ALLOW_CONNECTIONS false", denied("must be owner of database postgres")),
        ("DROP DATABASE template1", denied("must be owner of database template1")),
        ("SELECT bgw_launch('bgw', 'noop')", denied("permission denied to register background workers")),
        (&format!("SELECT bgw_terminate('{handle}')"), denied("permission denied to terminate background workers")),
        (&format!("SELECT pg_terminate_backend({worker_pid})"), denied("permission denied to terminate process")),
        ("SELECT pg_reload_conf()", denied("permission denied for function pg_reload_conf")),
        // A module's superuser-only SQL function (worker_spi_launch is one) does not run.
        ("SELECT sec_privileged()", denied("permission denied for function sec_privileged")),
        // The catalog is not reachable through SQL, by any spelling of its file name.
        (&format!("ATTACH '{}' AS c", catalog.display()), denied("not authorized")),
        (&format!("ATTACH '{}' || '' AS c", catalog.display()), denied("not authorized")),
        (&format!("ATTACH (SELECT '{}') AS c", catalog.display()), denied("not authorized")),
        (&format!("VACUUM INTO '{}' || '.copy'", catalog.display()), denied("authorization denied")),
    ] {
        let (code, message) = refused(&mut bob, sql);
        assert_eq!((code.as_str(), message.as_str()), (expected.0.as_str(), expected.1.as_str()), "{sql}");
    }
    // Nor with the file name as a bound parameter (the extended protocol).
    let e = bob.execute("ATTACH $1 AS c", &[&catalog.display().to_string()]).unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{e}");
    assert!(!h.log().contains("sec_privileged ran"), "the superuser-only function ran for bob");
    assert!(!catalog.with_extension("db.copy").exists());
    // Traps for a superuser: a trigger, a view and a column default that call privileged functions run with the
    // privileges of whoever sets them off, so they may not call them at all; reading functions and views still
    // work in schema objects.
    bob.batch_execute(
        "CREATE TABLE bait (x int);
         CREATE TRIGGER trap AFTER INSERT ON bait BEGIN SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"planted\"}'); END;
         CREATE VIEW lure AS SELECT pg_reload_conf() AS r;
         CREATE TABLE snare (x int, y DEFAULT (sec_privileged()));
         CREATE VIEW fine AS SELECT count(*) AS n, pg_backend_pid() AS p FROM pg_stat_activity",
    )
    .unwrap();
    for (sql, unsafe_call) in [
        ("INSERT INTO bait VALUES (1)", "bgw_register()"),
        ("SELECT * FROM lure", "pg_reload_conf()"),
        ("INSERT INTO snare (x) VALUES (1)", "sec_privileged()"),
    ] {
        let e = h.psql(sql).unwrap_err();
        assert!(e.contains(&format!("unsafe use of {unsafe_call}")), "{sql}: {e}");
    }
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'planted'"), "0");
    assert_ne!(h.sql("SELECT n FROM fine"), "0");
    // The file itself is out of reach too (SQLite's defensive mode).
    let (_, message) =
        refused(&mut bob, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = 'x' WHERE name = 'bait'");
    assert_eq!(message, "table sqlite_master may not be modified");
    // Nothing changed: bob is still no superuser, the worker still runs, the superuser may do all of it.
    let row = bob.simple_query(&format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {worker_pid}")).unwrap();
    let count = row.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(count.as_deref(), Some("1"));
    let su: i64 = rusqlite::Connection::open(&catalog)
        .unwrap()
        .query_row("SELECT superuser FROM roles WHERE name = 'bob'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(su, 0);
    assert_eq!(h.sql("SELECT sec_privileged()"), "42");
    h.wait_log("sec_privileged ran");
    assert_eq!(h.sql("SELECT pg_reload_conf()"), "t");
    // Other roles' statements are not bob's to read (they may carry passwords); his own are. A superuser's
    // session waits on the sleeper with a marked statement.
    let data = h.data();
    let (port_, me_, handle_) = (h.port, me.clone(), handle.clone());
    let waiter = std::thread::spawn(move || {
        let mut c = postgres::Config::new()
            .host_path(&data)
            .port(port_)
            .user(&me_)
            .dbname("postgres")
            .connect(postgres::NoTls)?;
        let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[])?.get(0);
        c.simple_query(&format!("SELECT bgw_wait_for_shutdown('{handle_}') AS secret_marker"))?;
        Ok::<i32, postgres::Error>(pid)
    });
    let root_pid: i32 = h
        .wait_sql(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE '%secret_marker%' AND pid <> pg_backend_pid()",
            |o| !o.is_empty(),
        )
        .parse()
        .unwrap();
    let query_of = |c: &mut postgres::Client, pid: i32| -> String {
        let rows = c.simple_query(&format!("SELECT query FROM pg_stat_activity WHERE pid = {pid}")).unwrap();
        rows.iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap_or_default()
    };
    assert_eq!(query_of(&mut bob, root_pid), "<insufficient privilege>");
    assert_eq!(query_of(&mut bob, worker_pid), "<insufficient privilege>");
    let bob_pid: i32 = bob.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert!(query_of(&mut bob, bob_pid).contains("pg_stat_activity"));
    // Privileges follow the catalog at once, for sessions already connected (as PostgreSQL's superuser() does).
    h.sql("ALTER ROLE bob SUPERUSER");
    bob.batch_execute("SELECT pg_reload_conf()").unwrap();
    h.sql("ALTER ROLE bob NOSUPERUSER");
    assert_eq!(refused(&mut bob, "SELECT bgw_launch('bgw', 'noop')").0, "42501");
    assert_eq!(refused(&mut bob, "CREATE ROLE eve").0, "42501");
    // bob's own session is his to end.
    let mut bob2 = tcp(port, "bob", "secret");
    let ended: bool = bob2.query_one(&format!("SELECT pg_terminate_backend({bob_pid})"), &[]).unwrap().get(0);
    assert!(ended);
    assert_eq!(h.sql(&format!("SELECT bgw_terminate('{handle}')")), "t");
    assert_eq!(waiter.join().unwrap().unwrap(), root_pid);
}

// ---------- hostile names ----------

#[test]
fn sqlite_statements_are_refused_in_the_postgres_dialect() {
    let h = Host::start(Setup::new(BGW).tcp());
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'b'");
    let mut bob = tcp(h.port, "bob", "b");
    let catalog = h.data().join("global").join("catalog.db");
    for (sql, code) in [
        (format!("ATTACH '{}' AS c", catalog.display()), "0A000"),
        ("CREATE TRIGGER trap AFTER INSERT ON t BEGIN SELECT 1 END".to_owned(), "42601"),
        ("SELECT randomblob(4)".to_owned(), "42883"),
    ] {
        assert_eq!(refused(&mut bob, &sql).0, code, "{sql}");
    }
    assert!(alive(h.pid()));
}

#[test]
fn hostile_role_and_database_names_are_stored_verbatim() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    let role = r#"a"; DROP TABLE roles; --"#;
    let db = r#"x'); DELETE FROM databases; --"#;
    let password = r#"p'w"; DROP TABLE roles; --"#;
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    h.sql(&format!("CREATE ROLE {} LOGIN PASSWORD {}", quoted(role), literal(password)));
    h.sql(&format!("CREATE DATABASE {}", quoted(db)));
    h.sql(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", quoted(db)));
    let catalog = rusqlite::Connection::open(h.data().join("global/catalog.db")).unwrap();
    let names = |table: &str| -> Vec<String> {
        let mut st = catalog.prepare(&format!("SELECT name FROM {table} ORDER BY oid")).unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(names("roles"), vec![os_user(), role.to_string()]);
    assert_eq!(names("databases"), vec!["template1", "postgres", db]);
    // The role logs in with its password, to the database, and is shown as itself.
    let mut c = postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(role)
        .password(password)
        .dbname(db)
        .connect(postgres::NoTls)
        .unwrap();
    let row = c.query_one("SELECT datname, usename FROM pg_stat_activity WHERE pid = pg_backend_pid()", &[]).unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1)), (db.to_string(), role.to_string()));
    c.batch_execute("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)").unwrap();
    drop(c);
    // Names differing only by the quoting do not match.
    let e = h.psql(&format!("DROP ROLE {}", quoted(&role.replace('"', "")))).unwrap_err();
    assert!(e.contains("42704"), "{e}");
    // Dropped by their names; the catalog's tables are intact.
    h.wait_sql(&format!("SELECT count(*) FROM pg_stat_activity WHERE usename = {}", literal(role)), |n| n == "0");
    h.sql(&format!("DROP DATABASE {}", quoted(db)));
    h.sql(&format!("DROP ROLE {}", quoted(role)));
    assert_eq!(names("roles"), vec![os_user()]);
    assert_eq!(names("databases"), vec!["template1", "postgres"]);
}
