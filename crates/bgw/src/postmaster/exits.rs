//! Children exiting: reaping them (through their pidfds, or `waitpid(-1)` for those without one), what follows
//! each exit by kind of child, and the crash cycle (the spec's HandleChildCrash: SIGQUIT every other child, wait
//! for all of them, reinitialize shared memory and start over).
//!
//! Runs in the postmaster process.

use super::children::ChildKind;
use super::shutdown::ShutdownMode;
use super::{Phase, Postmaster};
use crate::elog::{self, Level};
use crate::sync::Ordering;

impl Postmaster {
    /// Reaps the children whose pidfds say they exited.
    pub(super) fn process_watched_exits(&mut self) {
        let mut exited = std::mem::take(&mut self.scratch.exited);
        exited.clear();
        if let Some(w) = &self.exit_watch {
            w.exited(&mut exited);
        }
        for &pid in &exited {
            self.before_reaping(pid);
            if let Some((pid, status)) = crate::sys::process::try_reap(pid) {
                self.child_exited(pid, status);
            }
        }
        self.scratch.exited = exited;
    }

    /// Reaps every exited child, asking the kernel about all of them (SIGCHLD, for children without a pidfd).
    pub(super) fn process_child_exits(&mut self) {
        // Each exited child is seen first without being reaped, so that its pid stays its own until
        // `before_reaping` has run.
        // (One walk over the children per exit, and one to find there is none left: no second pass.)
        while let Some(pid) = crate::sys::process::peek_exited() {
            self.before_reaping(pid);
            let Some((pid, status)) = crate::sys::process::try_reap(pid) else { break };
            self.child_exited(pid, status);
        }
    }

    /// Children whose exits the exit watch can no longer report (it lost their registrations): found through
    /// SIGCHLD from now on. Almost always nothing to do.
    pub(super) fn absorb_lost_watches(&mut self) {
        let Some(w) = self.exit_watch.as_mut() else { return };
        let lost = w.take_lost();
        if lost.is_empty() {
            return;
        }
        for pid in lost {
            if let Some(child) = self.children.get_mut(pid) {
                if child.watched {
                    child.watched = false;
                    self.unwatched += 1;
                }
            }
        }
        // Some may have exited already, their SIGCHLD consumed while they were watched: the main loop looks again
        // (at its next turn, not in the middle of the fork or exit that found them).
        crate::sys::signals::send(std::process::id() as i32, libc::SIGCHLD);
    }

    /// What must happen while an exited child's pid still names it (a zombie, not yet reaped): a worker's pid is
    /// withdrawn from the terminators that signal it directly (see `crate::bgworker::slots` on `signal_pid`).
    fn before_reaping(&mut self, pid: i32) {
        if let (Some(super::children::ChildKind::Worker { slot }), Some(seg)) =
            (self.children.kind_of(pid), &self.segment)
        {
            seg.shmem().slots().unpublish_signal_pid(slot);
        }
    }

    /// Everything that follows a child's exit (`status` from waitpid).
    fn child_exited(&mut self, pid: i32, status: i32) {
        let Some(child) = self.children.remove(pid) else { return };
        match (child.watched, self.exit_watch.as_mut()) {
            (true, Some(w)) => {
                let children = &self.children;
                w.reaped(pid, |p| children.contains(p));
                self.absorb_lost_watches();
            }
            _ => self.unwatched = self.unwatched.saturating_sub(1),
        }
        let mut held_lock = false;
        if let (Some(p), Some(seg)) = (child.proc_no, &self.segment) {
            let entry = &seg.shmem().procs()[p as usize];
            held_lock = entry.locks_held.load(Ordering::Relaxed) != 0;
            if child.kind == ChildKind::Backend {
                seg.shmem().header().sessions.leave(entry, child.tcp);
            }
            entry.pid.store(0, Ordering::Release);
        }
        if let Some(p) = child.proc_no {
            self.children.give_back_proc(p);
        }
        self.workers.stop_notifications(pid, &child.notify_slots, self.segment.as_ref().map(|s| s.shmem()));
        if let Some(seg) = &self.segment {
            self.workers.waiter_exited(seg.shmem(), pid);
        }
        if !child.bound_slots.is_empty() {
            if let Some(seg) = &self.segment {
                self.workers.registrant_exited(seg.shmem(), &self.children, pid, &child.bound_slots);
            }
        }
        let exit = ExitStatus::from_wait(status);
        match child.kind {
            ChildKind::Startup => self.startup_exited(pid, exit),
            ChildKind::Backend => {
                if !exit.is_code(0) && !exit.is_code(1) {
                    self.handle_child_crash("server process", pid, exit);
                }
            }
            ChildKind::DeadEnd => {}
            ChildKind::Spare => {
                // Never touched shared memory (see crate::worker::spare): its death is not a crash.
                self.spares.forget(pid);
                if !exit.is_code(0) {
                    log_child_exit(Level::Log, "spare worker process", pid, exit);
                }
            }
            ChildKind::Worker { slot } => {
                self.spares.note_exit(std::time::Instant::now);
                // A never-restart or terminated worker is forgotten; one that exited with 1 waits out its
                // interval on the timer heap (unless launches are off: shutdown or crash).
                let ending = if self.fatal_error || self.phase == Phase::Crashed {
                    Ending::CrashCycle
                } else if !self.may_launch() {
                    Ending::Shutdown
                } else {
                    Ending::Running
                };
                let ended = WorkerExit { pid, status: exit, held_lock };
                if let Some(name) = self.workers.worker_exited(self.shmem(), &self.children, slot, ended, ending) {
                    self.handle_child_crash(&name, pid, exit);
                }
            }
        }
    }

