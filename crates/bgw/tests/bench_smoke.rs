//! The benchmark harness (bench/run, bench/driver) smoke-tested with tiny counts: every scenario runs on a real
//! throwaway PostgreSQL 15 cluster and on a real bgw data directory, with the bench module built from one C source
//! by PGXS and against include/bgworker.h. Measures nothing (the counts are tiny and this is a debug build); it
//! proves the harness and the bench module work on both hosts, so the full run (not part of CI) stays runnable.

use bgw_bench::hosts::Kind;
use bgw_bench::{Counts, Options};
use std::path::PathBuf;

#[test]
fn every_scenario_runs_on_both_hosts() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let out = tempfile::tempdir().unwrap();
    let pg_config = std::process::Command::new("sh").args(["-c", "command -v pg_config"]).output().unwrap();
    let pg_config = String::from_utf8_lossy(&pg_config.stdout).trim().to_string();
    assert!(!pg_config.is_empty(), "pg_config not found: .ci/run installs postgresql-server-dev-15");
    let counts = Counts::smoke();
    let opts = Options {
        repo,
        out: out.path().to_path_buf(),
        bgw_bin: PathBuf::from(env!("CARGO_BIN_EXE_bgw")),
        pg_bindir: PathBuf::from("/usr/lib/postgresql/15/bin"),
        pg_config: PathBuf::from(pg_config),
        counts: counts.clone(),
        keep: false,
        verbose: false,
    };
    let report = bgw_bench::run(&opts).unwrap_or_else(|e| panic!("bench run failed: {e:?}"));
    let table = report.table();
    eprintln!("{table}");

    // Every sampled scenario has its full count of positive samples on both hosts.
    let per = |n: usize| n.div_ceil(counts.rounds) * counts.rounds;
    for (scenario, n) in [
        ("launch_to_started", per(counts.launch_to_started)),
        ("launch_full_cycle", per(counts.launch_full_cycle)),
        ("terminate_latency", per(counts.terminate_latency)),
        ("terminate_to_worker_wake", per(counts.terminate_to_wake)),
        ("crash_restart", counts.crash_restart),
        ("scale_launch_none_busy", counts.launch_to_started),
        ("scale_launch_busy", counts.launch_to_started),
    ] {
        for host in [Kind::Postgres, Kind::Bgw] {
            let v = report.samples(scenario, host);
            assert_eq!(v.len(), n, "{scenario} on {host:?}: {v:?}");
            assert!(v.iter().all(|&x| x > 0), "{scenario} on {host:?}: {v:?}");
        }
    }
    for (scenario, n) in [
        ("launch_to_started", counts.launch_to_started),
        ("launch_full_cycle", counts.launch_full_cycle),
        ("terminate_latency", counts.terminate_latency),
        ("terminate_to_worker_wake", counts.terminate_to_wake),
    ] {
        for suffix in ["no_spares", "spares_ab"] {
            let scenario = format!("{scenario}_{suffix}");
            let v = report.samples(&scenario, Kind::Bgw);
            assert_eq!(v.len(), per(n), "{scenario}: {v:?}");
            assert!(v.iter().all(|&x| x > 0), "{scenario}: {v:?}");
        }
    }
    for k in &counts.bursts {
        for host in [Kind::Postgres, Kind::Bgw] {
            // Each repetition: the start and terminate times, then when each of the k workers began (all of them:
            // a started idle worker has begun its main function by the time it has been terminated).
            let runs: Vec<_> =
                report.records.iter().filter(|r| r.scenario == format!("burst_{k}") && r.host == host).collect();
            assert_eq!(runs.len(), counts.burst_repeats, "burst {k} on {host:?}");
            for r in runs {
                assert_eq!(r.values.len(), 2 + k, "burst {k} on {host:?}: {:?}", r.values);
                assert!(r.values.iter().all(|&x| x > 0), "burst {k} on {host:?}: {:?}", r.values);
            }
        }
    }
    assert_eq!(report.burst_round_ratios(&format!("burst_{}", counts.bursts[1])).len(), counts.burst_repeats);
    // Every row of the table has its figures (the idle ones too; bgw's own ratios have no PostgreSQL figure), and
    // the files are written, the pictures among them.
    for row in &report.rows {
        assert!(row.bgw.is_some() && (row.pg.is_some() || row.unit == "x"), "row without figures: {row:?}\n{table}");
    }
    for picture in ["latency.svg", "burst.svg"] {
        let svg = std::fs::read_to_string(out.path().join(picture)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("bgw") && svg.contains("PostgreSQL"), "{picture}: {svg}");
    }
    let csv = std::fs::read_to_string(out.path().join("samples.csv")).unwrap();
    assert!(csv.lines().count() > 50, "{csv}");
    assert!(std::fs::read_to_string(out.path().join("results.txt")).unwrap().contains("launch_to_started median"));
    // Nothing of either host is left running: no process in any of the postmasters' process groups.
    assert_eq!(report.postmasters.len(), 4, "two hosts, each restarted once for the scale scenario");
    let mut left = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let pgrp: i32 = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        if report.postmasters.contains(&pgrp) {
            left.push(stat);
        }
    }
    assert!(left.is_empty(), "processes left: {left:?}");
}
