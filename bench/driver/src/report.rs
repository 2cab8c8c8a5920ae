//! The raw samples and the table made from them.
//!
//! Every figure in the table is computed from the samples written beside it (`samples.csv`: scenario, host,
//! round, index, nanoseconds or the unit the scenario's name says), so a reader can recompute any figure.

use crate::hosts::Kind;
use crate::Counts;
use anyhow::{anyhow, Result};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Record {
    pub scenario: String,
    pub host: Kind,
    pub round: usize,
    pub values: Vec<i64>,
}

pub fn parse_samples(text: &str) -> Result<Vec<i64>> {
    text.split_whitespace().map(|s| s.parse::<i64>().map_err(|e| anyhow!("sample {s:?}: {e}"))).collect()
}

/// The value at quantile `q` (0..=1) of sorted `v`, nearest-rank.
pub fn quantile(sorted: &[i64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub pg: Option<f64>,
    pub bgw: Option<f64>,
    /// Target on bgw / PostgreSQL (or on the bgw figure itself), in words.
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        match (self.pg, self.bgw) {
            (Some(p), Some(b)) if p > 0.0 => Some(b / p),
            _ => None,
        }
    }
}

pub struct Report {
    pub records: Vec<Record>,
    /// Every postmaster the run started (each led its own process group).
    pub postmasters: Vec<i32>,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// The burst sizes run.
    pub bursts: Vec<usize>,
}

