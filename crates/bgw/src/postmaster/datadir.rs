//! The data directory: its checks, the postmaster's lock file, the control file and the signal files.
//!
//! Runs in the postmaster (and in `bgw` commands that read the lock file).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const PID_FILE: &str = "postmaster.pid";
pub const CONTROL_FILE: &str = "bgw.control";
pub const STANDBY_SIGNAL: &str = "standby.signal";
pub const PROMOTE_SIGNAL: &str = "promote";

/// A fatal start-up problem, with PostgreSQL's wording.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl StartError {
    pub fn new(message: impl Into<String>) -> Self {
        StartError { message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    /// Logs this error as FATAL.
    pub fn log_fatal(&self) {
        let mut r = crate::elog::Report::new(crate::elog::Level::Fatal, self.message.clone());
        if let Some(d) = &self.detail {
            r = r.detail(d.clone());
        }
        if let Some(h) = &self.hint {
            r = r.hint(h.clone());
        }
        r.emit();
    }
}

/// Checks that the data directory exists, is ours, and is not accessible to group or others.
pub fn check_data_dir(dir: &Path) -> Result<(), StartError> {
    let shown = dir.display();
    let meta = std::fs::metadata(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StartError::new(format!("data directory \"{shown}\" does not exist"))
        } else {
            StartError::new(format!("could not read permissions of directory \"{shown}\": {e}"))
        }
    })?;
    if !meta.is_dir() {
        return Err(StartError::new(format!("specified data directory \"{shown}\" is not a directory")));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(StartError::new(format!("data directory \"{shown}\" has wrong ownership"))
            .hint("The server must be started by the user that owns the data directory."));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(StartError::new(format!("data directory \"{shown}\" has invalid permissions"))
            .detail("Permissions should be u=rwx (0700)."));
    }
    Ok(())
}

/// Creates a data directory with mode 0700 (parents as needed).
pub fn create_data_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// What `postmaster.pid` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFileContents {
    pub pid: i32,
    pub data_dir: String,
    pub start_time: i64,
    pub port: u16,
    pub socket_dir: String,
    pub listen: String,
    pub status: String,
    /// The postmaster's start time in clock ticks after boot (`/proc/<pid>/stat` field 22; 0: not recorded, as in
    /// a file an older version wrote). With the pid it names one process: a live process with that pid but
    /// another start time is not the postmaster. Its own line after PostgreSQL's eight, which keep their places.
    pub start_ticks: u64,
}

impl PidFileContents {
    fn render(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n0 0\n{}\n{}\n",
            self.pid,
            self.data_dir,
            self.start_time,
            self.port,
            self.socket_dir,
            self.listen,
            self.status,
            self.start_ticks
        )
    }

    pub fn parse(text: &str) -> Option<PidFileContents> {
        let lines: Vec<&str> = text.lines().collect();
        Some(PidFileContents {
            pid: lines.first()?.trim().parse().ok()?,
            data_dir: lines.get(1).unwrap_or(&"").to_string(),
            start_time: lines.get(2).and_then(|l| l.trim().parse().ok()).unwrap_or(0),
            port: lines.get(3).and_then(|l| l.trim().parse().ok()).unwrap_or(0),
            socket_dir: lines.get(4).unwrap_or(&"").to_string(),
            listen: lines.get(5).unwrap_or(&"").to_string(),
            status: lines.get(7).unwrap_or(&"").trim().to_string(),
            start_ticks: lines.get(8).and_then(|l| l.trim().parse().ok()).unwrap_or(0),
        })
    }

    /// Whether the postmaster this file names is running: its pid is a live process (not a zombie) that started
    /// when the file says. A file naming a dead pid, a zombie, or a process started at another time is stale.
    pub fn postmaster_running(&self) -> bool {
        crate::sys::process::is_live_process(self.pid, self.start_ticks)
    }
}

/// Reads the lock file of `dir`, if there is one.
pub fn read_pid_file(dir: &Path) -> Option<PidFileContents> {
    PidFileContents::parse(&std::fs::read_to_string(dir.join(PID_FILE)).ok()?)
}

/// The postmaster's lock on its data directory. Removed on drop.
pub struct PidFile {
    path: PathBuf,
    contents: PidFileContents,
}

impl PidFile {
    /// Creates the lock file, refusing if a live postmaster holds it and recovering it if it is stale.
    pub fn create(dir: &Path, contents: PidFileContents) -> Result<PidFile, StartError> {
        let path = dir.join(PID_FILE);
        for _ in 0..3 {
            match std::fs::OpenOptions::new().write(true).create_new(true).mode_0600().open(&path) {
                Ok(mut f) => {
                    f.write_all(contents.render().as_bytes()).map_err(|e| {
                        StartError::new(format!("could not write lock file \"{}\": {e}", path.display()))
                    })?;
                    return Ok(PidFile { path, contents });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let existing = std::fs::read_to_string(&path).ok().and_then(|t| PidFileContents::parse(&t));
                    if let Some(other) = existing {
                        if other.pid != contents.pid && other.postmaster_running() {
                            return Err(StartError::new(format!("lock file \"{PID_FILE}\" already exists")).hint(
                                format!(
                                    "Is another postmaster (PID {}) running in data directory \"{}\"?",
                                    other.pid,
                                    dir.display()
                                ),
                            ));
                        }
                    }
                    // Stale: its postmaster is gone (no such process, a zombie, or another process that has its
                    // pid now). Remove it and try again.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => {
                    return Err(StartError::new(format!("could not create lock file \"{}\": {e}", path.display())))
                }
            }
        }
        Err(StartError::new(format!("could not create lock file \"{}\"", path.display())))
    }

