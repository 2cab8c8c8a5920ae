//! Launching workers: the launch queue drained a bounded number per loop iteration, each worker handed to an
//! idle spare process or forked, its entry point looked up once per configuration; and refilling the pool of
//! spares when nothing waits to launch.
//!
//! Runs in the postmaster process. This is the hot path of a registration burst: its frames are kept small and
//! out of line so that a launch writes one stack page after a fork (see BENCHMARKS.md).

use super::children::ChildKind;
use super::spares::{self, IdleSpare};
use super::{workers, Postmaster, Primed};
use crate::elog;
use crate::worker::forked::worker_child_main;
use std::os::fd::{AsFd, AsRawFd};

/// How many workers the postmaster launches per loop iteration before it looks at its sockets and signals again.
/// A fork costs tens of microseconds here, so 32 keeps the longest stall of the front door near a millisecond
/// while a burst of registrations still goes out in few iterations (PostgreSQL launches one per iteration).
pub const LAUNCHES_PER_ITERATION: usize = 32;

impl Postmaster {
    pub(super) fn launch_pending_workers(&mut self) {
        for _ in 0..LAUNCHES_PER_ITERATION {
            let Some(slot) = self.workers.next_launch(self.phase) else { return };
            let shmem_flag = self.workers.has_shmem(slot);
            let found = self.primed_entry_point(slot);
            // The new worker is usually put on the CPU its registrant left to sleep on, and the registrant is about
            // to be woken to learn the pid: the worker lets it run first (a scheduling hint, one syscall), or it
            // would wait behind the worker's start-up. Not while more launches are queued: then the postmaster's
            // next fork is what everyone waits for.
            let yield_first = !self.workers.has_pending_launches();
            // The previous run's readiness report never counts for this one.
            self.shmem().slots().clear_ready(slot);
            // Only dynamic workers' launches make bursts the pool learns from (static workers start once, and
            // restart one by one on their timers).
            let counts = !self.workers.is_static(slot);
            let pid = match self.spares.take(counts, std::time::Instant::now) {
                Some(spare) => self.assign_spare(spare, slot, shmem_flag, yield_first, found),
                None => None,
            };
            let pid = pid.or_else(|| {
                // The registration is read in the child, from its copy of the postmaster's memory: building the
                // 1.5 KB C struct here would write stack pages that the fork has just made copy-on-write.
                let spec = crate::sys::fork::Inherited::new(self.workers.spec(slot)?);
                self.fork_child(ChildKind::Worker { slot }, shmem_flag, (spec, found, yield_first), worker_child_main)
            });
            match pid {
                Some(pid) => self.workers.started(self.shmem(), &mut self.children, slot, pid),
                None => {
                    self.workers.start_failed(slot, self.last_fork_errno);
                    workers::notify_slot_change(self.shmem(), &self.children, slot, 0);
                }
            }
        }
    }

    /// The entry point of `slot`'s worker, looked up once per (library, function) and configuration: a worker
    /// forked after this finds it in its copy of the postmaster's memory, and the spares forked after it find it in
    /// the loader's cache they inherit. None for a library the postmaster has not loaded (not preloaded): its
    /// workers load it themselves, as in PostgreSQL.
    fn primed_entry_point(&mut self, slot: u32) -> Option<crate::modules::entry::EntryPoint> {
        let (library, function) = self.workers.entry_names(slot)?;
        if let Some(p) = self.scratch.primed.iter().find(|p| p.library == library && p.function == function) {
            return p.entry;
        }
        let entry = crate::modules::entry::lookup_loaded(library, function);
        self.scratch.primed.push(Primed { library: library.to_string(), function: function.to_string(), entry });
        entry
    }

