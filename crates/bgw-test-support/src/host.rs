//! A test host: a data directory made by `bgw initdb` in a temporary directory, and the real postmaster on it.
//!
//! Layout: `<tmp>/data` (the data directory, also the Unix socket's directory), `<tmp>/server.log` (the
//! postmaster's output), and with a [`Module`] `<tmp>/lib/<library>.so` first on `dynamic_library_path`.
//!
//! The postmaster runs in the foreground in its own process group, with SIGKILL as its parent-death signal;
//! dropping the `Host` kills the whole group, so nothing outlives a test, also one that fails.

use crate::binary::initdb;
use crate::client::{free_tcp_port, os_user, unique_port};
use crate::endpoint::{Endpoint, Session};
use crate::process::{contained, group_members, kill_group};
use crate::{Module, DEADLINE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options for a host.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The `bgw` executable.
    pub bin: PathBuf,
    /// Lines `name = value` appended to `bgworker.conf`.
    pub conf: Vec<(String, String)>,
    /// The declared workers (`workers.toml`); none by default (initdb's demo workers are removed).
    pub workers_toml: Option<String>,
    /// Start as a standby (`standby.signal`).
    pub standby: bool,
    /// A fixed port (TCP tests need one that is free); otherwise one unique to the test.
    pub port: Option<u16>,
    /// Environment variables of the postmaster.
    pub env: Vec<(String, String)>,
    /// A module crate to install on the host's library path.
    pub module: Option<Module>,
    /// Run the postmaster as this OS user (tests run as root; a limit such as RLIMIT_NPROC binds only others):
    /// the host's directory is given to that user.
    pub os_user: Option<String>,
}

