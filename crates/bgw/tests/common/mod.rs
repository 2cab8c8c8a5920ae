//! Test harness: a real `bgw` postmaster in a temporary data directory, driven with the real `psql`.
//!
//! Every `Host` runs its postmaster in its own process group and kills the whole group when dropped, so no
//! process outlives a test, even one that fails. Waits are on events (a log line appearing, a query result
//! changing) with generous deadlines; nothing sleeps for a fixed time assuming speed.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

#[path = "../../../../tests/support/process_output.rs"]
mod process_output;
pub use process_output::output_within;
#[path = "../../../../tests/support/client.rs"]
mod client;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn bgw_bin() -> &'static str {
    env!("CARGO_BIN_EXE_bgw")
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port number unique to this test process and call (only used to name the Unix socket).
pub fn unique_port() -> u16 {
    let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed) as u32;
    (20000 + (std::process::id() % 1000) * 40 + n % 40) as u16
}

pub struct Host {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub child: Option<Child>,
    pub log_path: PathBuf,
}

/// Options for a host.
#[derive(Default, Clone)]
pub struct Setup {
    pub conf: Vec<(String, String)>,
    pub workers_toml: Option<String>,
    pub standby: bool,
    /// A fixed port (TCP tests need one that is free); otherwise one unique to the test.
    pub port: Option<u16>,
}

impl Setup {
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
    pub fn standby(mut self) -> Self {
        self.standby = true;
        self
    }
}

pub fn initdb(dir: &Path) {
    let out = Command::new(bgw_bin()).args(["initdb", "-D"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
}

impl Host {
    /// A data directory, initialized, not started.
    pub fn init(setup: &Setup) -> Host {
        let dir = tempfile::Builder::new().prefix("bgwt").tempdir_in("/tmp").unwrap();
        let data = dir.path().join("data");
        initdb(&data);
        std::fs::write(data.join("workers.toml"), setup.workers_toml.clone().unwrap_or_default()).unwrap();
        if setup.standby {
            std::fs::write(data.join("standby.signal"), "").unwrap();
        }
        let port = setup.port.unwrap_or_else(unique_port);
        let mut conf = std::fs::read_to_string(data.join("bgworker.conf")).unwrap();
        conf.push_str(&format!("\nport = {port}\nlog_min_messages = debug1\n"));
        for (k, v) in &setup.conf {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        std::fs::write(data.join("bgworker.conf"), conf).unwrap();
        let log_path = dir.path().join("server.log");
        Host { dir, port, child: None, log_path }
    }

    /// Starts and waits until ready.
    pub fn start(setup: Setup) -> Host {
        let mut h = Host::init(&setup);
        h.launch_postmaster(&[]);
        h.wait_ready();
        h
    }

    /// A client connection as the OS user to the `postgres` database.
    pub fn client(&self) -> postgres::Client {
        client::connect(&self.data(), self.port)
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Spawns the postmaster in the foreground (its own process group), logging to the log file.
    pub fn launch_postmaster(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path).unwrap();
        let mut cmd = Command::new(bgw_bin());
        cmd.arg("start")
            .arg("-D")
            .arg(self.data())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; if the test process dies, the postmaster (and through it every
        // child) goes too.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn wait_ready(&self) {
        self.wait_log("database system is ready to accept");
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the log contains `needle`; panics with the log after the deadline.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_count(needle, 1)
    }

    /// Waits until the log contains `needle` at least `n` times.
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

    /// Runs SQL with psql; Ok(stdout) or Err(stderr). A psql that does not finish within the deadline is killed
    /// and the test fails with the server log (a hang is a failure, never a stuck suite).
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let child = Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-h"])
            .arg(self.data())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg("postgres")
            .arg("-c")
            .arg(sql)
            .env("PGCONNECT_TIMEOUT", "30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = output_within(child, DEADLINE)
            .unwrap_or_else(|| panic!("psql did not finish within {DEADLINE:?}: {sql}\nlog:\n{}", self.log()));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// Opens a psql session that stays connected until dropped (or `close`d), and returns once it is connected.
    pub fn session(&self) -> Session {
        let mut child = Command::new("psql")
            .args(["-X", "-A", "-t", "-h"])
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-d", "postgres"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::{BufRead, Write};
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "SELECT pg_backend_pid();").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let backend_pid = line.trim().parse().unwrap_or_else(|_| panic!("session did not connect: {line:?}"));
        Session { child, stdin: Some(stdin), backend_pid }
    }

    /// Like psql, panicking on error.
    pub fn sql(&self, sql: &str) -> String {
        self.psql(sql).unwrap_or_else(|e| panic!("{sql}: {e}\nlog:\n{}", self.log()))
    }

    /// Polls a query until `pred` holds for its output.
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

    /// Runs a `bgw` subcommand against this data directory.
    pub fn bgw(&self, args: &[&str]) -> std::process::Output {
        Command::new(bgw_bin()).args(args).arg("-D").arg(self.data()).output().unwrap()
    }

    /// Waits for the postmaster to exit; returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            if start.elapsed() > DEADLINE {
                panic!("postmaster did not exit; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the postmaster with a signal and waits.
    pub fn stop(&mut self, sig: i32) -> Option<i32> {
        unsafe { libc::kill(self.pid(), sig) };
        let code = self.wait_exit();
        self.child = None;
        code
    }

    /// Pids of this host's processes (the postmaster's process group) other than the postmaster.
    pub fn group_pids(&self) -> Vec<i32> {
        group_members(self.pid())
    }
}

/// Processes in process group `pgid` (which is the postmaster's pid), excluding the leader.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if pgid <= 0 {
        return out;
    }
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name (which may contain spaces) follow the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] = state, [1] = ppid, [2] = pgrp
        if fields.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pgid) && pid != pgid && fields[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\0').replace('\0', " "))
        .unwrap_or_default()
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

/// Waits until `pred` holds.
pub fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let start = Instant::now();
    while !pred() {
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pgid = c.id() as i32;
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}

/// A connected psql session (see [`Host::session`]).
pub struct Session {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    /// The pid of the backend serving it.
    pub backend_pid: i32,
}

impl Session {
    /// Ends the session as psql does at end of input, and waits for psql to exit.
    pub fn close(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OS user's name (psql's and libpq's default role, and initdb's bootstrap superuser).
pub fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
