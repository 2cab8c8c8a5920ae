//! Connections and authentication under attack (issue 13, attacks 3, 7 and 9): connections that never
//! authenticate cannot lock anyone out, the last connection slots are the superusers', `authentication_timeout`
//! closes what does not authenticate, a stale lock file does not block a start, and role names cannot be probed.
//! Figures are printed (run with `--nocapture`), never asserted.

use bgw_test_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The server's message of a failed connection.
fn message(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}

/// Attack sockets: every other one sends half a startup packet, the rest nothing at all.
fn slowloris(port: u16, n: usize) -> Vec<TcpStream> {
    let partial = &wire::startup_message(&[("user", "x"), ("database", "postgres")])[..6];
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            if i % 2 == 1 {
                s.write_all(partial).unwrap();
            }
            s
        })
        .collect()
}

/// Waits until the server has closed `s` (end of stream or reset), reading and ignoring what it sends (an
/// ErrorResponse to a refused socket); false if still open at `end`.
fn closed_by(s: &mut TcpStream, end: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Processes in the host's process group (the postmaster and its children).
fn processes(h: &Host) -> usize {
    h.group_pids().len()
}

#[test]
fn a_slowloris_locks_nobody_out_and_is_closed_after_authentication_timeout() {
    const SOCKETS: usize = 500;
    const TRIES: usize = 20;
    let h = Host::start(Setup::new(BGW).tcp().conf("max_connections", "10").conf("authentication_timeout", "5s"));
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    let port = h.port;
    let mut admin = h.client();
    admin.batch_execute("CREATE ROLE bob LOGIN PASSWORD 'pw'; CREATE ROLE boss SUPERUSER LOGIN PASSWORD 'b'").unwrap();
    let mut bob = tcp_client(port, "bob", "pw").unwrap();
    let before = processes(&h);

    let started = Instant::now();
    let mut attack = slowloris(port, SOCKETS);
    // Let the postmaster accept them all (what it cannot accept yet waits in the listen queue, which a login
    // then waits behind, as it would in any server).
    std::thread::sleep(Duration::from_millis(500));
    let during = processes(&h);

    // Logins while the attack runs: the superuser on the Unix socket, the superuser and an ordinary role over TCP.
    let (mut unix_su, mut tcp_su, mut tcp_bob) = (0, 0, 0);
    let mut failures = Vec::new();
    for _ in 0..TRIES {
        match h.connect(&os_user(), "postgres") {
            Ok(mut c) => {
                assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
                unix_su += 1;
            }
            Err(e) => failures.push(format!("unix superuser: {}", message(&e))),
        }
        match tcp_client(port, "boss", "b") {
            Ok(_) => tcp_su += 1,
            Err(e) => failures.push(format!("tcp superuser: {}", message(&e))),
        }
        match tcp_client(port, "bob", "pw") {
            Ok(_) => tcp_bob += 1,
            Err(e) => failures.push(format!("tcp bob: {}", message(&e))),
        }
    }
    let logins_done = started.elapsed();
    // The session that was in keeps working.
    assert_eq!(bob.query_one("SELECT 2", &[]).unwrap().get::<_, i32>(0), 2);
    failures.sort();
    failures.dedup();
    println!(
        "slowloris of {SOCKETS} sockets, max_connections = 10: processes {before} before, {during} during; \
         logins that succeeded during it: Unix-socket superuser {unix_su}/{TRIES}, TCP superuser {tcp_su}/{TRIES}, \
         TCP ordinary role {tcp_bob}/{TRIES} (all done {logins_done:?} after the attack began); failures seen: \
         {failures:?}"
    );
    assert_eq!(unix_su, TRIES, "the superuser on the Unix socket was locked out: {failures:?}\n{}", h.log());
    // Sockets that did not authenticate cost no process beyond the caps (backends waiting for TCP clients to
    // authenticate, evicted ones not exited yet, and dead-end backends, each max(max_connections,
    // MIN_UNAUTHENTICATED)).
    let cap = bgw::postmaster::MIN_UNAUTHENTICATED.max(10);
    assert!(during <= before + 3 * cap + 2, "{during} processes during the attack ({before} before)");

    // Every attack socket is closed by the server: the ones beyond the cap at once, the others once
    // authentication_timeout (5 s) has passed.
    let end = Instant::now() + Duration::from_secs(30);
    let closed = attack.iter_mut().map(|s| closed_by(s, end)).filter(|&c| c).count();
    let took = started.elapsed();
    println!("attack sockets closed by the server: {closed}/{SOCKETS}, the last {took:?} after the attack began");
    assert_eq!(closed, SOCKETS);
    // Afterwards everyone gets in, and the postmaster lives.
    wait_until("the attack's backends to exit", || processes(&h) <= before);
    assert!(tcp_client(port, "bob", "pw").is_ok());
    assert!(alive(h.pid()));
    println!("figure: {} acknowledged commits checked", ledger.check());
}

#[test]
fn the_last_slots_are_reserved_for_superusers() {
    let h = Host::start(Setup::new(BGW).tcp().conf("max_connections", "4").conf("superuser_reserved_connections", "2"));
    let port = h.port;
    let mut admin = h.client();
    admin.batch_execute("CREATE ROLE bob LOGIN PASSWORD 'pw'").unwrap();
    // admin holds one slot: bob gets the one other unreserved slot, not a third.
    let _bob = tcp_client(port, "bob", "pw").unwrap();
    let e = tcp_client(port, "bob", "pw").err().expect("bob got a reserved slot");
    assert_eq!(e.code(), Some(&postgres::error::SqlState::TOO_MANY_CONNECTIONS), "{e}");
    assert_eq!(message(&e), "remaining connection slots are reserved for non-replication superuser connections");
    assert_eq!(e.as_db_error().unwrap().severity(), "FATAL");
    // The superuser gets the reserved ones, and then nobody gets in.
    let _su1 = h.connect(&os_user(), "postgres").unwrap();
    let _su2 = h.connect(&os_user(), "postgres").unwrap();
    let e = h.connect(&os_user(), "postgres").err().expect("a fifth session with max_connections = 4");
    assert_eq!(e.code(), Some(&postgres::error::SqlState::TOO_MANY_CONNECTIONS), "{e}");
    assert_eq!(message(&e), "sorry, too many clients already");
    // Refused logins took no slot: with bob and the superusers gone, bob gets in again.
    drop((_bob, _su1, _su2));
    wait_until("bob's slot to be free", || tcp_client(port, "bob", "pw").is_ok());
}

#[test]
fn reserved_connections_must_be_fewer_than_max_connections() {
    let h = Host::init(&Setup::new(BGW).conf("max_connections", "3"));
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("superuser_reserved_connections (3) must be less than max_connections (3)"), "{err}");
}

