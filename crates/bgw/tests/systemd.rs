//! systemd's readiness protocol (issue 17, item 1): the host, started with `NOTIFY_SOCKET` as systemd starts a
//! `Type=notify` service (`contrib/bgw.service`), sends READY=1 once it accepts connections, RELOADING=1 then
//! READY=1 around a reload, and STOPPING=1 when it shuts down, each with a STATUS line. Tested without systemd: the
//! test listens on the datagram socket itself.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The next notification (waiting at most a minute: a bound on a hang, not a timing assertion).
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("no notification from the host within a minute");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_host_tells_systemd_when_it_is_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut h = Host::start(Setup::new(BGW).env("NOTIFY_SOCKET", path.to_str().unwrap()));
    let ready = next(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.contains("STATUS=ready to accept connections"), "{ready}");
    // Ready means ready: a client gets in at once.
    assert_eq!(h.sql("SELECT 1"), "1");

    h.signal(libc::SIGHUP);
    let reloading = next(&socket);
    assert!(reloading.lines().any(|l| l == "RELOADING=1"), "{reloading}");
    assert!(reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")), "{reloading}");
    let again = next(&socket);
    assert!(again.lines().any(|l| l == "READY=1"), "{again}");

    h.signal(libc::SIGINT);
    let stopping = next(&socket);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    assert!(stopping.contains("STATUS=fast shutdown"), "{stopping}");
    assert_eq!(h.wait_exit(), Some(0));
}

#[test]
fn the_unit_file_runs_bgw_as_a_notify_service() {
    let unit = std::fs::read_to_string(repo_root().join("contrib/bgw.service")).unwrap();
    for line in ["Type=notify", "NotifyAccess=main", "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGINT"] {
        assert!(unit.lines().any(|l| l == line), "contrib/bgw.service lacks {line}");
    }
    assert!(unit.lines().any(|l| l.starts_with("ExecStart=") && l.contains("bgw start -D")), "{unit}");
}
