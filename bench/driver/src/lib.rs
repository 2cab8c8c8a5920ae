//! bgw-bench: the same background-worker scenarios on PostgreSQL 15 and on bgw, in one run, side by side.
//!
//! The driver builds the bench module twice from one C source (PGXS for PostgreSQL, cc against include/bgworker.h
//! for bgw) and the fork-floor program, creates a throwaway PostgreSQL cluster and a throwaway bgw data directory,
//! and runs every scenario on both, alternating PostgreSQL, bgw, PostgreSQL, bgw so that drift of the machine
//! (other load, frequency, caches) hits both alike. It prints one table (each figure for PostgreSQL, for bgw, and
//! the ratio bgw / PostgreSQL) and writes the raw samples (`samples.csv`) and the table (`results.txt`) to the
//! output directory. Both hosts are stopped and their directories removed at the end, also when a scenario fails.
//!
//! `bench/run` is the one command; `Counts::smoke()` is what the normal test suite runs.

pub mod build;
pub mod hosts;
pub mod plots;
pub mod report;
pub mod scenarios;

use anyhow::{Context, Result};
use hosts::{Host, Kind, Settings, Tools};
use report::{Record, Report};
use std::path::PathBuf;
use std::time::Duration;

/// How much of each scenario to run.
#[derive(Clone, Debug)]
pub struct Counts {
    /// Rounds each sample count is split into (alternating hosts between rounds).
    pub rounds: usize,
    pub launch_to_started: usize,
    pub launch_full_cycle: usize,
    pub bursts: Vec<usize>,
    pub burst_repeats: usize,
    pub terminate_latency: usize,
    /// Samples of the relay: TerminateBackgroundWorker -> the worker's SIGTERM handler runs.
    pub terminate_to_wake: usize,
    pub crash_restart: usize,
    pub idle_secs: u64,
    /// max_worker_processes for scenarios 1-6.
    pub max_worker_processes: u32,
    pub scale_max_worker_processes: u32,
    pub scale_busy: usize,
    /// Also run the scale scenario on PostgreSQL (for reference).
    pub scale_on_postgres: bool,
}

impl Counts {
    /// The figures.
    pub fn full() -> Counts {
        Counts {
            rounds: 4,
            launch_to_started: 1000,
            launch_full_cycle: 1000,
            bursts: vec![64, 256],
            burst_repeats: 6,
            terminate_latency: 500,
            terminate_to_wake: 500,
            crash_restart: 10,
            idle_secs: 10,
            max_worker_processes: 300,
            scale_max_worker_processes: 50_000,
            scale_busy: 25_000,
            // PostgreSQL needs minutes per thousand workers at this size (its launch scans every slot): its scale
            // figures are a reference run with --pg-scale.
            scale_on_postgres: false,
        }
    }

    /// Tiny counts: proves every scenario runs on both hosts, in seconds.
    pub fn smoke() -> Counts {
        Counts {
            rounds: 2,
            launch_to_started: 10,
            launch_full_cycle: 10,
            bursts: vec![4, 8],
            burst_repeats: 2,
            terminate_latency: 6,
            terminate_to_wake: 6,
            crash_restart: 2,
            idle_secs: 1,
            max_worker_processes: 40,
            scale_max_worker_processes: 200,
            scale_busy: 30,
            scale_on_postgres: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The repository root (sources of the C parts).
    pub repo: PathBuf,
    /// Where results go (created).
    pub out: PathBuf,
    pub bgw_bin: PathBuf,
    pub pg_bindir: PathBuf,
    pub pg_config: PathBuf,
    pub counts: Counts,
    /// Keep the hosts' directories (for a look at their logs).
    pub keep: bool,
    /// Progress lines on stderr.
    pub verbose: bool,
}

struct Run<'a> {
    opts: &'a Options,
    records: Vec<Record>,
}

impl Run<'_> {
    fn say(&self, what: &str) {
        if self.opts.verbose {
            eprintln!("bgw-bench: {what}");
        }
    }

    /// Runs `each` `times` times on each host, alternating between them (PostgreSQL, bgw, PostgreSQL, bgw, ...),
    /// and records what it returns.
    fn alternate(
        &mut self,
        hosts: &[&Host],
        scenario: &str,
        times: usize,
        mut each: impl FnMut(&Host, usize) -> Result<Vec<i64>>,
    ) -> Result<()> {
        for round in 0..times {
            for host in hosts {
                let values = each(host, round).with_context(|| format!("{scenario} on {}", host.kind.label()))?;
                scenarios::settle();
                self.records.push(Record { scenario: scenario.to_string(), host: host.kind, round, values });
            }
        }
        Ok(())
    }
}

