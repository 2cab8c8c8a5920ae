//! Chaos: a host under load while random processes of it are killed, stopped and signalled, with the host's
//! promises checked throughout and at the end.
//!
//! Load: two clients launch and terminate sleepers (some parallel, some restartable, some without shared
//! memory), one commits rows and records each acknowledged id, one inserts `delta` rows that two preloaded
//! `worker_spi` workers fold into their totals every second, one transaction a round.
//!
//! Chaos: every 0.1 to 1.2 s a random child of the postmaster (worker, backend or startup process) gets SIGKILL
//! (most often), SIGQUIT, SIGTERM, or SIGSTOP followed by SIGCONT a little later; now and then the postmaster
//! gets SIGHUP (a reload, passed on to every child). Most of these are crashes of a process attached to shared
//! memory, so the host goes through crash-and-restart cycles all the time.
//!
//! Invariants, as real checks (counted as violations, all reported at the end):
//! - the postmaster never dies, and every process in its process group is its child (checked before every
//!   action);
//! - no process survives a crash-and-restart cycle: children seen while no cycle was under way must all be gone
//!   (by pid and start time) once a later cycle has finished;
//! - at checkpoints (every 10 s, clients paused, stopped processes continued): the `bgw_workers` view matches
//!   the processes that exist in `/proc` (see `bgw_test_support::reliability::view_matches_processes`), and
//!   the parallel counters balance (exactly `max_parallel_workers` minus the active parallel workers can be
//!   registered), and the static restartable worker is running;
//! - every commit a client saw acknowledged is present; the `worker_spi` tables hold at least every acknowledged
//!   delta and at most every attempted one (their folding transactions neither lose nor invent rows);
//! - `bgw stop` stops the host with exit code 0 and leaves no process of it behind.
//!
//! Duration: `BGW_CHAOS_SECS` (default 60, the normal suite's version); `tests/chaos-long` runs it for 10
//! minutes in release mode. `BGW_CHAOS_SEED` replays a run's choices (the seed is printed).

use bgw_test_support::*;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const MAX_PARALLEL: usize = 3;
const MAX_WORKERS: usize = 24;
const LAUNCHERS: usize = 2;
const CLIENTS: usize = LAUNCHERS + 2;

const STATIC_WORKERS: &str = r#"
[[worker]]
name = "keeper"
type = "sleeper"
function = "sleeper"
restart = 1
"#;

/// xorshift64*: reproducible choices from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the clients share with the chaos loop.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    pause: AtomicBool,
    parked: AtomicUsize,
    acked: Mutex<Vec<i64>>,
    deltas_tried: [AtomicU64; 2],
    deltas_acked: [AtomicU64; 2],
    launches: AtomicU64,
    refused: AtomicU64,
    terminations: AtomicU64,
    client_errors: AtomicU64,
}

impl Shared {
    /// Between operations: waits while the chaos loop holds a checkpoint. False once the run is over.
    fn go_on(&self) -> bool {
        if self.pause.load(SeqCst) {
            self.parked.fetch_add(1, SeqCst);
            while self.pause.load(SeqCst) && !self.stop.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.parked.fetch_sub(1, SeqCst);
        }
        !self.stop.load(SeqCst)
    }
}