    /// The spec's HandleChildCrash: a process attached to shared memory died badly. SIGQUIT every other child and
    /// reinitialize once all are gone.
    fn handle_child_crash(&mut self, what: &str, pid: i32, exit: ExitStatus) {
        if self.fatal_error || self.shutdown == Some(ShutdownMode::Immediate) {
            return;
        }
        if self.shutdown_killed && exit == ExitStatus::Signal(libc::SIGKILL) {
            // The shutdown's own SIGKILL (shutdown_kill_timeout): the host is stopping and discards shared memory.
            log_child_exit(Level::Log, what, pid, exit);
            return;
        }
        log_child_exit(Level::Log, what, pid, exit);
        elog::log("terminating any other active server processes");
        crate::sys::sd_notify::notify("STATUS=a process crashed: restarting every process");
        self.fatal_error = true;
        self.phase = Phase::Crashed;
        self.publish_phase();
        self.workers.cancel_pending();
        self.spares.retire_all(true);
        self.children.signal_all(libc::SIGQUIT, |_| true);
    }

    /// After events: finish a crash cycle, a smart shutdown's first half, or the shutdown itself.
    pub(super) fn check_state_transitions(&mut self) -> Option<i32> {
        if self.shutdown == Some(ShutdownMode::Smart)
            && self.phase != Phase::Stopping
            && self.children.backend_count() == 0
        {
            self.stop_all_children(libc::SIGTERM);
        }
        if self.children.is_empty() && (self.shutdown.is_some() || self.phase == Phase::Stopping) {
            return Some(self.finish_shutdown());
        }
        if self.fatal_error && self.children.is_empty() {
            if crate::process::settings().as_ref().and_then(|s| s.get_bool("restart_after_crash")) == Some(false) {
                elog::log("shutting down because restart_after_crash is off");
                self.cleanup_files(false);
                return Some(1);
            }
            elog::log("all server processes terminated; reinitializing");
            self.reinitialize();
        }
        None
    }

    fn reinitialize(&mut self) {
        self.workers.reset_after_crash();
        self.children.reset_procs(self.max_procs);
        self.fatal_error = false;
        self.phase = Phase::Startup;
        if let Err(e) = self.create_shared_memory() {
            e.log_fatal();
            self.shutdown = Some(ShutdownMode::Immediate);
            return;
        }
        self.workers.enqueue_all(self.phase);
        self.start_startup_process();
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    Other(i32),
}

impl ExitStatus {
    pub fn from_wait(status: i32) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Other(status)
        }
    }
    pub fn is_code(self, c: i32) -> bool {
        self == ExitStatus::Code(c)
    }
    /// For views: the exit code, or minus the signal number.
    pub fn as_view_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => -s,
            ExitStatus::Other(s) => s,
        }
    }
}

/// How a worker's process ended, as the postmaster saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerExit {
    pub pid: i32,
    pub status: ExitStatus,
    /// Whether it held (or was asking for) a host lock when it died (its process entry's count).
    pub held_lock: bool,
}

/// What the host was doing when a worker exited: it decides the exit's reason when the exit itself does not, and
/// whether the worker may be restarted (only while `Running`: launches are off in a shutdown or a crash cycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Running,
    Shutdown,
    CrashCycle,
}

/// The spec's LogChildExit wording.
pub fn log_child_exit(level: Level, what: &str, pid: i32, exit: ExitStatus) {
    let msg = match exit {
        ExitStatus::Code(c) => format!("{what} (PID {pid}) exited with exit code {c}"),
        ExitStatus::Signal(s) => {
            format!("{what} (PID {pid}) was terminated by signal {s}: {}", crate::sys::signals::name(s))
        }
        ExitStatus::Other(s) => format!("{what} (PID {pid}) exited with unrecognized status {s}"),
    };
    elog::report(level, msg);
}
