//! Spare worker processes (`worker_spare_processes`): forked ahead of need, each becomes the next worker to start,
//! so a registrant learns its worker's pid without waiting for a fork. Driven through the real binary: which pid
//! a started worker gets, what a reload, a kill, a signal, a crash and a shutdown do to idle spares.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const TITLE: &str = "bgw: spare worker";

/// The postmaster's idle spares, from `/proc` (by title).
fn spares(h: &Host) -> Vec<i32> {
    children_of(h.pid()).into_iter().filter(|(_, t)| t == TITLE).map(|(p, _)| p).collect()
}

fn wait_spares(h: &Host, n: usize) -> Vec<i32> {
    wait_until(&format!("{n} spare worker processes"), || spares(h).len() == n);
    spares(h)
}

/// A host with one static worker, "keeper" (a sleeper restarted after `restart` seconds), and its pid.
fn start_with_keeper(restart: u32) -> (Host, i32) {
    let h = Host::start(
        Setup::new(BGW)
            .workers(&format!("[[worker]]\nname = \"keeper\"\nfunction = \"sleeper\"\nrestart = {restart}\n")),
    );
    let keeper = h.wait_worker_pid("keeper");
    (h, keeper)
}

fn register_sleeper(h: &Host, name: &str) -> String {
    h.register("bgw", "sleeper", 1, &format!(r#"{{"name": "{name}"}}"#))
}

/// A signal mask from `/proc/<pid>/status` (SigIgn, SigCgt, SigBlk): bit n-1 is signal n.
fn status_mask(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

fn reload_with(h: &Host, lines: &str) {
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(lines);
    std::fs::write(&conf, text).unwrap();
    h.signal(SIGHUP);
}

#[test]
fn the_next_worker_is_the_spare_and_a_new_spare_follows() {
    let h = Host::start(Setup::new(BGW));
    let [spare] = wait_spares(&h, 1)[..] else { unreachable!() };
    // pg_stat_activity shows it for what it is.
    assert_eq!(h.sql(&format!("SELECT backend_type FROM pg_stat_activity WHERE pid = {spare}")), "spare worker");
    // Like every child it starts from default signal dispositions (the postmaster ignores SIGPIPE; the spare
    // neither ignores nor catches anything), with every signal but the parent-death one blocked.
    assert_ne!(status_mask(h.pid(), "SigIgn") & (1 << (SIGPIPE - 1)), 0);
    assert_eq!(status_mask(spare, "SigIgn") & 0x7fff_ffff, 0);
    // (Signals 32 and 33 belong to the C library, which handles them in every process.)
    assert_eq!(status_mask(spare, "SigCgt") & 0x7fff_ffff, 0);
    let blocked = status_mask(spare, "SigBlk");
    assert_eq!(blocked & (1 << (SIGUSR2 - 1)), 0, "the parent-death signal gets through");
    for sig in [SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1] {
        assert_ne!(blocked & (1 << (sig - 1)), 0, "signal {sig} is held");
    }

    let handle = register_sleeper(&h, "first");
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert_eq!(pid, spare, "the started worker is the spare that was waiting");
    wait_until("the worker's title", || cmdline(pid) == "bgw: first");
    assert_eq!(
        h.sql(&format!("SELECT backend_type FROM pg_stat_activity WHERE pid = {pid}")),
        "first",
        "a worker without a type shows its name"
    );
    // It runs the registration it was handed, with the main argument and the notify pid of the registration.
    h.wait_log(&format!("[{pid}] DEBUG1:  sleeper \"first\" started: main argument 1"));

    let next = wait_spares(&h, 1);
    assert_ne!(next, vec![spare], "a replacement spare was forked");

    // Terminating the worker that was a spare follows the spec's path: SIGTERM, FATAL, exit 1, slot freed.
    assert_eq!(h.sql(&format!("SELECT bgw_terminate('{handle}')")), "t");
    h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')"));
    let log = h.wait_log(&format!("background worker \"first\" (PID {pid}) exited with exit code 1"));
    assert!(
        log.contains(&format!("[{pid}] FATAL:  terminating background worker \"first\" due to administrator command"))
    );
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn a_reload_replaces_spares_so_workers_see_the_new_configuration() {
    // Spares forked while DEBUG1 is off; a worker started from one after the reload must log at DEBUG1.
    let h = Host::start(Setup::new(BGW).conf("log_min_messages", "warning"));
    let old = wait_spares(&h, 1);

    reload_with(&h, "log_min_messages = debug1\nworker_spare_processes = 3\n");
    wait_until("three spares, none of them the old one", || {
        let now = spares(&h);
        now.len() == 3 && !now.contains(&old[0])
    });
    let now = spares(&h);
    let handle = register_sleeper(&h, "fresh");
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert!(now.contains(&pid), "started as one of the new spares {now:?}, got {pid}");
    h.wait_log(&format!("[{pid}] DEBUG1:  sleeper \"fresh\" started"));

    reload_with(&h, "worker_spare_processes = 0\n");
    wait_spares(&h, 0);
    let handle = register_sleeper(&h, "forked");
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert!(!now.contains(&pid), "with no spares the worker is forked");
    wait_until("the worker's title", || cmdline(pid) == "bgw: forked");
    assert!(spares(&h).is_empty(), "no spare is forked when none is configured");
    // Retired spares exit 0, quietly.
    assert!(!h.log().contains("spare worker process (PID"), "{}", h.log());
}

#[test]
fn an_idle_spare_that_dies_is_not_a_crash() {
    let (h, keeper) = start_with_keeper(1);
    let [spare] = wait_spares(&h, 1)[..] else { unreachable!() };
    signal(spare, SIGKILL);
    let log = h.wait_log(&format!("spare worker process (PID {spare}) was terminated by signal 9: Killed"));
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert!(alive(keeper), "the static worker was left alone");

    // The next launch forks (no spare is idle), and asks for a replacement.
    let handle = register_sleeper(&h, "after");
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert_ne!(pid, spare);
    let replacement = wait_spares(&h, 1);
    assert!(!replacement.contains(&pid) && !replacement.contains(&spare));
    assert!(alive(keeper));
}

#[test]
fn a_signal_sent_to_an_idle_spare_waits_for_the_worker_it_becomes() {
    let h = Host::start(Setup::new(BGW));
    let [spare] = wait_spares(&h, 1)[..] else { unreachable!() };
    signal(spare, SIGTERM);
    // Held (an idle spare blocks every signal), not acted on: the spare is still there, still idle.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(alive(spare));
    assert_eq!(spares(&h), vec![spare]);

    // The worker it becomes receives the termination as soon as it unblocks signals (so quickly that waiting for
    // its start-up could already find it stopped: wait for its shutdown).
    let handle = register_sleeper(&h, "doomed");
    h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')"));
    let log = h.wait_log(&format!("background worker \"doomed\" (PID {spare}) exited with exit code 1"));
    assert!(log.contains(&format!("[{spare}] FATAL:  terminating background worker \"doomed\"")), "{log}");
}

#[test]
fn a_crash_cycle_and_a_shutdown_take_the_spares_with_them() {
    let (mut h, keeper) = start_with_keeper(0);
    let old = wait_spares(&h, 1);
    signal(keeper, SIGKILL);
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept connections", 2);
    let new = wait_spares(&h, 1);
    assert_ne!(new, old, "the spare of the old segment is gone with it");
    assert!(!alive(old[0]));
    assert!(!h.log().contains("spare worker process (PID"), "a retired spare exits quietly:\n{}", h.log());

    // A fast shutdown: the spare exits with everything else, and the shutdown is clean.
    assert_eq!(h.stop(SIGINT), Some(0), "{}", h.log());
    assert!(!alive(new[0]));
    assert!(h.log().contains("database system is shut down"));
}

#[test]
fn a_promotion_replaces_the_spare_forked_in_standby() {
    let h = Host::start(Setup::new(BGW).standby());
    h.wait_log("database system is ready to accept read-only connections");
    let [standby_spare] = wait_spares(&h, 1)[..] else { unreachable!() };
    let out = h.bgw(&["promote"]);
    assert!(out.status.success(), "{}", stderr(&out));
    h.wait_log("database system is ready to accept connections");
    wait_until("the standby's spare to be replaced", || {
        let now = spares(&h);
        now.len() == 1 && now[0] != standby_spare
    });
    assert!(!alive(standby_spare));
    // The next worker starts on the new spare.
    let [spare] = spares(&h)[..] else { unreachable!() };
    let handle = register_sleeper(&h, "after promotion");
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert_eq!(pid, spare);
}

/// Registers `n` sleepers while the postmaster is stopped (through a session opened before), so that it finds
/// them all queued at once when it continues: a burst whose shape does not depend on how fast this machine is.
/// Their pids.
fn burst(h: &Host, prefix: &str, n: usize) -> Vec<i32> {
    let mut client = h.client();
    h.signal(SIGSTOP);
    let handles: Vec<String> = (0..n)
        .map(|i| {
            let sql = format!(r#"SELECT bgw_register('bgw', 'sleeper', 1, '{{"name": "{prefix}{i}"}}')::text"#);
            client.query_one(sql.as_str(), &[]).unwrap().get(0)
        })
        .collect();
    h.signal(SIGCONT);
    handles
        .iter()
        .map(|handle| {
            let sql = format!("SELECT bgw_wait_for_startup('{handle}')::int");
            client.query_one(sql.as_str(), &[]).unwrap().get::<_, i32>(0)
        })
        .collect()
}

#[test]
fn after_a_burst_the_pool_grows_to_its_size_and_serves_the_next_burst_without_forks() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "40").conf("max_spare_worker_processes", "6"));
    let floor = wait_spares(&h, 1);
    // Ten launches found one spare: the host was short of nine. Once quiet, the pool is refilled to that, bounded
    // by max_spare_worker_processes.
    let first = burst(&h, "a", 10);
    assert!(first.contains(&floor[0]), "the first launch took the idle spare");
    let pool = wait_spares(&h, 6);
    // The pool stays at its size (no spare is forked beyond it).
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(spares(&h).len(), 6, "the pool does not grow beyond max_spare_worker_processes");
    // A pool spare that dies idle is not replaced until the next burst (dying spares never make a fork loop).
    let victim = pool[0];
    signal(victim, SIGKILL);
    wait_until("the killed spare gone", || !spares(&h).contains(&victim));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pool = spares(&h);
    assert_eq!(pool.len(), 5, "no replacement for a spare that died idle: {pool:?}");
    // The next burst of five is served by the pool: every worker is one of its spares, running its registration.
    let second = burst(&h, "b", 5);
    let mut sorted = second.clone();
    sorted.sort();
    let mut expected = pool.clone();
    expected.sort();
    assert_eq!(sorted, expected, "each worker of the second burst was an idle spare");
    for (i, pid) in second.iter().enumerate() {
        wait_until("the worker's title", || cmdline(*pid) == format!("bgw: b{i}"));
    }
    // A reload retires the spares and the pool forgets its size: the floor alone is forked again.
    reload_with(&h, "log_min_messages = warning\n");
    wait_until("the floor alone", || {
        let now = spares(&h);
        now.len() == 1 && !pool.contains(&now[0])
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(spares(&h).len(), 1, "the pool was forgotten");
}

#[test]
fn launches_one_after_another_do_not_grow_the_pool() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "40"));
    wait_spares(&h, 1);
    for i in 0..8 {
        let handle = register_sleeper(&h, &format!("s{i}"));
        h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')"));
        // The floor's refill keeps up: each launch finds a spare.
        wait_spares(&h, 1);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(spares(&h).len(), 1, "a burst of one keeps the floor alone");
}
