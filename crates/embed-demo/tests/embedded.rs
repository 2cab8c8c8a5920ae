//! The embedding application's own worker runs in the host it embeds, and sees the spec's signal state on entry.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for(log: &std::path::Path, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no {needle:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_embedded_internal_worker_starts_with_signals_blocked() {
    let bin = env!("CARGO_BIN_EXE_embed-demo");
    let dir = tempfile::Builder::new().prefix("bgwe").tempdir_in("/tmp").unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("log");
    let port = (30000 + std::process::id() % 1000).to_string();
    assert!(Command::new(bin).args(["initdb", "-D"]).arg(&data).output().unwrap().status.success());
    std::fs::write(
        data.join("workers.toml"),
        "[[worker]]\nname = \"reporter\"\nfunction = \"signal_report\"\nrestart = \"never\"\n",
    )
    .unwrap();
    let mut pm = Command::new(bin)
        .args(["start", "-c", &format!("port={port}"), "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let text = wait_for(&log, "reporter: blocked after unblocking");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pm.id() as i32, libc::SIGINT) };
    let _ = pm.wait();
    let entry = text.lines().find(|l| l.contains("reporter: blocked on entry:")).unwrap();
    let list = entry.split("entry: [").nth(1).unwrap().trim_end_matches(']');
    let blocked: Vec<i32> = list.split(',').filter_map(|n| n.trim().parse().ok()).collect();
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGUSR1] {
        assert!(blocked.contains(&sig), "{sig} not blocked: {entry}");
    }
    // The postmaster-death signal is never blocked, so no worker can outlive the postmaster.
    assert!(!blocked.contains(&libc::SIGUSR2), "{entry}");
    assert!(text.contains("reporter: blocked after unblocking: []"), "{text}");
}
