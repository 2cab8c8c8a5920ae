//! Test harness for loadable Rust modules: the real `bgw` host in a temporary directory, with the module under
//! test installed as `<tmp>/lib/<LIBRARY>.so` on its library path, driven with the real `psql`.
//!
//! Shared by the module crates' integration tests: each includes this file from its `tests/common/mod.rs` with
//! `#[path]`, after defining `PACKAGE` (the cargo package), `LIB_FILE` (what cargo builds, `lib<name>.so`) and
//! `LIBRARY` (the name the host loads it by).
//!
//! Where things are: the test executable is `<target>/<profile>/deps/<test>-<hash>`, so the host binary is
//! `<target>/<profile>/bgw` and the module `<target>/<profile>/<LIB_FILE>` (cargo builds the module before
//! the tests of its package). `cargo test --workspace` builds the host too; if it is missing, the harness builds
//! it once with the `cargo` that runs the tests.
//!
//! Every host runs in its own process group with a parent-death signal, and the whole group is killed when the
//! `Host` is dropped (also when a test fails), so no process outlives a test. Waits are on events (log lines,
//! query results) with a generous deadline; nothing sleeps a fixed time assuming speed.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "process_output.rs"]
mod process_output;
pub use process_output::output_within;
#[path = "client.rs"]
mod client;

pub const DEADLINE: Duration = Duration::from_secs(30);

/// `<target>/<profile>`, from the test executable's location.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the deps directory");
    deps.parent().expect("the profile directory").to_path_buf()
}

/// The host binary, built first if it is missing.
pub fn bgw_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile = profile_dir();
        let bin = profile.join("bgw");
        if !bin.is_file() {
            build_host(&profile);
        }
        assert!(bin.is_file(), "the host binary {} does not exist", bin.display());
        bin
    })
}

fn build_host(profile: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile.parent().expect("the target directory");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "bgw", "--bin", "bgw", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo to build the host");
    assert!(status.success(), "cargo build -p bgw failed");
}

/// The module as cargo built it. Cargo does not build a cdylib-only library for its package's integration
/// tests, so the harness asks the `cargo` that runs the tests to build it (once per test process; a no-op when it
/// is current), which also keeps a stale copy from being tested.
pub fn module_lib() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile = profile_dir();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", super::PACKAGE, "--lib", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .arg("--target-dir")
            .arg(profile.parent().expect("the target directory"));
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo to build the module");
        assert!(status.success(), "cargo build -p {} --lib failed", super::PACKAGE);
    });
    let lib = profile_dir().join(super::LIB_FILE);
    assert!(lib.is_file(), "the module {} has not been built", lib.display());
    lib
}

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A port number unique to this test process and call (it only names the Unix socket).
pub fn unique_port() -> u16 {
    let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    (30000 + (std::process::id() % 500) * 50 + n % 50) as u16
}

/// Options for a host.
#[derive(Default, Clone)]
pub struct Setup {
    pub conf: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
}

impl Setup {
    pub fn conf(mut self, name: &str, value: &str) -> Self {
        self.conf.push((name.to_string(), value.to_string()));
        self
    }
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }
    /// Loads the module at start (its `_PG_init` runs in the postmaster).
    pub fn preload(self) -> Self {
        self.conf("shared_preload_libraries", &format!("'{}'", super::LIBRARY))
    }
}

pub struct Host {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub child: Option<Child>,
    pub log_path: PathBuf,
    env: Vec<(String, String)>,
}

/// A command that dies with the test: its own process group (killed as a whole by the caller) and SIGKILL when
/// the thread that started it goes away.
fn contained(mut cmd: Command) -> Command {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent; it runs in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
    cmd
}

impl Host {
    /// A data directory (initialized, configured, with the module installed as `<LIBRARY>.so`); not started.
    pub fn init(setup: &Setup) -> Host {
        let dir = tempfile::Builder::new().prefix("bgwrs").tempdir_in("/tmp").unwrap();
        let libdir = dir.path().join("lib");
        std::fs::create_dir(&libdir).unwrap();
        std::fs::copy(module_lib(), libdir.join(format!("{}.so", super::LIBRARY))).unwrap();
        let data = dir.path().join("data");
        let out = Command::new(bgw_bin()).args(["initdb", "-D"]).arg(&data).output().unwrap();
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        // No declared workers (initdb writes demo tickers).
        std::fs::write(data.join("workers.toml"), "").unwrap();
        let port = unique_port();
        let mut conf = std::fs::read_to_string(data.join("bgworker.conf")).unwrap();
        conf.push_str(&format!(
            "\nport = {port}\nlog_min_messages = debug1\ndynamic_library_path = '{}:$libdir'\n",
            libdir.display()
        ));
        for (k, v) in &setup.conf {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        std::fs::write(data.join("bgworker.conf"), conf).unwrap();
        let log_path = dir.path().join("server.log");
        Host { dir, port, child: None, log_path, env: setup.env.clone() }
    }

    /// Starts a host and waits until it accepts connections.
    pub fn start(setup: Setup) -> Host {
        let mut h = Host::init(&setup);
        h.launch_postmaster();
        h.wait_log("database system is ready to accept");
        h
    }

    /// A client connection as the OS user to the `postgres` database.
    pub fn client(&self) -> postgres::Client {
        client::connect(&self.data(), self.port)
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `bgw start` in the foreground (own process group), logging to the log file.
    pub fn launch_postmaster(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path).unwrap();
        let mut cmd = Command::new(bgw_bin());
        cmd.arg("start").arg("-D").arg(self.data()).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(contained(cmd).spawn().unwrap());
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
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

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the log contains `needle`; the log then.
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

    /// Runs SQL with psql: Ok(output) or Err(error text). A psql that outlives the deadline fails the test.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_with(&[], sql)
    }

    /// psql with errors reported with their SQLSTATE (`ERROR:  53400: ...`).
    pub fn psql_verbose(&self, sql: &str) -> Result<String, String> {
        self.psql_with(&["-v", "VERBOSITY=verbose"], sql)
    }

    fn psql_with(&self, extra: &[&str], sql: &str) -> Result<String, String> {
        let mut cmd = Command::new("psql");
        cmd.args(extra)
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.data())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "30")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = contained(cmd).spawn().expect("psql must be installed");
        let out = output_within(child, DEADLINE)
            .unwrap_or_else(|| panic!("psql did not finish within {DEADLINE:?}: {sql}\nlog:\n{}", self.log()));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
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

    /// Runs a `bgw` subcommand against this data directory.
    pub fn bgw(&self, args: &[&str]) -> std::process::Output {
        Command::new(bgw_bin()).args(args).arg("-D").arg(self.data()).output().unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the process group we created for this postmaster (its pid is the group id).
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

/// The process title (its command line as `ps` shows it).
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\0').replace('\0', " "))
        .unwrap_or_default()
}

/// Waits until `pred` holds, polling; panics with `what` after the deadline.
pub fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let start = Instant::now();
    while !pred() {
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

/// Every number that follows `prefix` in `text` (e.g. the pids of "... with PID 123" lines).
pub fn numbers_after(text: &str, prefix: &str) -> Vec<i32> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The OS user's name (libpq's default role, and initdb's bootstrap superuser).
pub fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
