//! The two hosts under test: a throwaway PostgreSQL 15 cluster and a throwaway bgw data directory.
//!
//! Both run in the foreground as children of the driver, in their own process groups, and are stopped (fast
//! shutdown, then SIGKILL of the group if that hangs) when dropped, so a failing run leaves nothing behind. The
//! PostgreSQL server refuses to run as root: when the driver is root, initdb and the server run as the `postgres`
//! user, and the cluster lives in a directory that user owns.

use anyhow::{anyhow, bail, Context, Result};
use postgres::{Client, NoTls};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which host a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Bgw,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Postgres => "pg",
            Kind::Bgw => "bgw",
        }
    }
}

/// Where the programs and the built benchmark modules are.
#[derive(Clone, Debug)]
pub struct Tools {
    pub pg_bindir: PathBuf,
    /// Directory holding bgw_bench.so built with PGXS.
    pub pg_module_dir: PathBuf,
    pub bgw_bin: PathBuf,
    /// Directory holding bgw_bench.so built against include/bgworker.h.
    pub bgw_module_dir: PathBuf,
}

/// Settings both hosts get (each in its own configuration syntax, which happens to be the same).
#[derive(Clone, Debug)]
pub struct Settings {
    pub max_worker_processes: u32,
    pub static_workers: u32,
}

