//! The postmaster's main loop (the spec's ServerLoop) and what it does for signals: shutdown requests, children's
//! `pmsignal` requests (registrations, terminations, promotion) and configuration reloads.
//!
//! Runs in the postmaster process. The loop is out of line and its frame sits right under [`super::run`]'s, so the
//! launch path below it writes as few stack pages as its frames need after each fork (see BENCHMARKS.md).

use super::children::ChildKind;
use super::shutdown::ShutdownMode;
use super::{datadir, Phase, Postmaster};
use crate::elog;
use crate::shmem::pmsignal;
use crate::sync::Ordering;
use std::os::fd::{AsRawFd, RawFd};

impl Postmaster {
    /// Out of line, so that its frame and the launch path's below it start right under `run`'s (which holds the
    /// postmaster's state while it is built, then idles): the path a fork takes then spans as few stack pages as
    /// its frames need, and each page it writes after a fork is a copy-on-write fault.
    #[inline(never)]
    pub(super) fn main_loop(&mut self) -> i32 {
        loop {
            let timeout_ms = if self.workers.has_pending_launches() && self.may_launch() {
                0
            } else {
                // The spare pool waits for the host to be quiet (a deadline only while a burst or a refill is in
                // progress: see spares.rs).
                let spares = if self.may_launch() { self.spares.quiet_delay_ms(std::time::Instant::now) } else { None };
                [self.workers.next_timer_delay_ms(), self.shutdown_timeout_delay_ms(), spares]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(-1)
            };
            let accepting = self.shutdown.is_none() || self.shutdown == Some(ShutdownMode::Smart);
            let listening =
                |fd: RawFd| libc::pollfd { fd: if accepting { fd } else { -1 }, events: libc::POLLIN, revents: 0 };
            let mut fds = std::mem::take(&mut self.scratch.pollfds);
            fds.clear();
            fds.push(libc::pollfd { fd: self.signal_fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            let exits = self.exit_watch.as_ref().map_or(-1, |w| w.as_raw_fd());
            fds.push(libc::pollfd { fd: exits, events: libc::POLLIN, revents: 0 });
            fds.push(listening(self.listener.as_raw_fd()));
            fds.extend(self.tcp_listeners.iter().map(|l| listening(l.as_raw_fd())));
            let n = crate::sys::fd::poll(&mut fds, timeout_ms as i32);
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                elog::log(format!("poll() failed in postmaster: {}", std::io::Error::last_os_error()));
            }
            if fds[0].revents != 0 {
                self.process_signals();
            }
            if fds[1].revents != 0 {
                self.process_watched_exits();
            }
            if fds[2].revents != 0 {
                self.process_connections(None);
            }
            for (i, fd) in fds.iter().enumerate().skip(3) {
                if fd.revents != 0 {
                    self.process_connections(Some(i - 3));
                }
            }
            self.scratch.pollfds = fds;
            if let Some(seg) = &self.segment {
                // Registrations waiting for a slot: O(1) when there are none.
                self.workers.serve_waiters(seg.shmem(), &self.children);
            }
            let now = std::time::Instant::now();
            self.workers.process_kill_timers(now);
            self.process_shutdown_timeout(now);
            if self.may_launch() {
                self.workers.process_restart_timers(now, self.phase);
                self.launch_pending_workers();
                self.refill_spares();
            }
            if let Some(code) = self.check_state_transitions() {
                return code;
            }
        }
    }

    fn process_signals(&mut self) {
        let (mut chld, mut usr1, mut hup) = (false, false, false);
        let mut requested: Option<ShutdownMode> = None;
        while let Ok(Some(info)) = self.signal_fd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => chld = true,
                libc::SIGUSR1 => usr1 = true,
                libc::SIGHUP => hup = true,
                libc::SIGTERM => requested = requested.max(Some(ShutdownMode::Smart)),
                libc::SIGINT => requested = requested.max(Some(ShutdownMode::Fast)),
                libc::SIGQUIT => requested = requested.max(Some(ShutdownMode::Immediate)),
                _ => {}
            }
        }
        if let Some(mode) = requested {
            self.process_shutdown_request(mode);
        }
        // Watched children are reaped through their pidfds; SIGCHLD matters only while some child is not watched.
        if chld && self.unwatched > 0 {
            self.process_child_exits();
        }
        if usr1 {
            self.process_pm_signals();
        }
        if hup {
            self.process_reload();
        }
    }

    fn process_pm_signals(&mut self) {
        let Some(seg) = &self.segment else { return };
        let shm = seg.shmem();
        let flags = shm.header().pm_signal_flags.swap(0, Ordering::Acquire);
        // Also during a crash cycle (as PostgreSQL's postmaster does): a termination requested then must still be
        // honoured by the next cycle; the change bits live in the segment about to be replaced, so they are read
        // now or never.
        if flags & pmsignal::BACKGROUND_WORKER_CHANGE != 0 {
            self.workers.process_state_change(shm, &mut self.children, self.phase);
        }
        // `bgw promote` cannot set shared flags (it is not our child): it leaves a file and sends SIGUSR1.
        if self.phase == Phase::HotStandby && self.data_dir.join(datadir::PROMOTE_SIGNAL).exists() {
            self.promote();
        }
    }

    fn process_reload(&mut self) {
        elog::log("received SIGHUP, reloading configuration files");
        crate::sys::sd_notify::notify(&format!(
            "RELOADING=1\nSTATUS=reloading configuration files\nMONOTONIC_USEC={}",
            crate::sys::sd_notify::monotonic_usec()
        ));
        crate::process::reload_config();
        if let Some(seg) = &self.segment {
            let mpw = crate::process::setting_int("max_parallel_workers").clamp(0, u32::MAX as i64) as u32;
            seg.shmem().header().max_parallel_workers.store(mpw, Ordering::Relaxed);
        }
        self.workers.set_quotas(&crate::process::setting_text("worker_type_quota").unwrap_or_default());
        // max_worker_processes may have grown (waiting registrations are served in the loop) or shrunk.
        self.workers.set_limit(crate::process::setting_int("max_worker_processes").max(0) as usize);
        // dynamic_library_path may have changed: entry points are looked up again.
        self.scratch.primed.clear();
        // Spares hold the old configuration: replace them.
        self.spare_target = self.configured_spares();
        self.spares.retire_all(true);
        self.children.signal_all(libc::SIGHUP, |c| !matches!(c.kind, ChildKind::DeadEnd | ChildKind::Spare));
        if self.shutdown.is_none() && matches!(self.phase, Phase::Run | Phase::HotStandby) {
            crate::sys::sd_notify::notify("READY=1\nSTATUS=ready to accept connections");
        }
    }
}
