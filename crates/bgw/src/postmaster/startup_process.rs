//! The startup process and the phases it leads to: the postmaster forks it at start and after each crash, it
//! runs recovery and exits 0 once consistent, and the postmaster then enters hot standby or normal running (and,
//! for a standby, normal running again on promotion).
//!
//! The postmaster runs everything here except [`startup_process_main`] and [`quickdie`], which run in the startup
//! process (a child of the postmaster, attached to shared memory). Database recovery will plug in there.

use super::children::ChildKind;
use super::datadir::{self, ClusterState};
use super::exits::{log_child_exit, ExitStatus};
use super::shutdown::ShutdownMode;
use super::{Phase, Postmaster};
use crate::elog::{self, Level};
use crate::sys::signals;
use std::path::Path;

impl Postmaster {
    pub(super) fn start_startup_process(&mut self) {
        let standby = self.standby;
        let data_dir = self.data_dir.clone();
        let pid = self.fork_child(ChildKind::Startup, true, (data_dir, standby), |(data_dir, standby), _, death| {
            crate::latch::init_child(death, crate::latch::OnPostmasterDeath::ExitNow);
            crate::sys::proctitle::set("bgw: startup");
            startup_process_main(&data_dir, standby)
        });
        match pid {
            Some(pid) => self.startup_pid = Some(pid),
            None => {
                elog::log("could not start startup process");
                self.begin_shutdown(ShutdownMode::Immediate);
            }
        }
    }

    pub(super) fn startup_exited(&mut self, pid: i32, exit: ExitStatus) {
        self.startup_pid = None;
        if self.fatal_error || self.shutdown.is_some() {
            return;
        }
        if !exit.is_code(0) {
            log_child_exit(Level::Log, "startup process", pid, exit);
            elog::log("aborting startup due to startup process failure");
            self.begin_shutdown(ShutdownMode::Immediate);
            return;
        }
        self.enter_phase(if self.standby { Phase::HotStandby } else { Phase::Run });
    }

    pub(super) fn promote(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.join(datadir::PROMOTE_SIGNAL));
        let _ = std::fs::remove_file(self.data_dir.join(datadir::STANDBY_SIGNAL));
        elog::log("received promote request");
        self.standby = false;
        datadir::write_control(&self.data_dir, ClusterState::InProduction);
        self.enter_phase(Phase::Run);
    }

    fn enter_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.publish_phase();
        // Spares forked in the previous phase hold the postmaster's memory from then: replace them.
        self.spares.retire_all(true);
        match phase {
            Phase::Run => {
                elog::log("database system is ready to accept connections");
                if let Some(f) = self.pid_file.as_mut() {
                    f.set_status("ready");
                }
                crate::sys::sd_notify::notify("READY=1\nSTATUS=ready to accept connections");
            }
            Phase::HotStandby => {
                elog::log("database system is ready to accept read-only connections");
                if let Some(f) = self.pid_file.as_mut() {
                    f.set_status("standby");
                }
                crate::sys::sd_notify::notify("READY=1\nSTATUS=ready to accept read-only connections (standby)");
            }
            _ => {}
        }
        if matches!(phase, Phase::Run | Phase::HotStandby) {
            self.signal_ready();
            self.workers.phase_advanced(phase);
        }
    }

    fn signal_ready(&mut self) {
        if let Some(fd) = self.ready_fd.take() {
            signals::write_all_raw(fd, b"ready\n");
            // The descriptor we were handed and no longer use.
            crate::sys::fd::close(fd);
        }
    }
}

/// The startup process: recovery, then exit 0 once consistent. (Database recovery plugs in here.)
pub(super) fn startup_process_main(data_dir: &Path, standby: bool) -> ! {
    crate::process::set_panic_hook();
    signals::install(libc::SIGQUIT, quickdie, &[]);
    signals::unblock_all();
    match datadir::read_control(data_dir) {
        Some((ClusterState::ShutDown, t)) => {
            elog::log(format!("database system was shut down at {}", datadir::format_time(t)))
        }
        Some((_, t)) => {
            elog::log(format!("database system was interrupted; last known up at {}", datadir::format_time(t)));
            elog::log("database system was not properly shut down; automatic recovery in progress");
            elog::log("redo done; recovery complete");
        }
        None => elog::log("database system is new; no recovery needed"),
    }
    if standby {
        elog::log("entering standby mode");
        elog::log("consistent recovery state reached");
        datadir::write_control(data_dir, ClusterState::InArchiveRecovery);
    } else {
        datadir::write_control(data_dir, ClusterState::InProduction);
    }
    crate::process::exit(0)
}

extern "C" fn quickdie(_: libc::c_int) {
    crate::sys::process::exit_now(2);
}
