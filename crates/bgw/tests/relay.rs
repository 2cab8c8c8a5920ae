//! Client sessions on a postgresql-engine database (issue 15): a real bgw host whose database `app` lives on a
//! real PostgreSQL 15 server, reached by real clients (psql, the `postgres` crate) through bgw's relay.
//!
//! What is checked: the catalog command and its refusals (a password in the connection string, an unknown
//! engine), the password file (used; refused unless 0600), that the session runs on the server (its SQL, psql's
//! `\d`, COPY, LISTEN/NOTIFY), cancel requests forwarded, pg_terminate_backend of the relaying backend (the
//! server rolls back what it had open), the server down or refusing the login (FATAL, with the reason), and that
//! the password is never written to bgw's log or catalog.
//!
//! Every process is stopped when its test ends, failed or not (the harness's `Host` and `Postgres` kill their
//! process groups on drop).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use bgw_test_support::pg15::{bgw_login, Postgres};
use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The server's role for the relayed database, and its password (only ever in the password file).
const ROLE: &str = "app_owner";
const PASSWORD: &str = "pw-Zq81-never-logged";

/// A bgw host (TCP, with the test login) and a PostgreSQL server with database `app` owned by [`ROLE`]; bgw's
/// database `app` points at it, the password in bgw's password file.
fn setup() -> (Host, Postgres, pg15::Login) {
    let pg = Postgres::start();
    let login = pg.login();
    login.sql("postgres", &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"));
    login.sql("postgres", &format!("CREATE DATABASE app OWNER {ROLE}"));
    let host = Host::start(Setup::new(BGW).tcp());
    let bgw = bgw_login(&host);
    write_passfile(&host, &format!("127.0.0.1:{}:app:{ROLE}:{PASSWORD}\n", pg.port), 0o600);
    bgw.sql(
        "postgres",
        &format!(
            "CREATE DATABASE app WITH ENGINE = postgresql CONNECTION = 'host=127.0.0.1 port={} dbname=app user={ROLE}'",
            pg.port
        ),
    );
    (host, pg, bgw)
}

fn write_passfile(host: &Host, text: &str, mode: u32) {
    let path = host.data().join("pgpass");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn sessions_on_a_postgresql_engine_database_run_on_the_server() {
    let (host, pg, bgw) = setup();
    let direct = pg.login();

    // `\l+` on the host lists the database with its engine and where it lives (never a password).
    let mut list = bgw.command("psql", "postgres");
    list.args(["-X", "-c", "\\l+"]);
    let out = pg15::Login::run(&mut list, Duration::from_secs(60));
    let listed = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    let line = listed.lines().find(|l| l.trim_start().starts_with("app ")).unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains(&format!("engine postgresql: host=127.0.0.1 port={} dbname=app user={ROLE}", pg.port)),
        "{line}"
    );

    // The session is the server's: its version, its role, its catalogs.
    let who =
        bgw.sql("app", "SELECT current_user || ' ' || current_database() || ' ' || split_part(version(), ' ', 2)");
    assert!(who.starts_with(&format!("{ROLE} app 15.")), "{who}");

    // PostgreSQL's SQL, psql's meta-commands and COPY, through the relay; the data is on the server.
    bgw.sql(
        "app",
        "CREATE TABLE jobs (id bigserial PRIMARY KEY, payload jsonb NOT NULL, done boolean DEFAULT false); \
         CREATE INDEX jobs_open ON jobs (id) WHERE NOT done",
    );
    let mut copy = bgw.command("psql", "app");
    copy.args(["-X", "-v", "ON_ERROR_STOP=1", "-c", "\\copy jobs (payload) FROM STDIN"]);
    copy.stdin(std::process::Stdio::piped());
    let mut child = copy.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..100 {
            writeln!(stdin, "{{\"n\": {i}}}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(direct.sql("app", "SELECT count(*), sum((payload->>'n')::int) FROM jobs"), "100|4950");
    let described = |login: &pg15::Login| {
        let mut cmd = login.command("psql", "app");
        cmd.args(["-X", "-c", "\\d jobs"]);
        String::from_utf8(pg15::Login::run(&mut cmd, Duration::from_secs(60)).stdout).unwrap()
    };
    let through_bgw = described(&bgw);
    assert!(through_bgw.contains("jobs_open") && through_bgw.contains("jsonb"), "{through_bgw}");
    assert_eq!(through_bgw, described(&direct));

    // LISTEN through the relay, NOTIFY directly on the server.
    let mut listener = bgw.client("app");
    listener.batch_execute("LISTEN jobs_done").unwrap();
    direct.sql("app", "NOTIFY jobs_done, 'job 7'");
    let mut notifications = listener.notifications();
    let mut waiting = notifications.timeout_iter(Duration::from_secs(30));
    let note = postgres::fallible_iterator::FallibleIterator::next(&mut waiting).unwrap().unwrap();
    assert_eq!((note.channel(), note.payload()), ("jobs_done", "job 7"));
    drop(waiting);
    drop(notifications);

    // A cancel request to bgw reaches the server's backend.
    let mut sleeper = bgw.client("app");
    let token = sleeper.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        token.cancel_query(postgres::NoTls).unwrap();
    });
    let err = sleeper.simple_query("SELECT pg_sleep(60)").unwrap_err();
    canceller.join().unwrap();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");

    // pg_terminate_backend of the relaying backend: the client gets FATAL 57P01, the server rolls back.
    let mut doomed = bgw.client("app");
    doomed.batch_execute("BEGIN; INSERT INTO jobs (payload) VALUES ('{\"n\": -1}')").unwrap();
    let relay_pid: i32 = bgw
        .sql("postgres", "SELECT pid FROM pg_stat_activity WHERE datname = 'app' AND backend_type = 'client backend' ORDER BY backend_start DESC LIMIT 1")
        .parse()
        .unwrap();
    bgw.sql("postgres", &format!("SELECT pg_terminate_backend({relay_pid})"));
    let err = doomed.simple_query("SELECT 1").unwrap_err();
    let code = err.code().map(|c| c.code().to_owned());
    assert!(code.as_deref() == Some("57P01") || err.is_closed(), "{err}");
    wait_until("the server to roll the terminated session back", || {
        direct.sql("app", "SELECT count(*) FROM jobs WHERE (payload->>'n')::int < 0") == "0"
    });
    wait_until("the server's session of the terminated client to end", || {
        direct.sql(
            "app",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}' AND state = 'idle in transaction'"
            ),
        ) == "0"
    });

    // The password is neither in bgw's log nor in its catalog.
    assert!(!host.log().contains(PASSWORD));
    let catalog = std::fs::read(host.data().join("global/catalog.db")).unwrap();
    assert!(!String::from_utf8_lossy(&catalog).contains(PASSWORD));
    drop(listener);
    drop(sleeper);
}

