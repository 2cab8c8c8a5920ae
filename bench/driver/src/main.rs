//! `bgw-bench`: the command-line edge of the benchmark driver (see the library's docs; `bench/run` calls this).

use anyhow::Result;
use bgw_bench::{Counts, Options};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Background-worker scenarios on PostgreSQL 15 and on bgw, side by side")]
struct Cli {
    /// The repository root.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where samples.csv and results.txt go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// The bgw executable.
    #[arg(long, default_value = "target/release/bgw")]
    bgw_bin: PathBuf,
    /// PostgreSQL's programs (initdb, postgres).
    #[arg(long, default_value = "/usr/lib/postgresql/15/bin")]
    pg_bindir: PathBuf,
    /// pg_config of the PostgreSQL development files (PGXS).
    #[arg(long, default_value = "pg_config")]
    pg_config: PathBuf,
    /// Tiny counts (seconds, not minutes): proves the harness, measures nothing.
    #[arg(long)]
    smoke: bool,
    /// Skip the scale scenario on PostgreSQL (the default of a full run; a smoke run measures both).
    #[arg(long)]
    no_pg_scale: bool,
    /// Also run the scale scenario on PostgreSQL (for reference: at 50,000 slots and 25,000 workers it takes
    /// PostgreSQL tens of minutes).
    #[arg(long, conflicts_with = "no_pg_scale")]
    pg_scale: bool,
    /// Keep the throwaway data directories.
    #[arg(long)]
    keep: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut counts = if cli.smoke { Counts::smoke() } else { Counts::full() };
    if cli.no_pg_scale {
        counts.scale_on_postgres = false;
    }
    if cli.pg_scale {
        counts.scale_on_postgres = true;
    }
    let opts = Options {
        repo: cli.repo,
        out: cli.out.clone(),
        bgw_bin: cli.bgw_bin,
        pg_bindir: cli.pg_bindir,
        pg_config: cli.pg_config,
        counts,
        keep: cli.keep,
        verbose: true,
    };
    let report = bgw_bench::run(&opts)?;
    print!("{}", report.table());
    println!("raw samples: {}", cli.out.join("samples.csv").display());
    Ok(())
}
