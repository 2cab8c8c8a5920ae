//! Property tests of the input the backend parses itself: its SQL lexer and statement classifier, statements
//! prepared and run on a session database (with the host's SQL functions answering through the fake host of
//! `tests.rs`), bind parameters as clients send them, and SCRAM messages. A bad input is an ERROR with a SQLSTATE,
//! never a panic and never a FATAL.
//!
//! The case count comes from `PROPTEST_CASES` (default 2000); see `crates/bgw/tests/properties.rs` for the rest
//! of the bad-input properties and the million-case run.

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::database;
use super::host::{Severity, SqlError};
use super::scram::{server_final, server_first, Verifier};
use super::tests::{FakeHost, Shared};
use super::types::{decode_param, Value};
use crate::sql::lexer::is_blank;
use crate::sql::statement::{classify, Kind};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Text that looks like SQL often enough to reach past the first keyword.
fn sql_soup() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "SELECT",
        "select",
        "INSERT",
        "INTO",
        "VALUES",
        "UPDATE",
        "SET",
        "DELETE",
        "FROM",
        "WHERE",
        "WITH",
        "CREATE",
        "TABLE",
        "t",
        "u",
        "(a)",
        "(a, b)",
        "a",
        "b",
        "DROP",
        "ALTER",
        "INDEX",
        "VIEW",
        "TEMP",
        "BEGIN",
        "START",
        "TRANSACTION",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "TO",
        "SAVEPOINT",
        "RELEASE",
        "sp",
        "WORK",
        "DEFERRED",
        "IMMEDIATE",
        "EXCLUSIVE",
        "PRAGMA",
        "ATTACH",
        "DETACH",
        "VACUUM",
        "INTO",
        "'/tmp/x.db'",
        "EXPLAIN",
        "AS",
        "AND",
        "OR",
        "NOT",
        "NULL",
        "*",
        "(",
        ")",
        ",",
        ";",
        ";;",
        ".",
        "=",
        "'",
        "''",
        "'x'",
        "\"",
        "\"q\"",
        "$1",
        "$2",
        "$0",
        "$99999999999999999999",
        "?",
        "?2",
        ":n",
        "@v",
        "--",
        "-- c\n",
        "/*",
        "*/",
        "/* c */",
        "\n",
        "\t",
        " ",
        "0",
        "1",
        "-1",
        "1e309",
        "9223372036854775807",
        "9223372036854775808",
        "1.5",
        "x'00'",
        "X'ff'",
        "bgw_register(",
        "bgw_launch(",
        "bgw_status(",
        "bgw_pid(",
        "bgw_terminate(",
        "bgw_wait_for_startup(",
        "bgw_wait_for_shutdown(",
        "bgw_type_by_pid(",
        "current_setting(",
        "pg_backend_pid()",
        "pg_terminate_backend(",
        "pg_notify(",
        "pg_reload_conf()",
        "'bgw'",
        "'sleeper'",
        "'fails_to_start'",
        "'{}'",
        "'{\"name\":1}'",
        "'1:1'",
        "'-1:1'",
        "'nonsense'",
        "pg_stat_activity",
        "bgw_workers",
        "sqlite_master",
        "é",
        "\u{0}",
        "\u{1F600}",
        "\\",
        "[",
        "]",
        "||",
        "::",
        "%",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(" ")),
        2 => prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat()),
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Real),
        ".{0,20}".prop_map(Value::Text),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(Value::Blob),
    ]
}

fn check_error(e: &SqlError, sql: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.severity, Severity::Error, "{:?} for {:?}", e, sql);
    prop_assert!(e.code.len() == 5 && e.code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()), "{e:?}");
    Ok(())
}

#[test]
fn the_lexer_and_classifier_are_total_and_agree_on_blank_text() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&sql_soup(), |sql| {
            let kind = classify(&sql);
            if is_blank(&sql) {
                prop_assert_eq!(kind, Kind::Other(String::new()));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn statements_prepare_and_run_or_fail_with_an_error() {
    let mut runner = TestRunner::new(config());
    let shared = Arc::new(Mutex::new(Shared::default()));
    let _host = super::context::install(Rc::new(FakeHost::new(shared)));
    runner
        .run(&(sql_soup(), prop::collection::vec(value(), 0..4)), |(sql, params)| {
            let mut engine = database::open(None, "bgw", "bgw").map_err(|e| TestCaseError::fail(e.message))?;
            let mut rest = sql.as_str();
            loop {
                match engine.prepare(rest) {
                    Ok(Some((stmt, tail))) => {
                        prop_assert!(tail.len() < rest.len(), "no progress at {rest:?}");
                        rest = tail;
                        if let Err(e) = crate::sql::execute_collecting(&mut *engine, &stmt, &params) {
                            check_error(&e, &sql)?;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        check_error(&e, &sql)?;
                        break;
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn bind_parameters_decode_or_fail_with_a_data_error() {
    let oids = prop_oneof![
        prop::sample::select(vec![0u32, 16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 705, 1042, 1043, 3802]),
        any::<u32>(),
    ];
    let raw = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        "[-+ 0-9.eEx\\\\a-fnaiNf]{0,12}".prop_map(|s| s.into_bytes()),
    ];
    let mut runner = TestRunner::new(config());
    runner
        .run(&(prop::option::weighted(0.95, raw), oids, any::<bool>(), any::<usize>()), |(raw, oid, binary, n)| {
            match decode_param(raw.as_deref(), oid, binary, n) {
                Ok(v) => {
                    if raw.is_none() {
                        prop_assert_eq!(v, Value::Null);
                    }
                }
                Err(e) => {
                    check_error(&e, "")?;
                    prop_assert!(e.code.starts_with("22") || e.code == "0A000", "{e:?}");
                }
            }
            Ok(())
        })
        .unwrap();
    // What a well-behaved client sends comes back as sent.
    runner
        .run(&any::<i64>(), |i| {
            prop_assert_eq!(decode_param(Some(&i.to_be_bytes()), 20, true, 1).ok(), Some(Value::Integer(i)));
            prop_assert_eq!(decode_param(Some(i.to_string().as_bytes()), 20, false, 1).ok(), Some(Value::Integer(i)));
            Ok(())
        })
        .unwrap();
}

#[test]
fn scram_messages_from_a_client_are_checked_not_trusted() {
    let verifier = Verifier::parse(&crate::catalog::scram::verifier_with_salt("pw", b"0123456789abcdef", 1)).unwrap();
    let first = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        "(n|y|p=x)?,,(n=[a-z]{0,3})?,?(r=[!-~]{0,10})?(,[a-z]=[a-z]*)?".prop_map(String::into_bytes),
    ];
    let last = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..60),
        "(c=biws)?,?(r=[!-~]{0,30})?(,p=[A-Za-z0-9+/=]{0,48})?".prop_map(String::into_bytes),
    ];
    let mut runner = TestRunner::new(config());
    runner
        .run(&(first, last, ".{0,60}"), |(first, last, stored)| {
            let _ = Verifier::parse(&stored);
            if let Ok((exchange, reply)) = server_first(&first, &verifier) {
                prop_assert!(reply.starts_with("r="));
                // A forged final message never passes.
                prop_assert!(server_final(&exchange, &last, &verifier).is_err());
            }
            Ok(())
        })
        .unwrap();
}
