//! The rows of `pg_stat_activity` and `bgw_workers`, read from shared memory (process entries and slots).
//!
//! Runs in a backend process.

use crate::backend::host::{ActivityRow, WorkerRow};
use crate::bgworker::handle::ExitReason;
use crate::bgworker::types::{flags_text, Restart, WorkerSpec};
use crate::shmem::procs::ProcKind;
use crate::shmem::{self, WorkerState};
use crate::sync::Ordering;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A time in microseconds since the epoch, as shared memory keeps times.
pub(super) fn time_of(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

/// Names of roles and databases by oid, read from the catalog once per scan and remembered for it: views show
/// names exactly as stored (a dropped role or database, or an unreadable catalog, shows as NULL).
struct Names {
    catalog: Option<crate::catalog::Catalog>,
    roles: HashMap<u32, Option<String>>,
    databases: HashMap<u32, Option<String>>,
}

impl Names {
    fn new() -> Names {
        Names {
            catalog: crate::catalog::Catalog::open(crate::process::data_dir()).ok(),
            roles: HashMap::new(),
            databases: HashMap::new(),
        }
    }

    fn role(&mut self, oid: u32) -> Option<String> {
        if oid == 0 {
            return None;
        }
        let catalog = &self.catalog;
        self.roles
            .entry(oid)
            .or_insert_with(|| catalog.as_ref().and_then(|c| c.role_by_oid(oid).ok().flatten()).map(|r| r.name))
            .clone()
    }

    fn database(&mut self, oid: u32) -> Option<String> {
        if oid == 0 {
            return None;
        }
        let catalog = &self.catalog;
        self.databases
            .entry(oid)
            .or_insert_with(|| catalog.as_ref().and_then(|c| c.database_by_oid(oid).ok().flatten()).map(|d| d.name))
            .clone()
    }
}

/// `pg_stat_activity`: every process with an entry. The role `me` (an oid) sees its own role's queries,
/// `sees_all` everyone's (as in PostgreSQL, only superusers see what other roles' sessions and workers are
/// running). Roles are compared by oid.
pub fn activity(me: u32, sees_all: bool) -> Vec<ActivityRow> {
    let Some(shm) = shmem::attached() else { return Vec::new() };
    let mut names = Names::new();
    shm.procs()
        .iter()
        .filter_map(|p| p.snapshot())
        .map(|s| {
            let backend_type = match s.kind {
                ProcKind::Backend => "client backend".to_string(),
                ProcKind::Startup => "startup".to_string(),
                ProcKind::Spare => "spare worker".to_string(),
                ProcKind::Worker => shm
                    .slots()
                    .copy_locked(s.worker_slot.max(0) as u32)
                    .map(|(c, _)| WorkerSpec::sanitized_from(&c.payload.worker).worker_type)
                    .unwrap_or_else(|| "background worker".to_string()),
                ProcKind::Free => "unknown".to_string(),
            };
            let own = me != 0 && s.role_oid == me;
            let query = if sees_all || own { s.query } else { "<insufficient privilege>".to_string() };
            ActivityRow {
                pid: s.pid,
                backend_type,
                backend_start: time_of(s.start_us),
                datname: names.database(s.database_oid),
                usename: names.role(s.role_oid),
                application_name: s.application_name,
                state: s.state,
                query,
            }
        })
        .collect()
}

/// `bgw_workers`: every registered worker, then the names of static workers whose library was dropped.
pub fn workers() -> Vec<WorkerRow> {
    let Some(shm) = shmem::attached() else { return Vec::new() };
    let slots = shm.slots();
    let status = shm.slot_status();
    let mut rows = Vec::new();
    for i in 0..slots.len() as u32 {
        let Some((copy, pid)) = slots.copy_locked(i) else { continue };
        let spec = WorkerSpec::sanitized_from_slot(&copy.payload);
        let st = &status[i as usize];
        let mut state = WorkerState::from_u32(st.state.load(Ordering::Relaxed));
        if state == WorkerState::Free {
            state = WorkerState::Registered;
        }
        let last = st.last_exit.load(Ordering::Relaxed);
        let notify = st.notify_pid.load(Ordering::Relaxed);
        // The exit record, if it is this registration's.
        let exit = st.exit.read().filter(|r| r.generation == copy.generation);
        let ended = exit.filter(|r| r.reason != crate::bgworker::exit_reason::BGW_EXIT_NONE);
        let info = ended.map(|r| crate::bgworker::exit_reason::BgwExitInfo {
            reason: r.reason,
            detail: r.detail,
            ended_at_us: r.ended_at_us,
            starts: r.starts,
        });
        rows.push(WorkerRow {
            slot: i as i64,
            generation: copy.generation as i64,
            name: spec.name.clone(),
            worker_type: spec.worker_type.clone(),
            library: spec.library.clone(),
            function: spec.function.clone(),
            main_arg: spec.main_arg as i64,
            flags: flags_text(spec.flags),
            start_phase: spec.start_time.as_str().to_string(),
            restart_seconds: match spec.restart {
                Restart::Never => None,
                Restart::After { seconds } => Some(seconds as i64),
            },
            pid: (pid > 0).then_some(pid),
            state: if copy.terminate && pid > 0 { "terminating".into() } else { state.as_str().into() },
            notify_pid: (notify > 0).then_some(notify),
            restart_count: st.restart_count.load(Ordering::Relaxed) as i64,
            last_exit_code: (last != i32::MIN).then_some(last),
            starts: exit.map_or(0, |r| r.starts as i64),
            last_exit_reason: info.map(|i| ExitReason::from_parts(i.reason, i.detail).kind().to_owned()),
            last_exit_description: info.as_ref().map(crate::bgworker::handle::describe),
            last_exit_at: info
                .map(|i| std::time::UNIX_EPOCH + std::time::Duration::from_micros(i.ended_at_us.max(0) as u64)),
            next_start_at: match st.next_start_us.load(Ordering::Relaxed) {
                us if us > 0 && state == WorkerState::WaitingRestart => {
                    Some(std::time::UNIX_EPOCH + std::time::Duration::from_micros(us as u64))
                }
                _ => None,
            },
        });
    }
    for name in shm.header().dropped() {
        rows.push(WorkerRow {
            slot: -1,
            generation: 0,
            name,
            worker_type: String::new(),
            library: String::new(),
            function: String::new(),
            main_arg: 0,
            flags: String::new(),
            start_phase: String::new(),
            restart_seconds: None,
            pid: None,
            state: "dropped".into(),
            notify_pid: None,
            restart_count: 0,
            last_exit_code: None,
            starts: 0,
            last_exit_reason: None,
            last_exit_description: None,
            last_exit_at: None,
            next_start_at: None,
        });
    }
    rows
}