/// Polls `sql` until it answers `want`; false if it has not within the deadline.
fn psql_becomes(h: &Host, sql: &str, want: &str) -> bool {
    let start = Instant::now();
    while h.psql(sql).ok().as_deref() != Some(want) {
        if start.elapsed() > DEADLINE {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn connect(at: &Endpoint) -> Option<postgres::Client> {
    at.client_config(&os_user(), "postgres").connect_timeout(Duration::from_secs(10)).connect(postgres::NoTls).ok()
}

/// The first column of the first row of a simple query (None for NULL or no row).
fn first(c: &mut postgres::Client, sql: &str) -> Result<Option<String>, postgres::Error> {
    for m in c.simple_query(sql)? {
        if let postgres::SimpleQueryMessage::Row(r) = m {
            return Ok(r.get(0).map(str::to_string));
        }
    }
    Ok(None)
}

/// Runs `step` with a connected client until the run is over; a failed step drops the connection.
fn client_loop(
    shared: Arc<Shared>,
    at: Endpoint,
    mut step: impl FnMut(&mut postgres::Client) -> Result<(), postgres::Error>,
) {
    let mut client: Option<postgres::Client> = None;
    while shared.go_on() {
        if client.is_none() {
            client = connect(&at);
            if client.is_none() {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        if step(client.as_mut().unwrap()).is_err() {
            shared.client_errors.fetch_add(1, SeqCst);
            client = None;
        }
    }
}

/// Follows the server log, counting crash cycles begun ("terminating any other active server processes") and
/// finished ("all server processes terminated; reinitializing").
struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
    begun: usize,
    finished: usize,
}

impl LogTail {
    fn new(path: PathBuf) -> LogTail {
        LogTail { path, offset: 0, partial: String::new(), begun: 0, finished: 0 }
    }

    /// Reads what was added since the last call; returns (begun, finished).
    fn poll(&mut self) -> (usize, usize) {
        use std::io::{Read, Seek, SeekFrom};
        if let Ok(mut f) = std::fs::File::open(&self.path) {
            let _ = f.seek(SeekFrom::Start(self.offset));
            let mut buf = Vec::new();
            if let Ok(n) = f.read_to_end(&mut buf) {
                self.offset += n as u64;
                self.partial.push_str(&String::from_utf8_lossy(&buf));
            }
        }
        if let Some(end) = self.partial.rfind('\n') {
            let complete: String = self.partial.drain(..=end).collect();
            self.begun += complete.matches("terminating any other active server processes").count();
            self.finished += complete.matches("all server processes terminated; reinitializing").count();
        }
        (self.begun, self.finished)
    }
}

/// A process's start time in clock ticks since boot (tells a pid's reuse from the process that had it).
fn start_ticks(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

fn chaos_secs() -> u64 {
    std::env::var("BGW_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60)
}

#[test]
fn chaos_keeps_every_promise() {
    let secs = chaos_secs();
    let seed = std::env::var("BGW_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("chaos: {secs} s, seed {seed} (BGW_CHAOS_SEED={seed} replays the choices)");
    let mut rng = Rng(seed);

    let mut h = Host::start(
        Setup::new(BGW)
            .workers(STATIC_WORKERS)
            .conf("max_worker_processes", &MAX_WORKERS.to_string())
            .conf("max_parallel_workers", &MAX_PARALLEL.to_string())
            .module(Module::package("worker-spi"))
            .preload()
            .conf("worker_spi.naptime", "1")
            .conf("log_min_messages", "log"),
    );
    let pm = h.pid();
    h.sql("CREATE TABLE acked (id INTEGER PRIMARY KEY)");
    for t in ["schema1_counted", "schema2_counted"] {
        h.wait_sql(&format!("SELECT count(*) FROM {t}"), |o| o.parse::<i64>().is_ok());
    }

    let shared = Arc::new(Shared::default());
    let mut threads = Vec::new();
    // Commits: each acknowledged id is recorded.
    {
        let s = shared.clone();
        let mut id: i64 = 0;
        threads.push(std::thread::spawn({
            let (s2, at) = (s.clone(), h.endpoint());
            move || {
                client_loop(s, at, move |c| {
                    id += 1;
                    c.execute("INSERT INTO acked (id) VALUES ($1::int8)", &[&id])?;
                    s2.acked.lock().unwrap().push(id);
                    Ok(())
                })
            }
        }));
    }
    // Deltas for the worker_spi workers.
    {
        let s = shared.clone();
        let mut n: usize = 0;
        threads.push(std::thread::spawn({
            let (s2, at) = (s.clone(), h.endpoint());
            move || {
                client_loop(s, at, move |c| {
                    n += 1;
                    let t = n % 2;
                    s2.deltas_tried[t].fetch_add(1, SeqCst);
                    c.batch_execute(&format!("INSERT INTO schema{}_counted (type, value) VALUES ('delta', 1)", t + 1))?;
                    s2.deltas_acked[t].fetch_add(1, SeqCst);
                    Ok(())
                })
            }
        }));
    }
    // Launchers: register sleepers of every kind, wait for them to start, terminate them again.
    for l in 0..LAUNCHERS {
        let s = shared.clone();
        let mut rng = Rng(seed.wrapping_add(l as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut handles: VecDeque<String> = VecDeque::new();
        let mut n = 0;
        threads.push(std::thread::spawn({
            let (s2, at) = (s.clone(), h.endpoint());
            move || {
                client_loop(s, at, move |c| {
                    if handles.len() >= 4 || (!handles.is_empty() && rng.below(3) == 0) {
                        let handle = handles.pop_front().unwrap();
                        if let Err(e) = first(c, &format!("SELECT bgw_terminate('{handle}')")) {
                            handles.push_front(handle);
                            return Err(e);
                        }
                        s2.terminations.fetch_add(1, SeqCst);
                        return Ok(());
                    }
                    n += 1;
                    let (flags, restart) = match rng.below(10) {
                        0..=2 => (r#"["shmem", "parallel"]"#, r#""never""#),
                        3 => ("[]", "1"),
                        4..=6 => (r#"["shmem"]"#, "1"),
                        _ => (r#"["shmem"]"#, r#""never""#),
                    };
                    let options = format!(r#"{{"name": "chaos {l}.{n}", "flags": {flags}, "restart": {restart}}}"#);
                    match first(c, &format!("SELECT bgw_register('bgw', 'sleeper', {n}, '{options}')"))? {
                        None => {
                            s2.refused.fetch_add(1, SeqCst);
                        }
                        Some(handle) => {
                            handles.push_back(handle.clone());
                            if first(c, &format!("SELECT bgw_wait_for_startup('{handle}')"))?.is_some() {
                                s2.launches.fetch_add(1, SeqCst);
                            }
                        }
                    }
                    Ok(())
                })
            }
        }));
    }

    let mut violations: Vec<String> = Vec::new();
    let (mut kills, mut quits, mut terms, mut stops, mut checkpoints) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut reloads = 0u64;
    let swept = std::cell::Cell::new(0u64);
    let mut stopped: Vec<(i32, Instant)> = Vec::new();
    let cont_all = |stopped: &mut Vec<(i32, Instant)>| {
        for (pid, _) in stopped.drain(..) {
            try_signal(pid, SIGCONT);
        }
    };
    let checkpoint = |violations: &mut Vec<String>, stopped: &mut Vec<(i32, Instant)>| {
        shared.pause.store(true, SeqCst);
        cont_all(stopped);
        let start = Instant::now();
        while shared.parked.load(SeqCst) < CLIENTS {
            if start.elapsed() > Duration::from_secs(60) {
                violations
                    .push(format!("clients still busy 60 s into a checkpoint ({} parked)", shared.parked.load(SeqCst)));
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Err(e) = wait_consistent(&h, DEADLINE) {
            violations.push(format!("view and processes disagree: {e}"));
        }
        // The static worker (restart interval 1 s) is always back, whatever happened to it.
        if !psql_becomes(&h, "SELECT state FROM bgw_workers WHERE name = 'keeper'", "running") {
            violations.push(format!(
                "the static worker is not running: {:?}",
                h.psql("SELECT state, restart_count, last_exit_code FROM bgw_workers WHERE name = 'keeper'")
            ));
        }
        // Registrations whose handle a client never received (its connection was lost) outlive it, and the
        // restartable ones survive crash cycles: terminate every client-made worker by its slot and generation, so
        // that free slots do not run out (that is not a violation: PostgreSQL keeps such registrations too).
        let cleanup =
            "SELECT count(bgw_terminate(slot || ':' || generation)) FROM bgw_workers WHERE name LIKE 'chaos %'";
        match h.psql(cleanup) {
            Ok(n) => swept.set(swept.get() + n.parse::<u64>().unwrap_or(0)),
            Err(e) => violations.push(format!("terminating the clients' workers failed: {}", e.trim())),
        }
        if !psql_becomes(&h, "SELECT count(*) FROM bgw_workers WHERE name LIKE 'chaos %'", "0") {
            violations.push(format!(
                "terminated workers did not go: {:?}",
                h.psql("SELECT slot, name, pid, state FROM bgw_workers WHERE name LIKE 'chaos %'")
            ));
        }
        if let Err(e) = parallel_balance(&h, MAX_PARALLEL, MAX_WORKERS) {
            violations.push(e);
        }
        shared.pause.store(false, SeqCst);
    };

    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut next_checkpoint = started + Duration::from_secs(10);
    let mut tail = LogTail::new(h.log_path.clone());
    // Processes seen while no crash cycle was under way, with the number of cycles finished then: once a later
    // cycle has finished, none of them may still exist (a crash cycle stops every other process).
    let mut before_crash: Vec<(usize, Vec<(i32, u64)>)> = Vec::new();
    let mut survivors_checked: u64 = 0;
    while Instant::now() < end {
        if !alive(pm) {
            violations.push("the postmaster died".to_string());
            break;
        }
        for pid in group_members(pm) {
            if let Some((state, ppid, pgrp)) = stat(pid) {
                // One read of /proc: a pid reused since the group was listed has another group.
                if pgrp == pm && ppid != pm && state != 'Z' {
                    violations
                        .push(format!("process {pid} ({:?}) is in the host's group, not its child", cmdline(pid)));
                }
            }
        }
        let (begun, finished) = tail.poll();
        before_crash.retain(|(cycle, procs)| {
            if finished <= *cycle {
                return true;
            }
            for &(pid, ticks) in procs {
                survivors_checked += 1;
                if alive(pid) && start_ticks(pid) == Some(ticks) {
                    violations.push(format!("PID {pid} ({:?}) survived a crash cycle", cmdline(pid)));
                }
            }
            false
        });
        if begun == finished {
            let procs: Vec<(i32, u64)> =
                children_of(pm).into_keys().filter_map(|p| Some((p, start_ticks(p)?))).collect();
            if tail.poll() == (begun, finished) && before_crash.len() < 64 {
                before_crash.push((finished, procs));
            }
        }
        let now = Instant::now();
        stopped.retain(|&(pid, due)| {
            if due <= now {
                try_signal(pid, SIGCONT);
            }
            due > now
        });
        if now >= next_checkpoint {
            checkpoint(&mut violations, &mut stopped);
            checkpoints += 1;
            next_checkpoint = Instant::now() + Duration::from_secs(10);
            continue;
        }
        std::thread::sleep(Duration::from_millis(100 + rng.below(1100)));
        let children: Vec<i32> = children_of(pm).into_keys().collect();
        if children.is_empty() {
            continue;
        }
        let victim = children[rng.below(children.len() as u64) as usize];
        if rng.below(100) < 3 {
            // A configuration reload: the postmaster re-reads its files and passes SIGHUP on to every child.
            reloads += 1;
            try_signal(pm, SIGHUP);
        }
        let sig = match rng.below(100) {
            0..=64 => {
                kills += 1;
                SIGKILL
            }
            65..=74 => {
                quits += 1;
                SIGQUIT
            }
            75..=84 => {
                terms += 1;
                SIGTERM
            }
            _ => {
                stops += 1;
                stopped.push((victim, Instant::now() + Duration::from_millis(50 + rng.below(400))));
                SIGSTOP
            }
        };
        // A victim may have exited since the children were listed.
        try_signal(victim, sig);
    }
    let chaos_time = started.elapsed();

    // The end: clients stop, one last checkpoint, then the data and the stop.
    shared.stop.store(true, SeqCst);
    cont_all(&mut stopped);
    for t in threads {
        t.join().unwrap();
    }
    shared.parked.store(CLIENTS, SeqCst);
    if alive(pm) {
        checkpoint(&mut violations, &mut stopped);
        checkpoints += 1;
    }
    let acked = shared.acked.lock().unwrap().clone();
    // Read with a client of our own: after a long run the table is large, and how long the read takes is a
    // figure, not a failure.
    let read_started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let at = h.endpoint();
    std::thread::spawn(move || {
        let read = connect(&at)
            .ok_or_else(|| "cannot connect".to_string())
            .and_then(|mut c| c.simple_query("SELECT id FROM acked").map_err(|e| e.to_string()));
        let _ = tx.send(read);
    });
    let read = rx.recv_timeout(Duration::from_secs(300)).unwrap_or_else(|_| Err("no answer within 300 s".to_string()));
    let read_time = read_started.elapsed();
    match read {
        Ok(rows) => {
            let present: std::collections::HashSet<i64> = rows
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                    _ => None,
                })
                .collect();
            let missing: Vec<&i64> = acked.iter().filter(|i| !present.contains(i)).collect();
            if !missing.is_empty() {
                violations.push(format!("{} acknowledged commits lost: {missing:?}", missing.len()));
            }
        }
        Err(e) => violations.push(format!("reading the commits failed: {e}")),
    }
    let wal_bytes: u64 = std::fs::read_dir(h.data().join("base"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with("-wal"))
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    let mut folded = 0;
    for t in 0..2 {
        let table = format!("schema{}_counted", t + 1);
        let (tried, ok) = (shared.deltas_tried[t].load(SeqCst), shared.deltas_acked[t].load(SeqCst));
        match h.psql(&format!(
            "SELECT coalesce(sum(value), 0), coalesce(sum(CASE WHEN type = 'total' THEN value END), 0) FROM {table}"
        )) {
            Ok(out) => {
                let v: Vec<u64> = out.split('|').filter_map(|x| x.parse().ok()).collect();
                if v.len() != 2 || v[0] < ok || v[0] > tried {
                    violations.push(format!("{table}: sum {out:?}, {ok} deltas acknowledged, {tried} tried"));
                } else {
                    folded += v[1];
                }
            }
            Err(e) => violations.push(format!("reading {table} failed: {e}")),
        }
    }
    let log = h.log();
    let crash_cycles = log.matches("all server processes terminated; reinitializing").count();
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked") || l.contains("PANIC")).collect();
    if !panics.is_empty() {
        violations.push(format!("{} panics in the log, first: {}", panics.len(), panics[0]));
    }

    // `bgw stop`: exit code 0 and nothing left.
    let stop = h.bgw(&["stop"]);
    if !stop.status.success() {
        violations.push(format!("bgw stop failed: {}", stderr(&stop)));
    }
    let code = h.wait_exit();
    if code != Some(0) {
        violations.push(format!("the postmaster exited with {code:?}"));
    }
    let left: Vec<(i32, String)> = group_members(pm).into_iter().map(|p| (p, cmdline(p))).collect();
    if !left.is_empty() {
        violations.push(format!("processes left after the stop: {left:?}"));
    }

    eprintln!(
        "CHAOS FIGURES\n\
         seconds of chaos: {:.0}\n\
         seed: {seed}\n\
         SIGKILLs: {kills}\n\
         SIGQUITs: {quits}\n\
         SIGTERMs: {terms}\n\
         SIGSTOP/SIGCONTs: {stops}\n\
         SIGHUPs to the postmaster (reloads): {reloads}\n\
         crash-and-restart cycles: {crash_cycles}\n\
         workers launched (started, seen by the registrant): {}\n\
         workers terminated by clients: {}\n\
         client workers swept at checkpoints (running, or registered by a client that lost its connection): {}\n\
         registrations refused (no slot or parallel limit): {}\n\
         client operations failed (connection lost, refused during a crash cycle): {}\n\
         acknowledged commits checked present: {} (read back in {read_time:.1?}; database WAL files {wal_bytes} bytes)\n\
         worker_spi deltas acknowledged: {} (folded into totals: {folded})\n\
         checkpoints (view vs /proc, parallel balance): {checkpoints}\n\
         processes checked gone after a crash cycle: {survivors_checked}\n\
         violations: {}",
        chaos_time.as_secs_f64(),
        shared.launches.load(SeqCst),
        shared.terminations.load(SeqCst),
        swept.get(),
        shared.refused.load(SeqCst),
        shared.client_errors.load(SeqCst),
        acked.len(),
        shared.deltas_acked[0].load(SeqCst) + shared.deltas_acked[1].load(SeqCst),
        violations.len()
    );
    for v in &violations {
        eprintln!("VIOLATION: {v}");
    }
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    // The run must have done something, or it proved nothing.
    assert!(
        kills > 0 && crash_cycles > 0 && checkpoints >= 2,
        "too little chaos: {kills} kills, {crash_cycles} crash cycles"
    );
    assert!(shared.launches.load(SeqCst) > 0 && !acked.is_empty(), "no load got through");
}