    /// Makes an idle spare the worker in `slot` (see `crate::worker::spare` for the protocol). None if the spare
    /// could not take it (it died idle): the caller forks instead. Out of line: the 1.5 KB registration it sends
    /// would otherwise sit in the launch loop's frame, and widen the stack every fork's path writes.
    #[inline(never)]
    fn assign_spare(
        &mut self,
        spare: IdleSpare,
        slot: u32,
        shmem: bool,
        yield_first: bool,
        found: Option<crate::modules::entry::EntryPoint>,
    ) -> Option<i32> {
        let worker = self.workers.raw(slot);
        let proc_no = self.children.get_mut(spare.pid)?.proc_no;
        let procs = self.shmem().procs();
        if let Some(p) = proc_no {
            procs[p as usize].prepare(crate::shmem::procs::ProcKind::Worker, slot as i32, elog::now_us());
        }
        // The entry point travels when the spare has every library it is in (none loaded since its fork): the
        // spare then need not search `dynamic_library_path` and call dlsym itself.
        let entry = found
            .and_then(|e| e.external_address())
            .filter(|_| spare.libraries == crate::modules::loader::loaded_count())
            .unwrap_or(0);
        let msg = crate::worker::spare::Assignment { yield_first: yield_first as u32, entry, worker };
        if let Err(e) = crate::sys::message_pipe::send(spare.assign.as_fd(), &msg) {
            elog::debug1_with(|| format!("could not hand a worker to spare worker process {}: {e}", spare.pid));
            if let Some(p) = proc_no {
                procs[p as usize].prepare(crate::shmem::procs::ProcKind::Spare, -1, elog::now_us());
            }
            return None;
        }
        // From here the child is this worker: its exit follows the worker's rules.
        let child = self.children.get_mut(spare.pid)?;
        child.kind = ChildKind::Worker { slot };
        child.shmem = shmem;
        Some(spare.pid)
    }

    /// How many spares the configuration asks for.
    pub(super) fn configured_spares(&self) -> usize {
        let n = crate::process::setting_int("worker_spare_processes").clamp(0, spares::MAX_SPARES as i64) as usize;
        n.min(self.max_workers)
    }

    /// Forks spares: up to the floor (`worker_spare_processes`) when one was consumed or retired and nothing waits
    /// to launch; beyond it, up to the last burst's size, once the host is quiet, a batch per loop iteration (see
    /// `spares` for the rules).
    pub(super) fn refill_spares(&mut self) {
        if self.workers.has_pending_launches() || !self.may_launch() {
            return;
        }
        if self.spares.refill_wanted() {
            self.spares.refilled();
            while self.spares.idle_count() < self.spare_target {
                // The worker just handed to a spare and its registrant are waking: let them have the CPU first (on
                // two CPUs, a replacement forked at once delayed the worker's own signal handling by ~100 us).
                crate::sys::raw::yield_cpu();
                if !self.fork_spare() {
                    return;
                }
            }
        }
        // No floor, no pool: `worker_spare_processes = 0` turns spares off altogether.
        let max = if self.spare_target == 0 { 0 } else { self.spare_pool_max.min(self.max_workers) };
        if let Some(want) = self.spares.pool_refill_due(std::time::Instant::now(), max) {
            for _ in 0..spares::REFILL_BATCH {
                if self.spares.idle_count() >= want {
                    break;
                }
                if !self.fork_spare() {
                    self.spares.pool_refill_failed();
                    break;
                }
            }
        }
    }

    /// Forks one idle spare into the pool. False if it could not be forked (logged).
    fn fork_spare(&mut self) -> bool {
        let (read, write) = match crate::sys::message_pipe::create() {
            Ok(p) => p,
            Err(e) => {
                elog::log(format!("could not create pipe for spare worker process: {e}"));
                return false;
            }
        };
        let assignments = read.as_raw_fd();
        let keep = [write.as_raw_fd()];
        let Some(pid) =
            self.fork_child_closing(ChildKind::Spare, false, &keep, assignments, |assignments, _, death| {
                crate::worker::spare::run(assignments, death)
            })
        else {
            return false;
        };
        drop(read);
        let libraries = crate::modules::loader::loaded_count();
        self.spares.add(IdleSpare { pid, assign: write, libraries });
        true
    }
}