impl Setup {
    /// A host that runs the `bgw` executable `bin`.
    pub fn new(bin: impl AsRef<Path>) -> Setup {
        Setup {
            bin: bin.as_ref().to_path_buf(),
            conf: Vec::new(),
            workers_toml: None,
            standby: false,
            port: None,
            env: Vec::new(),
            module: None,
            os_user: None,
        }
    }
    /// Runs the postmaster as the OS user `user` (for example `nobody`) instead of the test's (root).
    pub fn os_user(mut self, user: &str) -> Self {
        self.os_user = Some(user.to_string());
        self
    }
    pub fn conf(mut self, name: &str, value: &str) -> Self {
        self.conf.push((name.to_string(), value.to_string()));
        self
    }
    pub fn workers(mut self, toml: &str) -> Self {
        self.workers_toml = Some(toml.to_string());
        self
    }
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Also listens on TCP, on 127.0.0.1 and a port that was free (the host's [`Host::port`]).
    pub fn tcp(self) -> Self {
        self.port(free_tcp_port()).conf("listen_addresses", "'127.0.0.1'")
    }
    pub fn standby(mut self) -> Self {
        self.standby = true;
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }
    /// Looks for libraries in `dir` first (`dynamic_library_path`).
    pub fn library_path(self, dir: &Path) -> Self {
        self.conf("dynamic_library_path", &format!("'{}:$libdir'", dir.display()))
    }
    /// Installs `module` in the host's own library directory, first on its library path.
    pub fn module(mut self, module: Module) -> Self {
        self.module = Some(module);
        self
    }
    /// Loads the module (see [`module`](Self::module)) at start: its `_PG_init` runs in the postmaster.
    pub fn preload(self) -> Self {
        let module = self.module.expect("preload needs a module");
        self.conf("shared_preload_libraries", &format!("'{}'", module.library()))
    }
}

pub struct Host {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The postmaster, while the test has one running (or exited and not yet forgotten).
    pub child: Option<Child>,
    pub log_path: PathBuf,
    bin: PathBuf,
    env: Vec<(String, String)>,
    /// (uid, gid) the postmaster runs as, if not the test's.
    run_as: Option<(u32, u32)>,
}

impl Host {
    /// A data directory, initialized and configured, not started.
    pub fn init(setup: &Setup) -> Host {
        let dir = tempfile::Builder::new().prefix("bgwt").tempdir_in("/tmp").unwrap();
        let data = dir.path().join("data");
        initdb(&setup.bin, &data);
        std::fs::write(data.join("workers.toml"), setup.workers_toml.clone().unwrap_or_default()).unwrap();
        if setup.standby {
            std::fs::write(data.join("standby.signal"), "").unwrap();
        }
        let port = setup.port.unwrap_or_else(unique_port);
        let mut conf = std::fs::read_to_string(data.join("bgworker.conf")).unwrap();
        conf.push_str(&format!("\nport = {port}\nlog_min_messages = debug1\n"));
        if let Some(module) = setup.module {
            let libdir = dir.path().join("lib");
            std::fs::create_dir(&libdir).unwrap();
            std::fs::copy(module.lib(), libdir.join(format!("{}.so", module.library()))).unwrap();
            conf.push_str(&format!("dynamic_library_path = '{}:$libdir'\n", libdir.display()));
        }
        for (k, v) in &setup.conf {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        std::fs::write(data.join("bgworker.conf"), conf).unwrap();
        let log_path = dir.path().join("server.log");
        let run_as = setup.os_user.as_deref().map(|user| {
            let ids = user_ids(user);
            chown_tree(dir.path(), ids);
            ids
        });
        Host { dir, port, child: None, log_path, bin: setup.bin.clone(), env: setup.env.clone(), run_as }
    }

    /// Starts a host and waits until it accepts connections.
    pub fn start(setup: Setup) -> Host {
        let mut h = Host::init(&setup);
        h.launch_postmaster(&[]);
        h.wait_ready();
        h
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The `bgw` executable this host runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Spawns `bgw start` in the foreground (its own process group), with `extra` arguments, logging to the log
    /// file.
    pub fn launch_postmaster(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("start")
            .arg("-D")
            .arg(self.data())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        self.child = Some(contained(&mut cmd).spawn().unwrap());
    }

    pub fn wait_ready(&self) {
        self.wait_log("database system is ready to accept");
    }

    /// The postmaster's pid (0 without one).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Sends `sig` to the postmaster.
    pub fn signal(&self, sig: i32) {
        crate::signal(self.pid(), sig);
    }

    /// Waits for the postmaster to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            if start.elapsed() > DEADLINE {
                panic!("the postmaster did not exit; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the postmaster with a signal and waits; its exit code.
    pub fn stop(&mut self, sig: i32) -> Option<i32> {
        self.signal(sig);
        let code = self.wait_exit();
        self.child = None;
        code
    }

    /// Pids of this host's processes (the postmaster's process group) other than the postmaster.
    pub fn group_pids(&self) -> Vec<i32> {
        group_members(self.pid())
    }

    /// Runs a `bgw` subcommand against this data directory.
    pub fn bgw(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin).args(args).arg("-D").arg(self.data()).output().unwrap()
    }

    // ---------- the server log ----------

    pub fn log(&self) -> String {
        std::fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; the log then. Panics with the log after the deadline.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_count(needle, 1)
    }

    /// Waits until the log contains `needle` at least `n` times; the log then.
    pub fn wait_log_count(&self, needle: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if log.matches(needle).count() >= n {
                return log;
            }
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting for {n} x {needle:?} in the log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log says the process `pid` exited with exit code 1; the log then.
    pub fn wait_exited_1(&self, pid: i32) -> String {
        self.wait_log(&format!("(PID {pid}) exited with exit code 1"))
    }

    // ---------- SQL ----------

    /// Where this host is reached (for SQL and clients from another thread).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { data: self.data(), port: self.port }
    }

    /// Runs SQL with psql: Ok(output) or Err(error text, with the SQLSTATE). A psql that does not finish within
    /// the deadline is killed and the test fails with the server log.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.endpoint()
            .psql(sql)
            .unwrap_or_else(|| panic!("psql did not finish within {DEADLINE:?}: {sql}\nlog:\n{}", self.log()))
    }

    /// psql that must succeed.
    pub fn sql(&self, sql: &str) -> String {
        self.psql(sql).unwrap_or_else(|e| panic!("{sql}: {e}\nlog:\n{}", self.log()))
    }

    /// Polls a query until `pred` holds for its output; the output then.
    pub fn wait_sql(&self, sql: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Ok(out) = self.psql(sql) {
                if pred(&out) {
                    return out;
                }
            }
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting on {sql}: last {:?}\nlog:\n{}", self.psql(sql), self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pid of the worker named `name` (in `bgw_workers`), once it has one.
    pub fn wait_worker_pid(&self, name: &str) -> i32 {
        let sql = format!("SELECT pid FROM bgw_workers WHERE name = '{name}'");
        self.wait_sql(&sql, |o| o.parse::<i32>().is_ok()).parse().unwrap()
    }

    /// Opens a psql session that stays connected until dropped (or closed), once it is connected.
    pub fn session(&self) -> Session {
        self.endpoint().session()
    }

    /// `datname|usename` of a session or worker (`-` for no database).
    pub fn activity(&self, pid: i32) -> String {
        self.sql(&format!("SELECT coalesce(datname, '-'), usename FROM pg_stat_activity WHERE pid = {pid}"))
    }

    /// The catalog the host keeps in `global/catalog.db` (roles and databases).
    pub fn catalog(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data().join("global/catalog.db")).unwrap()
    }

    // ---------- the dynamic registration API ----------

    /// `bgw_launch(library, function, arg, options)`: the pid of the started worker.
    pub fn launch(&self, library: &str, function: &str, arg: i64, options: &str) -> i32 {
        let sql = format!("SELECT bgw_launch('{library}', '{function}', {arg}, '{options}')");
        let out = self.sql(&sql);
        out.parse().unwrap_or_else(|_| panic!("{sql}: no pid but {out:?}"))
    }

    /// `bgw_register(library, function, arg, options)`: the handle, or "" when no slot is free (NULL).
    pub fn register(&self, library: &str, function: &str, arg: i64, options: &str) -> String {
        self.sql(&format!("SELECT bgw_register('{library}', '{function}', {arg}, '{options}')"))
    }

    // ---------- clients ----------

    /// A client configuration for the Unix socket, as `user`, to database `db`.
    pub fn client_config(&self, user: &str, db: &str) -> postgres::Config {
        self.endpoint().client_config(user, db)
    }

    /// A client connection as `user` to database `db`.
    pub fn connect(&self, user: &str, db: &str) -> Result<postgres::Client, postgres::Error> {
        self.client_config(user, db).connect(postgres::NoTls)
    }

    /// A client connection as the OS user to the `postgres` database (panicking if the host refuses: a test that
    /// needs a client cannot go on without one).
    pub fn client(&self) -> postgres::Client {
        self.connect(&os_user(), "postgres")
            .unwrap_or_else(|e| panic!("could not connect to the host on port {}: {e}", self.port))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(c.id() as i32);
            let _ = c.wait();
        }
    }
}

/// (uid, gid) of the OS user `user`.
fn user_ids(user: &str) -> (u32, u32) {
    let name = std::ffi::CString::new(user).unwrap();
    // SAFETY: getpwnam with a NUL-terminated name; the returned record is read at once (tests are the only caller
    // of getpwnam in this process, and a race would only give another user's ids).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!pw.is_null(), "no OS user {user:?}");
    // SAFETY: non-null, points to the C library's static record.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

/// Gives `dir` and everything under it to (uid, gid).
fn chown_tree(dir: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            chown_tree(&path, (uid, gid));
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).unwrap();
        }
    }
}