impl Report {
    pub fn samples(&self, scenario: &str, host: Kind) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .records
            .iter()
            .filter(|r| r.scenario == scenario && r.host == host)
            .flat_map(|r| r.values.iter().copied())
            .collect();
        v.sort_unstable();
        v
    }

    /// Column `index` of a scenario whose every record holds several figures (bursts: start, terminate).
    fn column(&self, scenario: &str, host: Kind, index: usize) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .records
            .iter()
            .filter(|r| r.scenario == scenario && r.host == host)
            .filter_map(|r| r.values.get(index).copied())
            .collect();
        v.sort_unstable();
        v
    }

    /// bgw / PostgreSQL of a burst's start time, per repetition (the i-th of each host's, in run order).
    pub fn burst_round_ratios(&self, scenario: &str) -> Vec<f64> {
        let of = |h: Kind| -> Vec<i64> {
            self.records
                .iter()
                .filter(|r| r.scenario == scenario && r.host == h)
                .filter_map(|r| r.values.first().copied())
                .collect()
        };
        of(Kind::Postgres)
            .iter()
            .zip(of(Kind::Bgw))
            .filter(|(&p, _)| p > 0)
            .map(|(&p, b)| b as f64 / p as f64)
            .collect()
    }

    fn stat(&self, scenario: &str, host: Kind, q: f64, scale: f64) -> Option<f64> {
        let v = self.samples(scenario, host);
        (!v.is_empty()).then(|| quantile(&v, q) / scale)
    }

    pub fn new(records: Vec<Record>, counts: &Counts) -> Report {
        let mut r = Report {
            records,
            postmasters: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            bursts: counts.bursts.clone(),
        };
        let us = 1_000.0;
        let ms = 1_000_000.0;
        let le = |x: f64| format!("<= {x}");
        let push = |rows: &mut Vec<Row>, name: String, unit, pg, bgw, target: String, met: Option<bool>| {
            rows.push(Row { name, unit, pg, bgw, target, met })
        };
        let mut rows = Vec::new();
        let ratio_met = |pg: Option<f64>, bgw: Option<f64>, limit: f64| match (pg, bgw) {
            (Some(p), Some(b)) if p > 0.0 => Some(b / p <= limit),
            _ => None,
        };

        // Targets of the median ratio (issue 18), by scenario.
        for (scenario, limit) in [
            ("launch_to_started", 0.15),
            ("launch_full_cycle", 0.12),
            ("terminate_latency", 0.25),
            ("terminate_to_worker_wake", 0.5),
        ] {
            for (q, qn) in [(0.5, "median"), (0.99, "p99")] {
                let pg = r.stat(scenario, Kind::Postgres, q, us);
                let bgw = r.stat(scenario, Kind::Bgw, q, us);
                let (target, met) =
                    if q == 0.5 { (le(limit), ratio_met(pg, bgw, limit)) } else { (String::new(), None) };
                push(&mut rows, format!("{scenario} {qn}"), "us", pg, bgw, target, met);
            }
        }
        // bgw with worker_spare_processes = 0 (every worker forked at launch, as PostgreSQL does), against the same
        // PostgreSQL figures; and the default (one spare) measured alternately with it in the same minutes, which
        // must never be slower.
        for (scenario, limit) in [
            ("launch_to_started", Some(0.25)),
            ("launch_full_cycle", None),
            ("terminate_latency", None),
            ("terminate_to_worker_wake", None),
        ] {
            let pg = r.stat(scenario, Kind::Postgres, 0.5, us);
            let none = r.stat(&format!("{scenario}_no_spares"), Kind::Bgw, 0.5, us);
            let (target, met) = match limit {
                Some(l) => (le(l), ratio_met(pg, none, l)),
                None => (String::new(), None),
            };
            push(&mut rows, format!("{scenario} median, bgw without spares"), "us", pg, none, target, met);
            let with = r.stat(&format!("{scenario}_spares_ab"), Kind::Bgw, 0.5, us);
            push(
                &mut rows,
                format!("{scenario}: default / without spares"),
                "x",
                None,
                match (with, none) {
                    (Some(w), Some(n)) if n > 0.0 => Some(w / n),
                    _ => None,
                },
                "bgw <= 1".into(),
                match (with, none) {
                    (Some(w), Some(n)) => Some(w <= n),
                    _ => None,
                },
            );
        }
        for &k in &counts.bursts {
            let scenario = format!("burst_{k}");
            let start = |h| {
                let v = r.column(&scenario, h, 0);
                (!v.is_empty()).then(|| quantile(&v, 0.5) / ms)
            };
            let term = |h| {
                let v = r.column(&scenario, h, 1);
                (!v.is_empty()).then(|| quantile(&v, 0.5) / ms)
            };
            let (pg_s, bgw_s) = (start(Kind::Postgres), start(Kind::Bgw));
            let big = k == *counts.bursts.iter().max().unwrap_or(&k);
            let (t, m) = if big { (le(0.125), ratio_met(pg_s, bgw_s, 0.125)) } else { (String::new(), None) };
            push(&mut rows, format!("burst_start K={k} (all started)"), "ms", pg_s, bgw_s, t, m);
            let rate = |s: Option<f64>| s.map(|ms_| k as f64 / (ms_ / 1000.0));
            push(
                &mut rows,
                format!("burst_start K={k} rate"),
                "workers/s",
                rate(pg_s),
                rate(bgw_s),
                String::new(),
                None,
            );
            let (pg_t, bgw_t) = (term(Kind::Postgres), term(Kind::Bgw));
            let (t, m) = if big { (le(0.1), ratio_met(pg_t, bgw_t, 0.1)) } else { (String::new(), None) };
            push(&mut rows, format!("burst_terminate K={k} (all stopped)"), "ms", pg_t, bgw_t, t, m);
            // Every repetition's ratio (PostgreSQL's and bgw's repetitions alternate; paired by their number).
            let rounds = r.burst_round_ratios(&scenario);
            if !rounds.is_empty() {
                let worst = rounds.iter().copied().fold(f64::NAN, f64::max);
                let list: Vec<String> = rounds.iter().map(|x| format!("{:.3} ({:.1} x)", x, 1.0 / x)).collect();
                if big {
                    r.notes.push(format!(
                        "burst_start K={k} per repetition (bgw / PostgreSQL): {}; every repetition at least 6 x: {}",
                        list.join(", "),
                        if worst <= 1.0 / 6.0 { "yes" } else { "NO" }
                    ));
                } else {
                    r.notes.push(format!("burst_start K={k} per repetition (bgw / PostgreSQL): {}", list.join(", ")));
                }
            }
        }
        {
            let pg = r.stat("crash_restart", Kind::Postgres, 0.5, ms);
            let bgw = r.stat("crash_restart", Kind::Bgw, 0.5, ms);
            push(&mut rows, "crash_restart median".into(), "ms", pg, bgw, le(0.1), ratio_met(pg, bgw, 0.1));
            let pg = r.stat("crash_restart", Kind::Postgres, 1.0, ms);
            let bgw = r.stat("crash_restart", Kind::Bgw, 1.0, ms);
            push(&mut rows, "crash_restart max".into(), "ms", pg, bgw, String::new(), None);
        }
        {
            let one = |s: &str, h| r.samples(s, h).first().map(|&v| v as f64);
            let (pg, bgw) = (one("idle_postmaster_wakeups", Kind::Postgres), one("idle_postmaster_wakeups", Kind::Bgw));
            let name = format!("idle postmaster wake-ups in {} s", counts.idle_secs);
            push(&mut rows, name, "count", pg, bgw, "0".into(), bgw.map(|b| b == 0.0));
            let (pg, bgw) = (one("idle_postmaster_rss_kb", Kind::Postgres), one("idle_postmaster_rss_kb", Kind::Bgw));
            let (pg, bgw) = (pg.map(|v| v / 1024.0), bgw.map(|v| v / 1024.0));
            push(&mut rows, "idle postmaster RSS".into(), "MB", pg, bgw, "< 10 MB".into(), bgw.map(|b| b < 10.0));
            let (pg, bgw) = (one("idle_worker_pss_kb", Kind::Postgres), one("idle_worker_pss_kb", Kind::Bgw));
            let (pg, bgw) = (pg.map(|v| v / 1024.0), bgw.map(|v| v / 1024.0));
            push(&mut rows, "idle worker Pss".into(), "MB", pg, bgw, le(0.2), ratio_met(pg, bgw, 0.2));
        }
        {
            let busy = counts.scale_busy;
            let none_b = r.stat("scale_launch_none_busy", Kind::Bgw, 0.5, us);
            let busy_b = r.stat("scale_launch_busy", Kind::Bgw, 0.5, us);
            let none_p = r.stat("scale_launch_none_busy", Kind::Postgres, 0.5, us);
            let busy_p = r.stat("scale_launch_busy", Kind::Postgres, 0.5, us);
            let name =
                format!("scale: launch_to_started median, {} slots, none busy", counts.scale_max_worker_processes);
            push(&mut rows, name, "us", none_p, none_b, String::new(), None);
            push(
                &mut rows,
                format!("scale: launch_to_started median, {busy} busy"),
                "us",
                busy_p,
                busy_b,
                String::new(),
                None,
            );
            let growth = |n: Option<f64>, b: Option<f64>| match (n, b) {
                (Some(n), Some(b)) if n > 0.0 => Some(b / n),
                _ => None,
            };
            let (gp, gb) = (growth(none_p, busy_p), growth(none_b, busy_b));
            push(
                &mut rows,
                "scale: busy / none (each host's own)".into(),
                "x",
                gp,
                gb,
                "bgw <= 1.5".into(),
                gb.map(|g| g <= 1.5),
            );
            let one = |s: &str, h| r.samples(s, h).first().map(|&v| v as f64);
            for (scenario, name) in
                [("scale_cpu_per_launch_none_ns", "none busy"), ("scale_cpu_per_launch_busy_ns", "busy")]
            {
                let (p, b) = (one(scenario, Kind::Postgres), one(scenario, Kind::Bgw));
                let (p, b) = (p.map(|v| v / us), b.map(|v| v / us));
                push(&mut rows, format!("scale: postmaster CPU per launch, {name}"), "us", p, b, String::new(), None);
            }
            let (p, b) = (one("scale_postmaster_rss_kb", Kind::Postgres), one("scale_postmaster_rss_kb", Kind::Bgw));
            let (p, b) = (p.map(|v| v / 1024.0), b.map(|v| v / 1024.0));
            push(&mut rows, format!("scale: postmaster RSS, {busy} busy"), "MB", p, b, String::new(), None);
            let start_p = r.stat("scale_start_busy", Kind::Postgres, 0.5, ms);
            let start_b = r.stat("scale_start_busy", Kind::Bgw, 0.5, ms);
            push(
                &mut rows,
                format!("scale: start {busy} workers one by one"),
                "ms",
                start_p,
                start_b,
                String::new(),
                None,
            );
        }
        r.rows = rows;

        let floor = r.samples("fork_floor", Kind::Bgw);
        if !floor.is_empty() {
            let f50 = quantile(&floor, 0.5) / us;
            let f99 = quantile(&floor, 0.99) / us;
            let l50 = r.stat("launch_to_started", Kind::Bgw, 0.5, us);
            let within = l50.map(|l| l / f50);
            r.notes.push(format!(
                "fork floor (fork -> child runs -> exit -> reaped, bare C): median {f50:.1} us, p99 {f99:.1} us; \
                 bgw launch_to_started median / floor = {} (target <= 1.5)",
                within.map(|w| format!("{w:.2}")).unwrap_or_else(|| "-".into())
            ));
        }
        r
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<52} {:>9} {:>14} {:>14} {:>8}  {:<12} met",
            "figure", "unit", "PostgreSQL 15", "bgw", "ratio", "target"
        );
        let f = |v: Option<f64>| v.map(|x| if x.abs() >= 100.0 { format!("{x:.0}") } else { format!("{x:.2}") });
        for row in &self.rows {
            let _ = writeln!(
                s,
                "{:<52} {:>9} {:>14} {:>14} {:>8}  {:<12} {}",
                row.name,
                row.unit,
                f(row.pg).unwrap_or_else(|| "-".into()),
                f(row.bgw).unwrap_or_else(|| "-".into()),
                row.ratio().map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into()),
                row.target,
                match row.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                }
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "{n}");
        }
        s
    }

    pub fn write(&self, out: &Path) -> Result<()> {
        let mut csv = String::from("scenario,host,round,index,value\n");
        for r in &self.records {
            for (i, v) in r.values.iter().enumerate() {
                let _ = writeln!(csv, "{},{},{},{},{}", r.scenario, r.host.label(), r.round, i, v);
            }
        }
        std::fs::write(out.join("samples.csv"), csv)?;
        std::fs::write(out.join("results.txt"), self.table())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn samples_parse_or_fail() {
        assert_eq!(parse_samples("1 22 333\n").unwrap(), vec![1, 22, 333]);
        assert!(parse_samples("1 x").is_err());
    }
}