/// Runs the whole benchmark and returns the report (also written to `opts.out`).
pub fn run(opts: &Options) -> Result<Report> {
    std::fs::create_dir_all(&opts.out)?;
    let work = std::env::temp_dir().join(format!("bgw-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = run_in(opts, &work);
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn run_in(opts: &Options, work: &std::path::Path) -> Result<Report> {
    let c = &opts.counts;
    let mut run = Run { opts, records: Vec::new() };
    run.say("building the bench module (PGXS and include/bgworker.h) and the fork floor");
    let built = build::build_all(&opts.repo, &work.join("build"), &opts.pg_config)?;
    let tools = Tools {
        pg_bindir: opts.pg_bindir.clone(),
        pg_module_dir: built.pg_module_dir.clone(),
        bgw_bin: opts.bgw_bin.clone(),
        bgw_module_dir: built.bgw_module_dir.clone(),
    };

    // The floor first, on a quiet machine.
    run.say("fork floor");
    let floor = {
        let out = std::process::Command::new(&built.fork_floor).arg(c.launch_to_started.to_string()).output()?;
        report::parse_samples(&String::from_utf8_lossy(&out.stdout))?
    };
    run.records.push(Record { scenario: "fork_floor".into(), host: Kind::Bgw, round: 0, values: floor });

    let settings = Settings { max_worker_processes: c.max_worker_processes, static_workers: 4 };
    let mut pg = Host::create(Kind::Postgres, work, &tools, hosts::free_port()?, &settings)?;
    let mut bgw = Host::create(Kind::Bgw, work, &tools, hosts::free_port()?, &settings)?;
    run.say("starting PostgreSQL and bgw");
    pg.start()?;
    bgw.start()?;
    let mut postmasters = vec![pg.postmaster_pid(), bgw.postmaster_pid()];

    {
        let both = [&pg, &bgw];
        // Warm-up (not recorded): libraries and caches of both hosts.
        for h in both {
            scenarios::timed_in_backend(h, "bgw_bench_launch_full_cycle", 5)?;
        }
        let per = |n: usize| n.div_ceil(c.rounds).max(1) as i64;

        run.say("launch_to_started");
        run.alternate(&both, "launch_to_started", c.rounds, |h, _| {
            scenarios::timed_in_backend(h, "bgw_bench_launch_to_started", per(c.launch_to_started))
        })?;
        run.say("launch_full_cycle");
        run.alternate(&both, "launch_full_cycle", c.rounds, |h, _| {
            scenarios::timed_in_backend(h, "bgw_bench_launch_full_cycle", per(c.launch_full_cycle))
        })?;
        run.say("terminate_latency");
        run.alternate(&both, "terminate_latency", c.rounds, |h, _| {
            scenarios::timed_in_backend(h, "bgw_bench_terminate_latency", per(c.terminate_latency))
        })?;
        run.say("terminate_to_worker_wake");
        run.alternate(&both, "terminate_to_worker_wake", c.rounds, |h, _| {
            scenarios::timed_in_backend(h, "bgw_bench_terminate_to_wake", per(c.terminate_to_wake))
        })?;
        // Bursts after the single launches: after a burst, bgw's spare pool holds idle spares that would serve the
        // launches one after another without the floor's refill (see the README), which is not the steady state
        // those figures are for.
        for &k in &c.bursts {
            run.say(&format!("burst K={k}"));
            run.alternate(&both, &format!("burst_{k}"), c.burst_repeats, |h, _| {
                scenarios::timed_in_backend(h, "bgw_bench_burst", k as i64)
            })?;
        }
        // bgw as PostgreSQL works: every worker forked when it is launched (no spare process), alternated with the
        // default settings in the same minutes (the target: the default is never slower).
        run.say("bgw with and without spare processes");
        for round in 0..c.rounds {
            for spares in [0, 1] {
                bgw.set_spare_processes(spares)?;
                for (scenario, function, n) in [
                    ("launch_to_started", "bgw_bench_launch_to_started", c.launch_to_started),
                    ("launch_full_cycle", "bgw_bench_launch_full_cycle", c.launch_full_cycle),
                    ("terminate_latency", "bgw_bench_terminate_latency", c.terminate_latency),
                    ("terminate_to_worker_wake", "bgw_bench_terminate_to_wake", c.terminate_to_wake),
                ] {
                    let values = scenarios::timed_in_backend(&bgw, function, per(n))?;
                    scenarios::settle();
                    let suffix = if spares == 0 { "no_spares" } else { "spares_ab" };
                    run.records.push(Record {
                        scenario: format!("{scenario}_{suffix}"),
                        host: Kind::Bgw,
                        round,
                        values,
                    });
                }
            }
        }
        bgw.set_spare_processes(1)?;
        run.say("crash_restart");
        run.alternate(&both, "crash_restart", c.crash_restart, |h, i| {
            Ok(vec![scenarios::crash_restart(h, i, Duration::from_secs(120))?])
        })?;

        // Idle: both hosts in the same window, no client connected, static workers idle.
        run.say(&format!("idle ({} s)", c.idle_secs));
        let workers: Vec<i64> = both
            .iter()
            .map(|h| {
                let mut conn = h.connect()?;
                Ok(Host::static_pids(&mut conn)?[0])
            })
            .collect::<Result<_>>()?;
        std::thread::sleep(Duration::from_secs(2)); // the backends just used exit and are reaped
        let begins: Vec<_> =
            both.iter().zip(&workers).map(|(h, &w)| scenarios::idle_begin(h, w)).collect::<Result<_>>()?;
        std::thread::sleep(Duration::from_secs(c.idle_secs));
        for (h, b) in both.iter().zip(begins) {
            let idle = scenarios::idle_end(b)?;
            for (name, v) in [
                ("idle_postmaster_wakeups", idle.postmaster_wakeups),
                ("idle_postmaster_rss_kb", idle.postmaster_rss_kb),
                ("idle_worker_pss_kb", idle.worker_pss_kb),
            ] {
                run.records.push(Record { scenario: name.into(), host: h.kind, round: 0, values: vec![v] });
            }
        }
    }

    // Scale: bgw (and PostgreSQL for reference) restarted with many slots, launch_to_started with none and with
    // `scale_busy` workers running.
    let scaled = Settings { max_worker_processes: c.scale_max_worker_processes, ..settings };
    let mut scale_hosts = vec![&mut bgw];
    if c.scale_on_postgres {
        scale_hosts.push(&mut pg);
    }
    let mut notes = Vec::new();
    for h in scale_hosts {
        run.say(&format!("scale on {}", h.kind.label()));
        let kind = h.kind;
        let outcome = (|| -> Result<()> {
            h.stop()?;
            h.configure(&scaled)?;
            h.start()?;
            postmasters.push(h.postmaster_pid());
            // As at the start of the run: a warm-up (not recorded) and a quiet machine before the first figure.
            scenarios::timed_in_backend(h, "bgw_bench_launch_full_cycle", 5)?;
            scenarios::settle();
            let n = c.launch_to_started as i64;
            let pm = h.postmaster_pid();
            let (none, cpu) =
                scenarios::with_cpu(pm, || scenarios::timed_in_backend(h, "bgw_bench_launch_to_started", n))?;
            run.records.push(Record { scenario: "scale_launch_none_busy".into(), host: kind, round: 0, values: none });
            run.records.push(Record {
                scenario: "scale_cpu_per_launch_none_ns".into(),
                host: kind,
                round: 0,
                values: vec![cpu / n],
            });
            // Started in batches of 1,000 (one call each), so that no single statement runs for minutes.
            let mut left = c.scale_busy;
            let mut took = 0;
            while left > 0 {
                let batch = left.min(1_000);
                took += scenarios::timed_in_backend(h, "bgw_bench_start_idle", batch as i64)?.iter().sum::<i64>();
                left -= batch;
            }
            run.records.push(Record { scenario: "scale_start_busy".into(), host: kind, round: 0, values: vec![took] });
            let (busy, cpu) =
                scenarios::with_cpu(pm, || scenarios::timed_in_backend(h, "bgw_bench_launch_to_started", n))?;
            run.records.push(Record { scenario: "scale_launch_busy".into(), host: kind, round: 0, values: busy });
            run.records.push(Record {
                scenario: "scale_cpu_per_launch_busy_ns".into(),
                host: kind,
                round: 0,
                values: vec![cpu / n],
            });
            let rss = scenarios::rss_kb(pm)?;
            run.records.push(Record {
                scenario: "scale_postmaster_rss_kb".into(),
                host: kind,
                round: 0,
                values: vec![rss],
            });
            h.stop()
        })();
        match (outcome, kind) {
            (Ok(()), _) => {}
            // PostgreSQL's scale figures are for reference only: a failure there is reported, not fatal.
            (Err(e), Kind::Postgres) => {
                let _ = h.stop();
                notes.push(format!("scale on PostgreSQL did not complete: {e:#}"));
            }
            (Err(e), Kind::Bgw) => return Err(e.context("scale on bgw")),
        }
    }
    pg.stop()?;
    bgw.stop()?;

    let mut report = Report::new(run.records, c);
    report.postmasters = postmasters;
    report.notes.extend(notes);
    report.write(&opts.out)?;
    plots::write(&report, &opts.out)?;
    Ok(report)
}