/// The state letter of `pid` in /proc (`Z`: a zombie), if it exists.
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// `bgw status` on `h`'s data directory: (exit code, output).
fn status(h: &Host) -> (Option<i32>, String) {
    let out = h.bgw(&["status"]);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// Starts the postmaster again over a lock file left behind, and checks it serves (the `n`th start).
fn start_again(h: &mut Host, n: usize) {
    h.launch_postmaster(&[]);
    h.wait_log_count("database system is ready to accept", n);
    h.wait_sql("SELECT 1", |o| o == "1");
    let (code, out) = status(h);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("server is running (PID: {})", h.pid())), "{out}");
}

/// Rewrites the pid (first line) of `h`'s lock file, keeping everything else, the recorded start time included.
fn name_in_lock_file(h: &Host, pid: i32) {
    let path = h.data().join("postmaster.pid");
    let text = std::fs::read_to_string(&path).unwrap();
    let rest = text.split_once('\n').unwrap().1;
    std::fs::write(&path, format!("{pid}\n{rest}")).unwrap();
}

#[test]
fn a_stale_lock_file_naming_a_zombie_an_unrelated_process_or_a_dead_pid_does_not_block_a_start() {
    let mut h = Host::start(Setup::new(BGW));
    let recorded = std::fs::read_to_string(h.data().join("postmaster.pid")).unwrap();
    assert_eq!(recorded.lines().count(), 9, "PostgreSQL's eight lines and the start time: {recorded}");

    // The postmaster killed and not reaped (as under an init that does not reap): a zombie holds its pid.
    let zombie = h.child.take().unwrap();
    let zombie_pid = zombie.id() as i32;
    signal(zombie_pid, libc::SIGKILL);
    wait_until("the killed postmaster to be a zombie", || proc_state(zombie_pid) == Some('Z'));
    let (code, out) = status(&h);
    assert_eq!((code, out.trim()), (Some(3), "bgw: no server running"), "zombie");
    start_again(&mut h, 2);
    assert_eq!(proc_state(zombie_pid), Some('Z'), "the zombie is still there");
    drop(zombie);

    // A zombie that is not the postmaster's: a child of this test that exited and is not reaped.
    h.stop(libc::SIGKILL);
    let mut other_zombie = Command::new("true").spawn().unwrap();
    let other_pid = other_zombie.id() as i32;
    wait_until("the child to be a zombie", || proc_state(other_pid) == Some('Z'));
    name_in_lock_file(&h, other_pid);
    let (code, out) = status(&h);
    assert_eq!((code, out.trim()), (Some(3), "bgw: no server running"), "another zombie");
    start_again(&mut h, 3);
    other_zombie.wait().unwrap();

    // A live unrelated process that has the pid now (the test's own `sleep`): its start time differs.
    h.stop(libc::SIGKILL);
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    name_in_lock_file(&h, sleeper.id() as i32);
    let (code, out) = status(&h);
    assert_eq!((code, out.trim()), (Some(3), "bgw: no server running"), "a live unrelated process");
    let stop = h.bgw(&["stop"]);
    assert!(!stop.status.success());
    assert!(String::from_utf8_lossy(&stop.stderr).contains("no server running"), "{stop:?}");
    start_again(&mut h, 4);
    assert!(sleeper.try_wait().unwrap().is_none(), "the unrelated process was left alone");
    let _ = sleeper.kill();
    let _ = sleeper.wait();

    // A dead pid.
    h.stop(libc::SIGKILL);
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id() as i32;
    gone.wait().unwrap();
    name_in_lock_file(&h, gone_pid);
    let (code, out) = status(&h);
    assert_eq!((code, out.trim()), (Some(3), "bgw: no server running"), "a dead pid");
    start_again(&mut h, 5);
}

