//! pgbench (issue 14): PostgreSQL 15's own pgbench, unmodified, against bgw and against a throwaway PostgreSQL 15
//! cluster on the same machine: `pgbench -i -s 1` (its DDL, COPY and VACUUM), then `pgbench -T 10` (the default
//! TPC-B-like script), `pgbench -S -T 10` (select only) and `pgbench -C -S -T 10` (a new connection per
//! transaction). Asserts that every run succeeds with no failed transaction, and prints each tps and the ratio
//! bgw / PostgreSQL; no figure is asserted (speed is for BENCHMARKS.md: `bench/pgbench` runs this in release mode).

use bgw_test_support::{bgw_login, pg_program, Host, Login, Postgres, Setup};
use std::time::Duration;

/// The runs after `pgbench -i -s 1`: (label, arguments).
const RUNS: &[(&str, &[&str])] = &[("tpcb", &[]), ("select", &["-S"]), ("connect", &["-C", "-S"])];

/// pgbench's output for `args` against `login`'s `postgres` database; fails the test if pgbench fails.
fn pgbench(login: &Login, args: &[&str], seconds: u32) -> String {
    let mut cmd = login.command(pg_program("pgbench"), "postgres");
    cmd.args(args);
    if !args.contains(&"-i") {
        cmd.arg("-T").arg(seconds.to_string());
    }
    let out = Login::run(&mut cmd, Duration::from_secs(u64::from(seconds) + 300));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pgbench {} on port {} failed ({}):\n{text}", args.join(" "), login.port, out.status);
    text
}

/// The tps of a run's output, after checking that no transaction failed.
fn tps(out: &str) -> f64 {
    let failed = out
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .unwrap_or_else(|| panic!("no failed-transactions line in:\n{out}"));
    assert!(failed.starts_with("0 "), "failed transactions: {failed}\n{out}");
    let processed = out.lines().find_map(|l| l.strip_prefix("number of transactions actually processed: "));
    assert!(
        processed.is_some_and(|p| p
            .split('/')
            .next()
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)),
        "{out}"
    );
    out.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no tps in:\n{out}"))
}

/// Initializes and runs every run of [`RUNS`] against `login` (printing each figure as it comes): (label, tps).
fn bench(login: &Login, seconds: u32, server: &str) -> Vec<(&'static str, f64)> {
    let init = pgbench(login, &["-i", "-s", "1"], seconds);
    assert!(init.contains("done in"), "pgbench -i did not finish:\n{init}");
    let counts = login.sql("postgres", "SELECT count(*) FROM pgbench_accounts");
    assert_eq!(counts, "100000", "pgbench -i -s 1 loads 100000 accounts");
    RUNS.iter()
        .map(|(label, args)| {
            let tps = tps(&pgbench(login, args, seconds));
            println!("pgbench {label} on {server}: {tps:.1} tps");
            (*label, tps)
        })
        .collect()
}

/// The harness itself, on PostgreSQL 15 with short runs: pgbench initializes, runs and reports.
#[test]
fn pgbench_runs_on_postgres() {
    let pg = Postgres::start();
    for (_, tps) in bench(&pg.login(), 2, "PostgreSQL 15") {
        assert!(tps > 0.0);
    }
}

/// bgw beside PostgreSQL 15: the same runs, no failed transaction, the ratios printed.
#[test]
fn bgw_runs_pgbench_like_postgres() {
    let seconds = std::env::var("PGBENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let pg = Postgres::start_with(&[("max_connections", "100")]);
    let want = bench(&pg.login(), seconds, "PostgreSQL 15");
    drop(pg);
    let host = Host::start(Setup::new(env!("CARGO_BIN_EXE_bgw")).tcp());
    let got = bench(&bgw_login(&host), seconds, "bgw");
    drop(host);
    println!("pgbench -T {seconds} (scale 1, 1 client): run | PostgreSQL 15 tps | bgw tps | bgw / PostgreSQL");
    for ((label, pg_tps), (_, bgw_tps)) in want.iter().zip(&got) {
        println!("pgbench {label:8} | {pg_tps:10.1} | {bgw_tps:10.1} | {:.2}", bgw_tps / pg_tps);
    }
}
