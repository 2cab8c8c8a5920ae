//! bgw's scale-out pattern (issue 15): one PostgreSQL 15 server holds the jobs; workers of the `job_queue`
//! module on one bgw host, then on two, take them with `FOR UPDATE SKIP LOCKED`; every job is done exactly once,
//! and each batch's `NOTIFY jobs_done` reaches a client LISTENing through a host's relay. Prints the throughput
//! of each run (`bench/scale_out` runs this in release mode for BENCHMARKS.md; no figure is asserted).
//!
//! Every process is stopped when the test ends, failed or not (`Host` and `Postgres` kill their process groups
//! on drop).

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use bgw_test_support::pg15::Postgres;
use bgw_test_support::*;

const MODULE: Module = Module::package("job-queue");
const ROLE: &str = "queue";
const PASSWORD: &str = "queue-pw-5521";

/// How many jobs each run has (`JOBS` overrides), and each job's work in milliseconds (`WORK_MS`).
fn jobs() -> u64 {
    std::env::var("JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}
fn work_ms() -> u64 {
    std::env::var("WORK_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}
/// Workers per host (`WORKERS_PER_HOST`).
fn workers_per_host() -> i64 {
    std::env::var("WORKERS_PER_HOST").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

/// A bgw host whose database `app` is the server's database `app`.
fn host_on(pg: &Postgres) -> Host {
    let host = Host::start(MODULE.setup());
    let passfile = host.data().join("pgpass");
    std::fs::write(&passfile, format!("127.0.0.1:{}:app:{ROLE}:{PASSWORD}\n", pg.port)).unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    host.sql(&format!(
        "CREATE DATABASE app WITH ENGINE = postgresql CONNECTION = 'host=127.0.0.1 port={} dbname=app user={ROLE}'",
        pg.port
    ));
    host
}

/// Starts `n` job_queue workers on `host`, recording `label` as the host in `done_by`.
fn launch_workers(host: &Host, label: &str, n: i64) {
    for i in 1..=n {
        let options = format!(
            "{{\"name\": \"job_queue {label}/{i}\", \"flags\": [\"shmem\", \"database\"], \
             \"extra\": \"database=app host={label} batch=10 work_ms={} idle_ms=20\"}}",
            work_ms()
        );
        host.sql(&format!("SELECT bgw_launch('job_queue', 'job_queue_main', {i}, '{options}')"));
    }
}

/// One run: `hosts` take the jobs; the jobs per second, after checking every job was done exactly once and
/// the listener (through the first host's relay) heard of every one.
fn run(pg: &Postgres, hosts: &[(&Host, &str)]) -> f64 {
    let direct = pg.login();
    let n = jobs();
    direct.sql("app", "TRUNCATE jobs RESTART IDENTITY");
    direct.sql("app", &format!("INSERT INTO jobs (payload) SELECT 'job ' || g FROM generate_series(1, {n}) g"));
    let mut listener =
        hosts[0].0.connect(&os_user(), "app").unwrap_or_else(|e| panic!("no session through the relay: {e}"));
    listener.batch_execute("LISTEN jobs_done").unwrap();
    let started = Instant::now();
    for (host, label) in hosts {
        launch_workers(host, label, workers_per_host());
    }
    let deadline = started + Duration::from_secs(120);
    loop {
        let left: u64 = direct.sql("app", "SELECT count(*) FROM jobs WHERE done_by IS NULL").parse().unwrap();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} jobs left after 120 s; log:\n{}", hosts[0].0.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = started.elapsed().as_secs_f64();
    for (host, _) in hosts {
        host.sql("SELECT bgw_terminate(slot || ':' || generation) FROM bgw_workers WHERE library = 'job_queue' AND pid IS NOT NULL");
    }
    // Exactly once: every job done, by one run of one worker.
    assert_eq!(direct.sql("app", "SELECT count(*) FROM jobs WHERE runs <> 1 OR done_by IS NULL"), "0");
    let by_host = direct.sql("app", "SELECT count(DISTINCT split_part(done_by, '/', 1)) FROM jobs");
    assert_eq!(by_host, hosts.len().to_string(), "every host took jobs");
    // Each batch's NOTIFY, from the workers' transactions on the server, reached the client through the relay.
    let mut heard = 0u64;
    let mut notifications = listener.notifications();
    let mut waiting = notifications.timeout_iter(Duration::from_secs(30));
    while heard < n {
        let note = postgres::fallible_iterator::FallibleIterator::next(&mut waiting)
            .unwrap()
            .unwrap_or_else(|| panic!("heard of {heard} of {n} jobs"));
        assert_eq!(note.channel(), "jobs_done");
        heard += note.payload().parse::<u64>().unwrap();
    }
    assert_eq!(heard, n);
    n as f64 / seconds
}

#[test]
fn workers_on_two_hosts_do_every_job_exactly_once() {
    let pg = Postgres::start();
    let login = pg.login();
    login.sql("postgres", &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"));
    login.sql("postgres", &format!("CREATE DATABASE app OWNER {ROLE}"));
    let mut owner = login.clone();
    owner.user = ROLE.into();
    owner.password = PASSWORD.into();
    owner.sql(
        "app",
        "CREATE TABLE jobs (id bigserial PRIMARY KEY, payload text, done_by text, runs int NOT NULL DEFAULT 0, \
         done_at timestamptz)",
    );
    let first = host_on(&pg);
    let one = run(&pg, &[(&first, "h1")]);
    let second = host_on(&pg);
    let two = run(&pg, &[(&first, "h1"), (&second, "h2")]);
    println!(
        "scale_out: jobs={} work_ms={} workers_per_host={} one_host={one:.0} jobs/s two_hosts={two:.0} jobs/s ratio={:.2}",
        jobs(),
        work_ms(),
        workers_per_host(),
        two / one
    );
}
