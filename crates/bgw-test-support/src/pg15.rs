//! The reference server: a throwaway PostgreSQL 15 cluster, to compare bgw's answers with the real ones.
//!
//! [`Postgres::start`] runs `initdb` into a temporary directory (as the `postgres` OS user when the tests run as
//! root: the server refuses root), with the bootstrap superuser [`TEST_USER`] and its password [`TEST_PASSWORD`],
//! SCRAM over TCP and trust on its own Unix socket, and starts `postgres` in the foreground on 127.0.0.1 and a free
//! port. [`bgw_login`] gives a bgw [`Host`] started with [`Setup::tcp`](crate::Setup::tcp) the same role and
//! password, so one [`Login`] (host, port, user, password) reaches either server with the same client code:
//! driver programs get it as `PG*` environment variables.
//!
//! Containment, as for the bgw hosts: the server runs in its own process group with SIGKILL as its parent-death
//! signal (a test process that dies takes it along), and dropping the [`Postgres`] asks for a fast shutdown,
//! waits for it (a bounded time), then kills the whole group, also when the test failed.

use crate::process::{contained, kill_group, output_within};
use crate::{is_root, Host, DEADLINE};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// PostgreSQL 15's programs (`postgres`, `initdb`, `pgbench`, `psql`).
pub const PG_BINDIR: &str = "/usr/lib/postgresql/15/bin";

/// The role both servers of a comparison have (a superuser), and its password.
pub const TEST_USER: &str = "bgw_test";
pub const TEST_PASSWORD: &str = "bgw-test-password";

/// One of PostgreSQL 15's programs.
pub fn pg_program(name: &str) -> PathBuf {
    Path::new(PG_BINDIR).join(name)
}

/// Where a server is reached over TCP with a password: the same for PostgreSQL and bgw.
#[derive(Clone, Debug)]
pub struct Login {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

impl Login {
    /// The `postgres` client's configuration for database `db`.
    pub fn config(&self, db: &str) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(db)
            .connect_timeout(Duration::from_secs(30));
        c
    }

    /// A client connection to database `db` (panicking if the server refuses: the test cannot go on).
    pub fn client(&self, db: &str) -> postgres::Client {
        self.config(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("could not connect to {}:{} as {}: {e}", self.host, self.port, self.user))
    }

    /// libpq's environment variables for database `db` (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`).
    pub fn env(&self, db: &str) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", self.host.clone()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", self.user.clone()),
            ("PGPASSWORD", self.password.clone()),
            ("PGDATABASE", db.to_string()),
            ("PGCONNECT_TIMEOUT", "30".to_string()),
        ]
    }

    /// `program` with this login in its environment (for database `db`), contained like the servers.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, db: &str) -> Command {
        let mut cmd = Command::new(program);
        for (k, v) in self.env(db) {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        contained(&mut cmd);
        cmd
    }

    /// Runs `cmd` (made by [`command`](Self::command)) to its end; its output. A command that does not finish
    /// within `deadline` is killed and the test fails.
    pub fn run(cmd: &mut Command, deadline: Duration) -> Output {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        output_within(child, deadline).unwrap_or_else(|| panic!("{cmd:?} did not finish within {deadline:?}"))
    }

    /// Runs SQL with psql (`-X -A -t`, stopping at the first error) in database `db`: Ok(output) or Err(stderr).
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = self.command("psql", db);
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        let out = Login::run(&mut cmd, DEADLINE);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// psql that must succeed.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        self.psql(db, sql).unwrap_or_else(|e| panic!("{sql} on port {}: {e}", self.port))
    }
}

/// Gives a bgw host (started with [`Setup::tcp`](crate::Setup::tcp)) the role [`TEST_USER`] (a superuser) with
/// [`TEST_PASSWORD`]; the [`Login`] that reaches it over TCP.
pub fn bgw_login(host: &Host) -> Login {
    host.sql(&format!("CREATE ROLE {TEST_USER} LOGIN SUPERUSER PASSWORD '{TEST_PASSWORD}'"));
    Login { host: "127.0.0.1".into(), port: host.port, user: TEST_USER.into(), password: TEST_PASSWORD.into() }
}

/// A running throwaway PostgreSQL 15 cluster (see the module doc); stopped when dropped.
pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// uid and gid the server runs as (the `postgres` user when the tests are root).
    run_as: Option<(u32, u32)>,
}

impl Postgres {
    /// A fresh cluster, started and accepting connections.
    pub fn start() -> Postgres {
        Postgres::start_with(&[])
    }