#[test]
fn the_catalog_refuses_what_it_must_not_keep_and_logins_fail_with_the_reason() {
    let (host, pg, bgw) = setup();
    // A password in the connection string is refused (it belongs in the password file).
    let err = bgw
        .psql(
            "postgres",
            "CREATE DATABASE b WITH ENGINE = postgresql CONNECTION = 'host=127.0.0.1 user=x password=hunter2'",
        )
        .unwrap_err();
    assert!(err.contains("must not contain a password") && err.contains("password file"), "{err}");
    let err = bgw.psql("postgres", "CREATE DATABASE b WITH ENGINE = mysql").unwrap_err();
    assert!(err.contains("database engine \"mysql\" does not exist"), "{err}");
    let err = bgw.psql("postgres", "CREATE DATABASE b WITH ENGINE = postgresql").unwrap_err();
    assert!(err.contains("needs a connection string"), "{err}");
    assert!(!host.log().contains("hunter2"));

    // The password file must be private.
    write_passfile(&host, &format!("127.0.0.1:{}:app:{ROLE}:{PASSWORD}\n", pg.port), 0o644);
    let err = bgw.psql("app", "SELECT 1").unwrap_err();
    assert!(err.contains("has group or world access"), "{err}");
    // A wrong password: the server's own refusal, as the server words it.
    write_passfile(&host, &format!("127.0.0.1:{}:app:{ROLE}:wrong\n", pg.port), 0o600);
    let err = bgw.psql("app", "SELECT 1").unwrap_err();
    assert!(err.contains(&format!("password authentication failed for user \"{ROLE}\"")), "{err}");
    // No line for it: bgw says what is missing.
    write_passfile(&host, "", 0o600);
    let err = bgw.psql("app", "SELECT 1").unwrap_err();
    assert!(err.contains("no password for the server of database \"app\""), "{err}");

    // The server moved away (nothing listens there): FATAL with libpq's reason; bgw's own databases go on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    bgw.sql(
        "postgres",
        &format!("ALTER DATABASE app CONNECTION = 'host=127.0.0.1 port={closed} dbname=app user={ROLE}'"),
    );
    let err = bgw.psql("app", "SELECT 1").unwrap_err();
    assert!(
        err.contains("could not connect to the server of database \"app\"") && err.contains("Connection refused"),
        "{err}"
    );
    assert_eq!(bgw.sql("postgres", "SELECT 1"), "1");
    // DROP DATABASE forgets it and never touches the server's data.
    bgw.sql("postgres", "DROP DATABASE app");
    assert_eq!(pg.login().sql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app'"), "1");
    assert!(!host.log().contains(PASSWORD));
}

#[test]
fn a_crash_cycle_closes_every_relayed_session_and_the_server_rolls_back() {
    let (host, pg, bgw) = setup();
    let direct = pg.login();
    direct.sql("app", &format!("CREATE TABLE t (v int); ALTER TABLE t OWNER TO {ROLE}"));
    // Two relayed sessions with open transactions.
    let mut a = bgw.client("app");
    a.batch_execute("BEGIN; INSERT INTO t VALUES (1)").unwrap();
    let mut b = bgw.client("app");
    b.batch_execute("BEGIN; INSERT INTO t VALUES (2)").unwrap();
    let backends = bgw.sql(
        "postgres",
        "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE datname = 'app' AND backend_type = 'client backend'",
    );
    let pids: Vec<i32> = backends.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "{backends}");
    // SIGKILL of one relaying backend: a crash of a process attached to shared memory, so a crash cycle ends
    // every other process too; the server sees both connections close and rolls both transactions back.
    process::signal(pids[0], libc::SIGKILL);
    host.wait_log("all server processes terminated; reinitializing");
    assert!(b.simple_query("SELECT 1").is_err());
    assert!(a.simple_query("SELECT 1").is_err());
    wait_until("the server's sessions to end", || {
        direct.sql("app", &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}'")) == "0"
    });
    assert_eq!(direct.sql("app", "SELECT count(*) FROM t"), "0");
    // After the cycle the relay works again.
    wait_until("the relay after the crash cycle", || bgw.psql("app", "SELECT 1").is_ok_and(|out| out == "1"));
}