    /// Rewrites the status line ("starting", "ready", "standby", "stopping"), keeping the file's mode 0600.
    pub fn set_status(&mut self, status: &str) {
        self.contents.status = status.to_string();
        let tmp = self.path.with_extension("pid.tmp");
        let _ = std::fs::remove_file(&tmp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(&tmp)
            .and_then(|mut f| f.write_all(self.contents.render().as_bytes()));
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// The cluster state recorded in the control file, as PostgreSQL's pg_control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    ShutDown,
    InProduction,
    InArchiveRecovery,
}

impl ClusterState {
    fn as_str(self) -> &'static str {
        match self {
            ClusterState::ShutDown => "shut down",
            ClusterState::InProduction => "in production",
            ClusterState::InArchiveRecovery => "in archive recovery",
        }
    }
}

/// Reads (state, unix time of the last change) from the control file.
pub fn read_control(dir: &Path) -> Option<(ClusterState, i64)> {
    let text = std::fs::read_to_string(dir.join(CONTROL_FILE)).ok()?;
    let mut state = None;
    let mut time = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("state = ") {
            state = match v.trim() {
                "shut down" => Some(ClusterState::ShutDown),
                "in production" => Some(ClusterState::InProduction),
                "in archive recovery" => Some(ClusterState::InArchiveRecovery),
                _ => None,
            };
        } else if let Some(v) = line.strip_prefix("time = ") {
            time = v.trim().parse().unwrap_or(0);
        }
    }
    state.map(|s| (s, time))
}

/// Records the cluster state durably (write, fsync, rename).
pub fn write_control(dir: &Path, state: ClusterState) {
    let now = crate::elog::now_us() / 1_000_000;
    let text = format!("# bgw control file: do not edit\nstate = {}\ntime = {now}\n", state.as_str());
    let tmp = dir.join(format!("{CONTROL_FILE}.tmp"));
    if let Ok(mut f) = std::fs::File::create(&tmp) {
        if f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(CONTROL_FILE));
        }
    }
}

/// Formats a Unix time as PostgreSQL logs times (`2026-11-21 15:24:54 UTC`).
pub fn format_time(unix: i64) -> String {
    let (y, m, d, hh, mm, ss) = crate::elog::civil(unix);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_enforced() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("data");
        create_data_dir(&d).unwrap();
        check_data_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = check_data_dir(&d).unwrap_err();
        assert!(e.message.ends_with("has invalid permissions"), "{}", e.message);
        assert_eq!(e.detail.as_deref(), Some("Permissions should be u=rwx (0700)."));
        assert!(check_data_dir(&t.path().join("nope")).unwrap_err().message.contains("does not exist"));
    }

    #[test]
    fn pid_file_refuses_live_and_recovers_stale() {
        let t = tempfile::tempdir().unwrap();
        let c = |pid| PidFileContents {
            pid,
            data_dir: "d".into(),
            start_time: 1,
            port: 5432,
            socket_dir: "/tmp".into(),
            listen: "".into(),
            status: "starting".into(),
            start_ticks: 0,
        };
        // A live process (our own parent, pid 1 might be unkillable but exists) holds the lock.
        let live = PidFile::create(t.path(), c(1)).unwrap();
        let e = PidFile::create(t.path(), c(std::process::id() as i32)).err().unwrap();
        assert_eq!(e.message, "lock file \"postmaster.pid\" already exists");
        assert!(e.hint.unwrap().contains("Is another postmaster (PID 1) running"));
        std::mem::forget(live);
        // A stale file (no such process) is recovered.
        std::fs::write(t.path().join(PID_FILE), c(i32::MAX - 7).render()).unwrap();
        let mut ok = PidFile::create(t.path(), c(std::process::id() as i32)).unwrap();
        ok.set_status("ready");
        assert_eq!(read_pid_file(t.path()).unwrap().status, "ready");
        let mode = std::fs::metadata(t.path().join(PID_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the lock file stays private after a status change");
        drop(ok);
        assert!(read_pid_file(t.path()).is_none());
    }

    #[test]
    fn control_file_round_trip() {
        let t = tempfile::tempdir().unwrap();
        assert!(read_control(t.path()).is_none());
        write_control(t.path(), ClusterState::InProduction);
        assert_eq!(read_control(t.path()).unwrap().0, ClusterState::InProduction);
    }
}