    /// A fresh cluster with extra `postgresql.conf` lines `name = value`.
    pub fn start_with(conf: &[(&str, &str)]) -> Postgres {
        let dir = tempfile::Builder::new().prefix("bgwpg").tempdir_in("/tmp").unwrap();
        let run_as = if is_root() { Some(postgres_ids()) } else { None };
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{TEST_PASSWORD}\n")).unwrap();
        if let Some((uid, gid)) = run_as {
            let st = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(dir.path()).status().unwrap();
            assert!(st.success(), "chown of {} failed", dir.path().display());
        }
        let mut pg = Postgres { dir, port: crate::free_tcp_port(), child: None, run_as };
        let mut initdb = pg.command(&pg_program("initdb"));
        initdb.arg("-D").arg(&data).args(["-U", TEST_USER, "--pwfile"]).arg(&pwfile).args([
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        let out = initdb.output().unwrap();
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut text = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        text.push_str(&format!(
            "\n# bgw-test-support\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nlogging_collector = off\n",
            pg.port,
            pg.dir.path().display()
        ));
        for (k, v) in conf {
            text.push_str(&format!("{k} = {v}\n"));
        }
        std::fs::write(data.join("postgresql.conf"), text).unwrap();
        std::fs::File::create(pg.log_path()).unwrap();
        if let Some((uid, gid)) = pg.run_as {
            std::os::unix::fs::chown(pg.log_path(), Some(uid), Some(gid)).unwrap();
        }
        pg.launch();
        pg
    }

    /// A hot standby of `primary` (pg_basebackup over the primary's Unix socket, streaming replication), started
    /// on a port of its own and accepting (read-only) connections.
    pub fn standby_of(primary: &Postgres) -> Postgres {
        let dir = tempfile::Builder::new().prefix("bgwpgs").tempdir_in("/tmp").unwrap();
        let run_as = primary.run_as;
        if let Some((uid, gid)) = run_as {
            let st = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(dir.path()).status().unwrap();
            assert!(st.success(), "chown of {} failed", dir.path().display());
        }
        let mut pg = Postgres { dir, port: crate::free_tcp_port(), child: None, run_as };
        let data = pg.dir.path().join("data");
        let mut backup = pg.command(&pg_program("pg_basebackup"));
        backup
            .arg("-h")
            .arg(primary.dir.path())
            .arg("-p")
            .arg(primary.port.to_string())
            .args(["-U", TEST_USER, "-X", "stream", "-R", "--no-sync", "-D"])
            .arg(&data);
        let out = backup.output().unwrap();
        assert!(out.status.success(), "pg_basebackup failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut text = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        text.push_str(&format!(
            "\n# bgw-test-support: the standby\nport = {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            pg.port,
            pg.dir.path().display()
        ));
        std::fs::write(data.join("postgresql.conf"), text).unwrap();
        std::fs::File::create(pg.log_path()).unwrap();
        if let Some((uid, gid)) = pg.run_as {
            std::os::unix::fs::chown(pg.log_path(), Some(uid), Some(gid)).unwrap();
        }
        pg.launch();
        pg
    }

    /// Starts the server on its data directory (appending to its log) and waits until it accepts connections.
    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new().append(true).open(self.log_path()).unwrap();
        let mut cmd = self.command(&pg_program("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(contained(&mut cmd).spawn().expect("PostgreSQL 15 must be installed (.ci/run)"));
        self.wait_ready();
    }

    /// Stops the server (fast shutdown: its sessions end, their open transactions roll back) and starts it again
    /// on the same data directory and port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts a server that [`stop`](Self::stop) stopped, on the same data directory and port.
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            self.launch();
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read(self.log_path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if self.login().config("postgres").connect(postgres::NoTls).is_ok() {
                return;
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("PostgreSQL exited at start ({st}); log:\n{}", self.log());
            }
            if start.elapsed() > DEADLINE {
                panic!("PostgreSQL did not accept connections; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How clients reach it: 127.0.0.1, its port, [`TEST_USER`] and [`TEST_PASSWORD`].
    pub fn login(&self) -> Login {
        Login { host: "127.0.0.1".into(), port: self.port, user: TEST_USER.into(), password: TEST_PASSWORD.into() }
    }

    /// The postmaster's pid (0 once stopped).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Fast shutdown (SIGINT) and a wait for it, bounded; then the whole process group is killed.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = child.id() as i32;
        crate::try_signal(pid, libc::SIGINT);
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(10));
        }
        kill_group(pid);
        let _ = child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `postgres` OS user's uid and gid (PostgreSQL refuses to run as root).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no postgres OS user (the postgresql-15 package creates it)"))
    };
    (id("-u"), id("-g"))
}