/// Starts a SCRAM exchange for `user` over TCP by hand and returns what the server's first message shows: the
/// salt and the iteration count (an unknown role must look like a known one here).
fn scram_salt(port: u16, user: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&wire::startup_message(&[("user", user), ("database", "postgres")])).unwrap();
    let (tag, body) = wire::read_message(&mut s).expect("AuthenticationSASL");
    assert_eq!((tag, &body[..4]), (b'R', &10u32.to_be_bytes()[..]), "{user}: {}", String::from_utf8_lossy(&body));
    let first = b"n,,n=,r=rOprNGfwEbeRWgbNEkqO";
    let mut initial = b"SCRAM-SHA-256\0".to_vec();
    initial.extend_from_slice(&(first.len() as i32).to_be_bytes());
    initial.extend_from_slice(first);
    s.write_all(&wire::message(b'p', &initial)).unwrap();
    let (tag, body) = wire::read_message(&mut s).expect("AuthenticationSASLContinue");
    assert_eq!((tag, &body[..4]), (b'R', &11u32.to_be_bytes()[..]), "{user}");
    let text = String::from_utf8(body[4..].to_vec()).unwrap();
    let field = |k: &str| text.split(',').find_map(|f| f.strip_prefix(k)).unwrap().to_string();
    (field("s="), field("i="))
}

#[test]
fn role_names_cannot_be_probed_through_the_scram_salt() {
    let mut h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'pw'");
    h.sql("CREATE ROLE nopw LOGIN");
    let secret = h.data().join("global/mock_auth_nonce");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    let known = scram_salt(port, "bob");
    let ghost = scram_salt(port, "ghost");
    let nopw = scram_salt(port, "nopw");
    // The same name, the same salt, for known and unknown roles alike.
    assert_eq!(scram_salt(port, "bob"), known);
    assert_eq!(scram_salt(port, "ghost"), ghost);
    assert_eq!(scram_salt(port, "nopw"), nopw);
    // Different names, different salts; the same shape (16 bytes of salt, 4096 iterations) for all.
    assert_ne!(ghost.0, scram_salt(port, "ghost2").0);
    assert_ne!(ghost.0, nopw.0);
    for (salt, iterations) in [&known, &ghost, &nopw] {
        assert_eq!((salt.len(), iterations.as_str()), (24, "4096"), "{salt}");
    }
    println!("SCRAM salts: bob (known) {known:?}, ghost (unknown) {ghost:?}, nopw (no password) {nopw:?}");
    // The salt of an unknown role survives a restart (the secret is kept in the data directory).
    h.stop(libc::SIGINT);
    h.launch_postmaster(&[]);
    h.wait_log_count("database system is ready to accept", 2);
    assert_eq!(scram_salt(port, "ghost"), ghost);
}