pub struct Host {
    pub kind: Kind,
    pub data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    user: String,
    log: PathBuf,
    child: Option<Child>,
    /// uid/gid the server runs as (PostgreSQL as root: the postgres user).
    run_as: Option<(u32, u32)>,
    tools: Tools,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_ids() -> Result<(u32, u32)> {
    let out = Command::new("id").args(["-u", "postgres"]).output()?;
    let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().context("no postgres user")?;
    let out = Command::new("id").args(["-g", "postgres"]).output()?;
    let gid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().context("no postgres group")?;
    Ok((uid, gid))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let st = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(path).status()?;
    if !st.success() {
        bail!("chown {} failed", path.display());
    }
    Ok(())
}

impl Host {
    /// Creates the data directory under `root` (initdb) and writes the configuration; does not start.
    pub fn create(kind: Kind, root: &Path, tools: &Tools, port: u16, settings: &Settings) -> Result<Host> {
        let base = root.join(kind.label());
        std::fs::create_dir_all(&base)?;
        let data = base.join("data");
        let log = base.join("server.log");
        let (socket_dir, user, run_as) = match kind {
            Kind::Postgres => {
                let run_as = if is_root() { Some(postgres_ids()?) } else { None };
                let sock = base.join("sock");
                std::fs::create_dir_all(&sock)?;
                if let Some((uid, gid)) = run_as {
                    chown_tree(&base, uid, gid)?;
                }
                let user = if run_as.is_some() { "postgres".to_string() } else { whoami() };
                (sock, user, run_as)
            }
            Kind::Bgw => (data.clone(), whoami(), None),
        };
        let mut host = Host { kind, data, socket_dir, port, user, log, child: None, run_as, tools: tools.clone() };
        host.initdb()?;
        host.configure(settings)?;
        Ok(host)
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn initdb(&self) -> Result<()> {
        let out = match self.kind {
            Kind::Postgres => self
                .command(&self.tools.pg_bindir.join("initdb"))
                .args(["-D"])
                .arg(&self.data)
                .args(["-U", &self.user, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
                .output()?,
            Kind::Bgw => Command::new(&self.tools.bgw_bin).args(["initdb", "-D"]).arg(&self.data).output()?,
        };
        if !out.status.success() {
            bail!("{} initdb failed: {}", self.kind.label(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Writes the benchmark's settings (appended: later lines win in both hosts' configuration files).
    pub fn configure(&mut self, s: &Settings) -> Result<()> {
        let (file, module_dir) = match self.kind {
            Kind::Postgres => (self.data.join("postgresql.conf"), &self.tools.pg_module_dir),
            Kind::Bgw => (self.data.join("bgworker.conf"), &self.tools.bgw_module_dir),
        };
        let mut conf = std::fs::read_to_string(&file)?;
        conf.push_str(&format!(
            "\n# bgw-bench\nport = {}\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             shared_preload_libraries = 'bgw_bench'\ndynamic_library_path = '{}:$libdir'\n\
             max_worker_processes = {}\nbgw_bench.static_workers = {}\nmax_connections = 100\n",
            self.port,
            self.socket_dir.display(),
            module_dir.display(),
            s.max_worker_processes,
            s.static_workers,
        ));
        if self.kind == Kind::Postgres {
            // Room for the parallel workers PostgreSQL counts against the same limit is not needed here; the
            // benchmark's workers are all of the default class.
            conf.push_str("logging_collector = off\n");
        } else {
            // No declared workers beyond the bench module's own (initdb writes demo tickers).
            std::fs::write(self.data.join("workers.toml"), "")?;
        }
        std::fs::write(&file, conf)?;
        Ok(())
    }

    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        if let Some((uid, gid)) = self.run_as {
            let _ = std::os::unix::fs::chown(&self.log, Some(uid), Some(gid));
        }
        let mut cmd = match self.kind {
            Kind::Postgres => {
                let mut c = self.command(&self.tools.pg_bindir.join("postgres"));
                c.arg("-D").arg(&self.data);
                c
            }
            Kind::Bgw => {
                let mut c = Command::new(&self.tools.bgw_bin);
                c.arg("start").arg("-D").arg(&self.data);
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0);
        // SAFETY: prctl is async-signal-safe; if the driver dies, the server goes too (and its children with it).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().with_context(|| format!("starting {}", self.kind.label()))?);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut installed = false;
        loop {
            if let Ok(mut c) = self.connect() {
                if !installed {
                    self.install_functions(&mut c)?;
                    installed = true;
                }
                // Ready also means the static workers run (they are part of every scenario's background).
                if Host::static_pids(&mut c).map(|p| p.iter().all(|&x| x > 0)).unwrap_or(false) {
                    return Ok(());
                }
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("{} exited at start ({st}); log:\n{}", self.kind.label(), self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("{} did not become ready; log:\n{}", self.kind.label(), self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn conninfo(&self) -> String {
        format!(
            "host={} port={} user={} dbname=postgres connect_timeout=10",
            self.socket_dir.display(),
            self.port,
            self.user
        )
    }

    /// bgw only: sets `worker_spare_processes` (appended to the configuration file, then a reload) and waits until
    /// the postmaster has acted on it (that many spare processes shown in `pg_stat_activity`).
    pub fn set_spare_processes(&self, n: u32) -> Result<()> {
        if self.kind != Kind::Bgw {
            bail!("worker_spare_processes is a bgw setting");
        }
        let file = self.data.join("bgworker.conf");
        let mut conf = std::fs::read_to_string(&file)?;
        conf.push_str(&format!("worker_spare_processes = {n}\n"));
        std::fs::write(&file, conf)?;
        let mut c = self.connect()?;
        c.batch_execute("SELECT pg_reload_conf()")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let row = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'spare worker'", &[])?;
            let spares: i64 = row.get(0);
            if spares == n as i64 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("bgw still shows {spares} spare processes, not {n}, 30 s after the reload");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connect(&self) -> Result<Client> {
        Ok(Client::connect(&self.conninfo(), NoTls)?)
    }

    /// Makes the benchmark functions callable: CREATE FUNCTION ... LANGUAGE C on both hosts (once: they stay in
    /// the catalog).
    fn install_functions(&self, c: &mut Client) -> Result<()> {
        for (name, args) in [
            ("bgw_bench_launch_to_started", "int"),
            ("bgw_bench_launch_full_cycle", "int"),
            ("bgw_bench_burst", "int"),
            ("bgw_bench_terminate_latency", "int"),
            ("bgw_bench_terminate_to_wake", "int"),
            ("bgw_bench_start_idle", "int"),
            ("bgw_bench_static_pids", ""),
        ] {
            let sql = format!(
                "CREATE OR REPLACE FUNCTION {name}({args}) RETURNS text AS 'bgw_bench', '{name}' \
                 LANGUAGE C STRICT VOLATILE"
            );
            c.batch_execute(&sql).map_err(|e| db_error(e, &sql))?;
        }
        Ok(())
    }

    /// Calls a benchmark function and parses its space-separated integers.
    pub fn call(c: &mut Client, function: &str, arg: Option<i64>) -> Result<Vec<i64>> {
        let sql = match arg {
            Some(n) => format!("SELECT {function}({n})"),
            None => format!("SELECT {function}()"),
        };
        let row = c.query_one(&sql, &[]).map_err(|e| db_error(e, &sql))?;
        let text: String = row.get(0);
        text.split_whitespace().map(|s| s.parse::<i64>().map_err(|e| anyhow!("{function}: {s:?}: {e}"))).collect()
    }

    /// The static workers' pids as they recorded them in shared memory (0: not started since the last reset).
    pub fn static_pids(c: &mut Client) -> Result<Vec<i64>> {
        Host::call(c, "bgw_bench_static_pids", None)
    }

    pub fn postmaster_pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Fast shutdown (SIGINT), waiting for the postmaster to exit; SIGKILL to the group after 60 s.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let pid = child.id() as i32;
        // SAFETY: kill has no memory preconditions; pid is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: as above; the negative pid names the server's process group.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = child.wait();
                bail!("{} did not stop within 60 s", self.kind.label());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Children of a server that died abnormally would be left in its group.
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A server's error with its message and SQLSTATE (postgres::Error's Display says only "db error").
pub fn db_error(e: postgres::Error, sql: &str) -> anyhow::Error {
    match e.as_db_error() {
        Some(d) => anyhow!("{sql}: {} {}: {}", d.severity(), d.code().code(), d.message()),
        None => anyhow!("{sql}: {e}"),
    }
}

pub fn whoami() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        let out = Command::new("id").arg("-un").output().ok();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_else(|| "root".into())
    })
}

/// A TCP port free right now (used only to name the Unix sockets; both hosts listen on no TCP address).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
