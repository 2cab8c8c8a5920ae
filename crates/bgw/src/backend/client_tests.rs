//! An end-to-end test with the Rust `postgres` client, which uses the extended query protocol: statements are
//! parsed and described first, parameters bound in text or binary format, and results asked for in binary.

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, NoTls, SimpleQueryMessage};

use super::tests::{TestServer, PORT};

fn connect(server: &TestServer) -> Client {
    let config = format!("host={} port={PORT} user=tester dbname=test application_name=rust", server.dir().display());
    Client::connect(&config, NoTls).expect("connect with the postgres crate")
}

#[test]
fn postgres_crate_over_the_extended_protocol() {
    let server = TestServer::start();
    let mut client = connect(&server);

    // Text parameters, typed results.
    let handle: String = client.query_one("SELECT bgw_register('lib', 'starts')", &[]).unwrap().get(0);
    assert_eq!(handle, "0:1");
    let status: String = client.query_one("SELECT bgw_status($1)", &[&handle]).unwrap().get(0);
    assert_eq!(status, "started");
    let pid: i32 = client.query_one("SELECT bgw_pid($1)", &[&handle]).unwrap().get(0);
    assert_eq!(pid, 20_000);
    let none: Option<i32> = client.query_one("SELECT bgw_pid($1)", &[&None::<&str>]).unwrap().get(0);
    assert_eq!(none, None);
    let own: i32 = client.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_eq!(own, 4242);
    let reloaded: bool = client.query_one("SELECT pg_reload_conf()", &[]).unwrap().get(0);
    assert!(reloaded);
    let running = client.query("SELECT name, pid FROM bgw_workers WHERE state = $1", &[&"running"]).unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(
        (running[0].get::<_, String>(0), running[0].get::<_, Option<i32>>(1)),
        ("starts".to_owned(), Some(20_000))
    );

    // Typed parameters in binary format.
    let add = client.prepare_typed("SELECT CAST($1 AS INTEGER) + 1", &[Type::INT8]).unwrap();
    let sum: i64 = client.query_one(&add, &[&41i64]).unwrap().get(0);
    assert_eq!(sum, 42);
    client.batch_execute("CREATE TABLE t(a INTEGER, b TEXT, c BOOLEAN, d REAL, e BLOB)").unwrap();
    let insert = client
        .prepare_typed(
            "INSERT INTO t VALUES ($1, $2, $3, $4, $5)",
            &[Type::INT8, Type::TEXT, Type::BOOL, Type::FLOAT8, Type::BYTEA],
        )
        .unwrap();
    assert_eq!(client.execute(&insert, &[&7i64, &"seven", &true, &7.5f64, &vec![7u8, 0]]).unwrap(), 1);
    let row = client.query_one("SELECT a, b, c, d, e FROM t", &[]).unwrap();
    assert_eq!(row.get::<_, i64>(0), 7);
    assert_eq!(row.get::<_, String>(1), "seven");
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, f64>(3), 7.5);
    assert_eq!(row.get::<_, Vec<u8>>(4), vec![7u8, 0]);

    // The simple protocol, several statements at once.
    let messages = client.simple_query("SELECT 1; SELECT 'x'").unwrap();
    let rows = messages.iter().filter(|m| matches!(m, SimpleQueryMessage::Row(_))).count();
    assert_eq!(rows, 2);

    // Transactions.
    let mut transaction = client.transaction().unwrap();
    transaction.execute("INSERT INTO t(a) VALUES (8)", &[]).unwrap();
    transaction.rollback().unwrap();
    let count: i64 = client.query_one("SELECT count(*) FROM t", &[]).unwrap().get(0);
    assert_eq!(count, 1);

    // Errors keep their SQLSTATE, and the session goes on.
    let err = client.query("SELECT * FROM nope", &[]).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let err = client.query_one("SELECT bgw_launch('l', 'fails_to_start')", &[]).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE));
    assert_eq!(err.as_db_error().unwrap().message(), "background worker \"fails_to_start\" stopped before it started");
    let err = client.query_one("SELECT bgw_status($1)", &[&"bogus"]).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_TEXT_REPRESENTATION));
    let still: String = client.query_one("SELECT 'still here'", &[]).unwrap().get(0);
    assert_eq!(still, "still here");

    drop(client);
    assert_eq!(server.exit_codes(1), vec![0]);
}
