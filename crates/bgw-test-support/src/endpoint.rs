//! Where a test host is reached ([`Endpoint`]: its socket directory and port), from any thread: the real `psql`
//! one statement at a time or as a session that stays connected ([`Session`]), and client configurations.

use crate::process::{contained, output_within};
use crate::DEADLINE;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// Where a host is reached: its socket directory (the data directory) and port. Cheap to clone and `Send`, so
/// another thread can run SQL or connect while the test holds the [`Host`](crate::Host).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub data: PathBuf,
    pub port: u16,
}

impl Endpoint {
    /// Runs SQL as the OS user in the `postgres` database, errors with their SQLSTATE (`ERROR:  53400: ...`):
    /// Some(Ok(output)) or Some(Err(error text)); None if psql did not finish within the deadline (it is killed
    /// then: a hang is a failure, never a stuck suite).
    pub fn psql(&self, sql: &str) -> Option<Result<String, String>> {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-h"])
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "30")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = contained(&mut cmd).spawn().expect("psql must be installed");
        let out = output_within(child, DEADLINE)?;
        Some(if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        })
    }

    /// [`psql`](Self::psql) on another thread: Ok(output) or Err(error text), an Err also if psql did not finish
    /// within the deadline.
    pub fn spawn_psql(&self, sql: String) -> std::thread::JoinHandle<Result<String, String>> {
        let endpoint = self.clone();
        std::thread::spawn(move || {
            endpoint.psql(&sql).unwrap_or_else(|| Err(format!("psql did not finish within {DEADLINE:?}: {sql}")))
        })
    }

    /// A client configuration for the Unix socket, as `user`, to database `db`.
    pub fn client_config(&self, user: &str, db: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config.host_path(&self.data).port(self.port).user(user).dbname(db);
        config
    }

    /// Opens a psql session that stays connected until dropped (or [`Session::close`]d), and returns once it is
    /// connected.
    pub fn session(&self) -> Session {
        let mut child = Command::new("psql")
            .args(["-X", "-A", "-t", "-h"])
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-d", "postgres"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "SELECT pg_backend_pid();").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let backend_pid = line.trim().parse().unwrap_or_else(|_| panic!("session did not connect: {line:?}"));
        Session { child, stdin: Some(stdin), backend_pid }
    }
}

/// A connected psql session (see [`Endpoint::session`]); killed when dropped.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
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
