//! Server control commands: they act on the data directory, its lock file and the postmaster's pid.

use crate::postmaster::datadir::{self, read_pid_file};
use crate::sys::fd;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `bgw initdb`: a new data directory with a commented configuration file and the demo workers.
pub fn initdb(dir: &Path, username: Option<&str>, pwfile: Option<PathBuf>) -> Result<i32> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("directory \"{}\" exists but is not empty", dir.display());
    }
    // Read the password first, so a bad file leaves no half-made data directory.
    let password = match &pwfile {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("could not open file \"{}\"", p.display()))?;
            let line = text.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                bail!("password file \"{}\" is empty", p.display());
            }
            Some(line)
        }
        None => None,
    };
    create(dir, username)?;
    if let Some(password) = password {
        crate::catalog::Catalog::open(dir)?.alter_role(
            crate::catalog::BOOTSTRAP_SUPERUSER_OID,
            None,
            None,
            Some(Some(crate::catalog::scram::verifier(&password).as_str())),
        )?;
    }
    println!("Success. You can now start the host using:\n\n    bgw start -D {}\n", dir.display());
    Ok(0)
}

/// The bootstrap superuser's name: given, or the OS user's.
fn superuser_name(given: Option<&str>) -> Result<String> {
    match given {
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        Some(_) => bail!("superuser name must not be empty"),
        None => crate::sys::user::os_user_name().ok_or_else(|| anyhow!("could not look up the current OS user")),
    }
}

fn create(dir: &Path, username: Option<&str>) -> Result<()> {
    let superuser = superuser_name(username)?;
    datadir::create_data_dir(dir).with_context(|| format!("could not create directory \"{}\"", dir.display()))?;
    let abs = std::fs::canonicalize(dir)?;
    let conf = crate::config::render_default_config(&crate::config::host_parameters(&abs));
    std::fs::write(dir.join(crate::process::CONFIG_FILE), conf)?;
    std::fs::write(dir.join(crate::bgworker::declared::FILE_NAME), crate::bgworker::declared::DEMO)?;
    crate::catalog::create(dir, &superuser)?;
    Ok(())
}

fn parse_overrides(settings: &[String]) -> Result<Vec<(String, String)>> {
    settings.iter().map(|s| crate::config::parse_override(s).map_err(|e| anyhow!("{e}"))).collect()
}

/// `bgw start`.
pub fn start(dir: &Path, settings: &[String], detach: bool, log_file: Option<PathBuf>) -> Result<i32> {
    let overrides = parse_overrides(settings)?;
    if !dir.exists() {
        eprintln!("The data directory \"{}\" does not exist; initializing it.", dir.display());
        create(dir, None)?;
    }
    if detach {
        return start_detached(dir, settings, log_file);
    }
    let ready_fd = std::env::var("BGW_READY_FD").ok().and_then(|v| v.parse().ok());
    std::env::remove_var("BGW_READY_FD");
    let opts = crate::postmaster::StartOptions { data_dir: dir.to_path_buf(), overrides, ready_fd };
    match crate::postmaster::run(opts) {
        Ok(code) => Ok(code),
        Err(e) => {
            e.log_fatal();
            Ok(1)
        }
    }
}

