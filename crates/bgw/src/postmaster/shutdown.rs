//! Shutting down in PostgreSQL's three modes (smart, fast, immediate): the request, stopping the children, and
//! the end once every child has exited.
//!
//! Runs in the postmaster process.

use super::children::ChildKind;
use super::datadir::{self, ClusterState};
use super::{Phase, Postmaster};
use crate::elog;

/// A shutdown request, in PostgreSQL's three modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShutdownMode {
    /// SIGTERM: wait for clients to leave, then stop workers.
    Smart,
    /// SIGINT: SIGTERM everything and wait.
    Fast,
    /// SIGQUIT: SIGQUIT everything and exit; the next start runs recovery.
    Immediate,
}

impl Postmaster {
    pub(super) fn process_shutdown_request(&mut self, mode: ShutdownMode) {
        if self.shutdown.is_some_and(|m| m >= mode) {
            return;
        }
        match mode {
            ShutdownMode::Smart => elog::log("received smart shutdown request"),
            ShutdownMode::Fast => elog::log("received fast shutdown request"),
            ShutdownMode::Immediate => elog::log("received immediate shutdown request"),
        }
        self.begin_shutdown(mode);
    }

    pub(super) fn begin_shutdown(&mut self, mode: ShutdownMode) {
        self.shutdown = Some(mode);
        crate::sys::sd_notify::notify(match mode {
            ShutdownMode::Smart => "STOPPING=1\nSTATUS=smart shutdown: waiting for clients to leave",
            ShutdownMode::Fast => "STOPPING=1\nSTATUS=fast shutdown: stopping every process",
            ShutdownMode::Immediate => "STOPPING=1\nSTATUS=immediate shutdown",
        });
        self.spares.retire_all(false);
        if let Some(seg) = &self.segment {
            self.workers.shutdown_began(seg.shmem(), &self.children);
        }
        if let Some(f) = self.pid_file.as_mut() {
            f.set_status("stopping");
        }
        match mode {
            ShutdownMode::Smart => {
                // Clients may finish; workers stop once they have (check_state_transitions).
                if self.children.backend_count() == 0 {
                    self.stop_all_children(libc::SIGTERM);
                }
            }
            ShutdownMode::Fast => {
                elog::log("aborting any active transactions");
                self.stop_all_children(libc::SIGTERM);
            }
            ShutdownMode::Immediate => self.stop_all_children(libc::SIGQUIT),
        }
    }

    pub(super) fn stop_all_children(&mut self, sig: libc::c_int) {
        self.phase = Phase::Stopping;
        self.publish_phase();
        self.workers.cancel_pending();
        // (Spares were retired when the shutdown began, the only way here.)
        self.children.signal_all(sig, |c| c.kind != ChildKind::DeadEnd || sig == libc::SIGQUIT);
        if sig == libc::SIGTERM && self.shutdown_kill_at.is_none() {
            let ms = crate::process::setting_int("shutdown_kill_timeout");
            if ms > 0 {
                self.shutdown_kill_at = Some(std::time::Instant::now() + std::time::Duration::from_millis(ms as u64));
            }
        }
    }

    /// `shutdown_kill_timeout` has passed since the shutdown sent SIGTERM: SIGKILL what is left, instead of
    /// waiting forever for a process that ignores SIGTERM. Their deaths end the shutdown; none is a crash (shared
    /// memory is discarded with the host).
    pub(super) fn process_shutdown_timeout(&mut self, now: std::time::Instant) {
        let Some(at) = self.shutdown_kill_at else { return };
        if now < at || self.shutdown_killed {
            return;
        }
        self.shutdown_killed = true;
        let left = self.children.len();
        elog::log(format!(
            "{left} process{} did not exit within shutdown_kill_timeout after SIGTERM; sending SIGKILL",
            if left == 1 { "" } else { "es" }
        ));
        self.children.signal_all(libc::SIGKILL, |_| true);
    }

    /// Milliseconds until the shutdown's SIGKILL is due, if one is.
    pub(super) fn shutdown_timeout_delay_ms(&self) -> Option<i64> {
        let at = self.shutdown_kill_at.filter(|_| !self.shutdown_killed)?;
        let left = at.saturating_duration_since(std::time::Instant::now());
        Some(left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i64)
    }

    pub(super) fn finish_shutdown(&mut self) -> i32 {
        if self.fatal_error {
            // A process crashed while the host was shutting down (or a shutdown interrupted a crash cycle): as in
            // PostgreSQL, not a clean shutdown. The control file still says the system was running, so the next
            // start runs recovery.
            elog::log("abnormal database system shutdown");
            self.cleanup_files(false);
            return 1;
        }
        let clean = self.shutdown != Some(ShutdownMode::Immediate);
        if clean {
            datadir::write_control(&self.data_dir, ClusterState::ShutDown);
        }
        elog::log("database system is shut down");
        self.cleanup_files(clean);
        0
    }

    pub(super) fn cleanup_files(&mut self, _clean: bool) {
        let _ = std::fs::remove_file(&self.socket_path);
        self.pid_file = None;
    }
}
