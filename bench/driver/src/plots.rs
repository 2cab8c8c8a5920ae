//! Pictures of a run, drawn from the same samples as the table: the latency distributions of both hosts (one
//! panel per timed scenario, each host's samples as a cumulative distribution on a logarithmic time axis) and the
//! burst timelines (for the largest burst, how many workers had begun their main function over time, one line per
//! repetition and host). Written as SVG beside `results.txt`.

use crate::hosts::Kind;
use crate::report::Report;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

const PG_COLOR: RGBColor = RGBColor(0x33, 0x67, 0x91);
const BGW_COLOR: RGBColor = RGBColor(0xd9, 0x5f, 0x02);

fn color(h: Kind) -> RGBColor {
    match h {
        Kind::Postgres => PG_COLOR,
        Kind::Bgw => BGW_COLOR,
    }
}

fn name(h: Kind) -> &'static str {
    match h {
        Kind::Postgres => "PostgreSQL 15",
        Kind::Bgw => "bgw",
    }
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// The scenarios whose distributions are drawn, with their titles.
pub const LATENCIES: &[(&str, &str)] = &[
    ("launch_to_started", "launch -> started"),
    ("launch_full_cycle", "launch -> started -> exited"),
    ("terminate_latency", "terminate -> stopped"),
    ("terminate_to_worker_wake", "terminate call -> worker's SIGTERM handler"),
];

/// `latency.svg`: a 2 x 2 grid of cumulative distributions, microseconds on a log axis.
pub fn latency(report: &Report, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((2, 2));
    for (panel, (scenario, title)) in panels.iter().zip(LATENCIES) {
        let series: Vec<(Kind, Vec<f64>)> = [Kind::Postgres, Kind::Bgw]
            .into_iter()
            .map(|h| (h, report.samples(scenario, h).iter().map(|&ns| ns as f64 / 1000.0).collect::<Vec<_>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        let lo = series.iter().flat_map(|(_, v)| v.first()).cloned().fold(f64::INFINITY, f64::min).max(1.0);
        let hi = series.iter().flat_map(|(_, v)| v.last()).cloned().fold(0.0, f64::max).max(lo * 2.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(*title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d((lo * 0.9..hi * 1.1).log_scale(), 0.0..1.0)
            .map_err(err)?;
        chart.configure_mesh().x_desc("microseconds (log scale)").y_desc("fraction of samples").draw().map_err(err)?;
        for (h, v) in &series {
            let n = v.len() as f64;
            let points = v.iter().enumerate().map(|(i, &x)| (x, (i + 1) as f64 / n));
            let c = color(*h);
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} (median {:.0} us)", name(*h), v[v.len() / 2]))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Draws both pictures of `report` into `out` (`latency.svg`, and `burst.svg` for the largest burst).
pub fn write(report: &Report, out: &Path) -> Result<()> {
    latency(report, &out.join("latency.svg"))?;
    if let Some(&k) = report.bursts.iter().max() {
        burst(report, &format!("burst_{k}"), k, &out.join("burst.svg"))?;
    }
    Ok(())
}

/// `burst.svg`: for burst `scenario` (values: start, terminate, then when each worker began, ns from the first
/// registration; -1 unknown), workers begun over time, one line per repetition of each host.
pub fn burst(report: &Report, scenario: &str, k: usize, path: &Path) -> Result<()> {
    let runs: Vec<(Kind, Vec<f64>)> = report
        .records
        .iter()
        .filter(|r| r.scenario == scenario && r.values.len() > 2)
        .map(|r| {
            let mut began: Vec<f64> = r.values[2..].iter().filter(|&&v| v >= 0).map(|&v| v as f64 / 1e6).collect();
            began.sort_by(f64::total_cmp);
            (r.host, began)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if runs.is_empty() {
        return Ok(());
    }
    let hi = runs.iter().flat_map(|(_, v)| v.last()).cloned().fold(0.0, f64::max) * 1.05;
    let root = SVGBackend::new(path, (1100, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("burst of {k}: workers whose main function had begun"), ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..hi.max(0.001), 0.0..k as f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("milliseconds since the first registration").y_desc("workers").draw().map_err(err)?;
    for h in [Kind::Postgres, Kind::Bgw] {
        let c = color(h);
        let mut first = true;
        for (_, began) in runs.iter().filter(|(rh, _)| *rh == h) {
            let points = began.iter().enumerate().map(|(i, &t)| (t, (i + 1) as f64));
            let drawn = chart.draw_series(LineSeries::new(points, c.stroke_width(1))).map_err(err)?;
            if first {
                drawn
                    .label(name(h))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