fn start_detached(dir: &Path, settings: &[String], log_file: Option<PathBuf>) -> Result<i32> {
    let log_path = log_file.unwrap_or_else(|| dir.join("bgw.log"));
    // Private, as pg_ctl makes it: the log names roles, databases and statements.
    let log = std::os::unix::fs::OpenOptionsExt::mode(std::fs::OpenOptions::new().create(true).append(true), 0o600)
        .open(&log_path)
        .with_context(|| format!("could not open log file \"{}\"", log_path.display()))?;
    let (read_fd, write_fd) = fd::pipe(false).map_err(|e| anyhow!("could not create pipe: {e}"))?;
    let (reader, writer) = (fd::own(read_fd), fd::own(write_fd));
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("start").arg("-D").arg(dir);
    for s in settings {
        cmd.arg("-c").arg(s);
    }
    cmd.env("BGW_READY_FD", write_fd.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // The write end of the readiness pipe survives the exec.
    crate::sys::process::spawn_detached_with(&mut cmd, write_fd);
    let mut child = cmd.spawn().context("could not start server")?;
    // Our copy of the write end; the server holds its own, so EOF means it exited.
    drop(writer);
    print!("waiting for server to start....");
    let mut reader = std::fs::File::from(reader);
    let mut buf = String::new();
    let _ = reader.read_to_string(&mut buf);
    if buf.starts_with("ready") {
        println!(" done\nserver started");
        std::mem::forget(child);
        return Ok(0);
    }
    let _ = child.wait();
    println!(" stopped waiting");
    let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
    let lines: Vec<&str> = tail.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    bail!("could not start server\n{}\nExamine the log output in \"{}\".", lines.join("\n"), log_path.display())
}

fn running_pid(dir: &Path) -> Result<i32> {
    let info = read_pid_file(dir).ok_or_else(|| {
        anyhow!("PID file \"{}\" does not exist\nIs server running?", dir.join(datadir::PID_FILE).display())
    })?;
    if !info.postmaster_running() {
        bail!("no server running (stale PID file, PID {})", info.pid);
    }
    Ok(info.pid)
}

/// `bgw stop`.
pub fn stop(dir: &Path, mode: &str, timeout: u64) -> Result<i32> {
    let pid = running_pid(dir)?;
    let sig = match mode {
        "smart" | "s" => libc::SIGTERM,
        "immediate" | "i" => libc::SIGQUIT,
        _ => libc::SIGINT,
    };
    if !crate::sys::signals::send(pid, sig) {
        bail!("could not send stop signal (PID: {pid}): {}", std::io::Error::last_os_error());
    }
    print!("waiting for server to shut down....");
    if crate::sys::pidfd::wait_for_exit(pid, Duration::from_secs(timeout))? {
        println!(" done\nserver stopped");
        Ok(0)
    } else {
        println!(" failed");
        bail!("server does not shut down")
    }
}

/// `bgw status`: exit 0 if running, 3 if not (as pg_ctl).
pub fn status(dir: &Path) -> Result<i32> {
    match read_pid_file(dir) {
        Some(info) if info.postmaster_running() => {
            println!("bgw: server is running (PID: {})", info.pid);
            println!("status: {}; socket: {}/.s.PGSQL.{}", info.status, info.socket_dir, info.port);
            Ok(0)
        }
        _ => {
            println!("bgw: no server running");
            Ok(3)
        }
    }
}

/// `bgw reload`.
pub fn reload(dir: &Path) -> Result<i32> {
    let pid = running_pid(dir)?;
    crate::sys::signals::send(pid, libc::SIGHUP);
    println!("server signaled");
    Ok(0)
}

/// `bgw promote`: leaves standby and waits until the server says it is ready.
pub fn promote(dir: &Path, timeout: u64) -> Result<i32> {
    let pid = running_pid(dir)?;
    let status = read_pid_file(dir).map(|i| i.status).unwrap_or_default();
    if status != "standby" {
        bail!("cannot promote server; server is not in standby mode");
    }
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(dir, AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE)?;
    std::fs::write(dir.join(datadir::PROMOTE_SIGNAL), b"")?;
    crate::sys::signals::send(pid, libc::SIGUSR1);
    print!("waiting for server to promote....");
    let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        if read_pid_file(dir).is_some_and(|i| i.status == "ready") {
            println!(" done\nserver promoted");
            return Ok(0);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || !crate::sys::process::exists(pid) {
            println!(" stopped waiting");
            bail!("server did not promote in time");
        }
        let mut pfd = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(&inotify)),
            events: libc::POLLIN,
            revents: 0,
        }];
        fd::poll(&mut pfd, left.as_millis().min(1000) as i32);
        let _ = inotify.read_events();
    }
}