#[test]
fn failed_password_logins_are_logged_as_postgres_logs_them() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'pw'");
    h.sql("CREATE ROLE nopw LOGIN");
    for user in ["bob", "ghost", "nopw"] {
        let e = tcp_client(port, user, "wrong").err().unwrap();
        assert_eq!(e.code(), Some(&postgres::error::SqlState::INVALID_PASSWORD), "{e}");
        assert_eq!(message(&e), format!("password authentication failed for user \"{user}\""));
        // The client is not told why.
        assert_eq!(e.as_db_error().unwrap().detail(), None);
    }
    let log = h.wait_log("FATAL:  password authentication failed for user \"nopw\"");
    assert!(log.contains("FATAL:  password authentication failed for user \"bob\""), "{log}");
    assert!(log.contains("FATAL:  password authentication failed for user \"ghost\""), "{log}");
    h.wait_log("DETAIL:  Role \"ghost\" does not exist.");
    h.wait_log("DETAIL:  User \"nopw\" has no password assigned.");
}

/// The ParameterStatus messages a Unix-socket login as the OS user (the bootstrap superuser) receives.
fn parameter_status_at_login(h: &Host) -> Vec<(String, String)> {
    let path = h.data().join(format!(".s.PGSQL.{}", h.port));
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(&wire::startup_message(&[("user", &os_user()), ("database", "postgres")])).unwrap();
    let mut out = Vec::new();
    while let Some((tag, body)) = wire::read_message(&mut s) {
        match tag {
            b'S' => {
                let mut parts = body.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).to_string());
                out.push((parts.next().unwrap(), parts.next().unwrap()));
            }
            b'Z' | b'E' => break,
            _ => {}
        }
    }
    out
}

#[test]
fn is_superuser_is_reported_truthfully_and_a_role_may_change_its_own_password() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    let status = parameter_status_at_login(&h);
    assert!(status.contains(&("is_superuser".into(), "on".into())), "{status:?}");
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'pw'; CREATE ROLE carol LOGIN PASSWORD 'pw'");
    assert_eq!(h.sql("SELECT current_setting('is_superuser')"), "on");
    let mut bob = tcp_client(port, "bob", "pw").unwrap();
    let setting: String = bob.query_one("SELECT current_setting('is_superuser')", &[]).unwrap().get(0);
    assert_eq!(setting, "off");

    // Its own password, by CURRENT_USER or by name: allowed.
    bob.batch_execute("ALTER ROLE CURRENT_USER PASSWORD 'new'").unwrap();
    assert!(tcp_client(port, "bob", "pw").is_err());
    assert!(tcp_client(port, "bob", "new").is_ok());
    bob.batch_execute("ALTER USER bob WITH PASSWORD 'newer'").unwrap();
    assert!(tcp_client(port, "bob", "newer").is_ok());
    // Anything else: PostgreSQL's refusals.
    let refused = |c: &mut postgres::Client, sql: &str| {
        let e = c.batch_execute(sql).expect_err(sql);
        let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
        (db.code().code().to_string(), db.message().to_string())
    };
    let su_only = "must be superuser to alter superuser roles or change superuser attribute";
    for (sql, message) in [
        ("ALTER ROLE carol PASSWORD 'x'", "permission denied"),
        ("ALTER ROLE bob NOLOGIN", "permission denied"),
        ("ALTER ROLE CURRENT_USER WITH LOGIN PASSWORD 'x'", "permission denied"),
        ("ALTER ROLE bob SUPERUSER", su_only),
        (&format!("ALTER ROLE \"{}\" PASSWORD 'x'", os_user()), su_only),
    ] {
        assert_eq!(refused(&mut bob, sql), ("42501".to_string(), message.to_string()), "{sql}");
    }
    assert!(tcp_client(port, "carol", "pw").is_ok());
    assert!(tcp_client(port, "bob", "newer").is_ok());
}

#[test]
fn a_client_stalling_in_the_password_exchange_is_closed_after_authentication_timeout() {
    let h = Host::start(Setup::new(BGW).tcp().conf("authentication_timeout", "1s"));
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'pw'");
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.write_all(&wire::startup_message(&[("user", "bob"), ("database", "postgres")])).unwrap();
    let (tag, _) = wire::read_message(&mut s).expect("AuthenticationSASL");
    assert_eq!(tag, b'R');
    let began = Instant::now();
    assert!(closed_by(&mut s, Instant::now() + Duration::from_secs(20)), "still open");
    println!("a stalled SCRAM exchange was closed {:?} after it began (authentication_timeout = 1s)", began.elapsed());
    h.wait_log("FATAL:  canceling authentication due to timeout");
}
