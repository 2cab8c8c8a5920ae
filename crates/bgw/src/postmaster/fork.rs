//! Forking a child of the postmaster: its process entry in shared memory, the descriptors it must close, the
//! fork itself, and the child's table entry and exit watch in the postmaster.
//!
//! Runs in the postmaster process; a new child returns from the fork into [`Postmaster::fork_child_closing`], runs
//! `crate::worker::forked::enter_child` and then its body, and never returns.

use super::children::{Child, ChildKind};
use super::Postmaster;
use crate::elog;
use crate::sync::Ordering;
use crate::sys::fork::{fork_process, Forked};
use crate::worker::forked::{enter_child, ExitOnUnwind};
use bgw_macros::hot;
use std::os::fd::{AsRawFd, RawFd};

/// What runs in a new child: called with the context the caller gave, the child's process entry and the read end
/// of the postmaster-death pipe. Never returns. It gets no `&Postmaster`: the postmaster's state lives in memory a
/// child does not have (see [`super::run`]); what a child needs travels in the context. A plain function, not a closure:
/// a closure's code lands beside its caller's, one more block of code a new worker would map.
pub(super) type ChildBody<C> = fn(C, Option<u32>, RawFd) -> std::convert::Infallible;

/// The descriptors a child closes, gathered on the stack at each fork (a heap buffer would be a page written
/// after every fork).
type CloseList = smallvec::SmallVec<[RawFd; 24]>;

impl Postmaster {
    /// Descriptors children must not keep, into `v` (cleared first).
    fn postmaster_only_fds(&self, v: &mut CloseList) {
        v.clear();
        v.extend([self.signal_fd.as_raw_fd(), self.listener.as_raw_fd(), self.death_pipe.1]);
        v.extend(self.tcp_listeners.iter().map(|l| l.as_raw_fd()));
        if let Some(fd) = self.ready_fd {
            v.push(fd);
        }
        if let Some(w) = &self.exit_watch {
            v.extend(w.own_fds());
        }
        v.extend(self.spares.fds());
    }

    /// Forks a child: `body` runs in it with `ctx` and never returns. Returns the pid, or None (logged) if fork
    /// failed. The postmaster's copy of `ctx` is dropped after the fork (a backend's client socket closes here).
    pub(super) fn fork_child<C>(&mut self, kind: ChildKind, shmem: bool, ctx: C, body: ChildBody<C>) -> Option<i32> {
        self.fork_child_closing(kind, shmem, &[], ctx, body)
    }

    /// [`Postmaster::fork_child`], the child also closing `also_close` (descriptors the postmaster keeps).
    ///
    /// In the start-up code's section, not inlined into its callers: a new child returns from the fork into this
    /// function, and its code page is then one a worker touches anyway instead of one more of the launch loop's.
    #[inline(never)]
    #[hot]
    pub(super) fn fork_child_closing<C>(
        &mut self,
        kind: ChildKind,
        shmem: bool,
        also_close: &[RawFd],
        ctx: C,
        body: ChildBody<C>,
    ) -> Option<i32> {
        let proc_no = match kind {
            ChildKind::DeadEnd => None,
            _ => match self.children.take_proc() {
                Some(p) => Some(p),
                None => {
                    elog::log("could not fork new process: no free process entry");
                    self.last_fork_errno = libc::EAGAIN;
                    return None;
                }
            },
        };
        if let Some(p) = proc_no {
            let (pk, slot) = match kind {
                ChildKind::Backend => (crate::shmem::procs::ProcKind::Backend, -1),
                ChildKind::Worker { slot } => (crate::shmem::procs::ProcKind::Worker, slot as i32),
                ChildKind::Spare => (crate::shmem::procs::ProcKind::Spare, -1),
                _ => (crate::shmem::procs::ProcKind::Startup, -1),
            };
            self.shmem().procs()[p as usize].prepare(pk, slot, elog::now_us());
        }
        let mut close = CloseList::new();
        self.postmaster_only_fds(&mut close);
        close.extend_from_slice(also_close);
        // Sorted, the child closes runs of adjacent descriptors with one system call each.
        close.sort_unstable();
        let death = self.death_pipe.0;
        match fork_process(&close) {
            Ok(Forked::Child) => {
                enter_child(proc_no);
                // The body never returns (it exits the child); Infallible says so in the type. Nor may it unwind
                // into the postmaster's frames: dropping the postmaster's state here would remove its pid file,
                // and its private tables are not even mapped in a child (sys::private_memory). The guard ends the
                // child if a panic unwinds this far (the inherited hook has reported it as an ERROR): it exits as
                // after any ERROR.
                let _exit_on_unwind = ExitOnUnwind;
                #[allow(unreachable_code)]
                match body(ctx, proc_no, death) {}
            }
            Ok(Forked::Parent { pid }) => {
                drop(ctx);
                if let Some(p) = proc_no {
                    self.shmem().procs()[p as usize].pid.store(pid, Ordering::Release);
                }
                let children = &self.children;
                let watched = self.exit_watch.as_mut().is_some_and(|w| w.watch(pid, |p| children.contains(p)));
                if !watched {
                    self.unwatched += 1;
                }
                self.absorb_lost_watches();
                self.children.insert(
                    pid,
                    Child {
                        kind,
                        proc_no,
                        shmem,
                        notify_slots: Default::default(),
                        bound_slots: Default::default(),
                        watched,
                        tcp: false,
                        evicted: false,
                    },
                );
                Some(pid)
            }
            Err(e) => {
                if let Some(p) = proc_no {
                    self.children.give_back_proc(p);
                }
                self.last_fork_errno = match &e {
                    crate::sys::fork::ForkError::Fork(io) => io.raw_os_error().unwrap_or(libc::EAGAIN),
                    crate::sys::fork::ForkError::MultiThreaded(_) => libc::EAGAIN,
                };
                match (&e, kind) {
                    // PostgreSQL 17's wording (the spec's was "could not fork worker process: %m").
                    (crate::sys::fork::ForkError::Fork(_), ChildKind::Worker { .. }) => elog::log(format!(
                        "could not fork background worker process: {}",
                        errno_text(self.last_fork_errno)
                    )),
                    _ => elog::log(e.to_string()),
                }
                None
            }
        }
    }
}

/// The C library's text for `errno` (what PostgreSQL's `%m` prints), without Rust's " (os error N)".
fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rsplit_once(" (os error ") {
        Some((words, _)) => words.to_string(),
        None => text,
    }
}
