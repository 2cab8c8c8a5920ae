//! COPY at the front door (issue 14, item 6): `COPY ... FROM STDIN` from psql scripts in text and CSV, psql's
//! `\copy` round trip through files, `COPY (query) TO STDOUT`, a bad row (22P04 with its line) leaving the table
//! as it was, server-side files refused (42501), CopyFail and binary COPY both ways through a raw wire client,
//! COPY through the extended protocol, and the drivers' own COPY APIs (psycopg 3's `cursor.copy()`, asyncpg's
//! `copy_records_to_table` / `copy_from_table`) when their Python packages are installed (required when `CI` is
//! set).
//!
//! No test asserts a time: the throughput test prints the rows per second it measured.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use bgw_test_support::process::contained;
use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Runs a psql script file (so that COPY FROM STDIN reads its data from the script): (success, stdout, stderr).
/// `stop_on_error` sets ON_ERROR_STOP. The script runs in the host's directory (for `\copy` files).
fn psql_script(h: &Host, name: &str, script: &str, stop_on_error: bool) -> (bool, String, String) {
    let path = h.dir.path().join(name);
    std::fs::write(&path, script).unwrap();
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-A", "-t", "-q", "-v", "VERBOSITY=verbose", "-v"])
        .arg(format!("ON_ERROR_STOP={}", u8::from(stop_on_error)))
        .arg("-h")
        .arg(h.data())
        .arg("-p")
        .arg(h.port.to_string())
        .args(["-d", "postgres", "-f"])
        .arg(&path)
        .current_dir(h.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = contained(&mut cmd).spawn().expect("psql must be installed");
    let out = output_within(child, DEADLINE).unwrap_or_else(|| panic!("psql did not finish: {script}"));
    (out.status.success(), stdout(&out), stderr(&out))
}

/// A script that must succeed; its output.
fn run_script(h: &Host, name: &str, script: &str) -> String {
    let (ok, out, err) = psql_script(h, name, script, true);
    assert!(ok, "{script}\nstderr: {err}\nlog:\n{}", h.log());
    out
}

#[test]
fn copy_from_stdin_text_and_csv() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE t (a int4, b text, c float8, d bool)");
    let script = concat!(
        "COPY t FROM STDIN;\n",
        "1\tplain\t1.5\tt\n",
        "2\t\\N\t\\N\tf\n",
        "3\ttab\\there\\\\back\\nline\t-2\ttrue\n",
        "4\toctal \\101\\x42 end\t0\t\\N\n",
        "\\.\n",
        "COPY t (a, b) FROM STDIN (FORMAT csv, HEADER true, FREEZE on);\n",
        "a,b\n",
        "5,\"with, comma\"\n",
        "6,\"two\n",
        "lines\"\n",
        "7,\n",
        "8,\"\"\n",
        "\\.\n",
        "COPY t FROM STDIN WITH CSV HEADER DELIMITER ';' NULL 'NULL';\n",
        "a;b;c;d\n",
        "9;NULL;2.25;NULL\n",
        "10;\"q\"\"uote\";NULL;on\n",
        "\\.\n",
    );
    run_script(&h, "in.sql", script);
    let rows = run_script(&h, "select.sql", "\\pset null <null>\nSELECT * FROM t ORDER BY a;\n");
    let expected = [
        "1|plain|1.5|t",
        "2|<null>|<null>|f",
        "3|tab\there\\back\nline|-2|t",
        "4|octal AB end|0|<null>",
        "5|with, comma|<null>|<null>",
        "6|two\nlines|<null>|<null>",
        "7|<null>|<null>|<null>",
        "8||<null>|<null>",
        "9|<null>|2.25|<null>",
        "10|q\"uote|<null>|t",
    ]
    .join("\n");
    assert_eq!(rows.trim_end(), expected);
    // And out again: the text format's escapes, CSV's quoting, the header.
    let text = run_script(&h, "out.sql", "COPY t TO STDOUT;\n");
    assert!(text.contains("3\ttab\\there\\\\back\\nline\t-2\tt\n"), "{text}");
    assert!(text.contains("2\t\\N\t\\N\tf\n"), "{text}");
    let csv = run_script(&h, "csv.sql", "COPY t (a, b) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (b));\n");
    assert!(csv.starts_with("a,b\n1,\"plain\"\n"), "{csv}");
    assert!(csv.contains("6,\"two\nlines\"\n7,\n8,\"\"\n"), "{csv}");
}

#[test]
fn psql_backslash_copy_round_trip_and_query_copy() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE src (id int4, name text, price float8)");
    std::fs::write(h.dir.path().join("in.csv"), "id,name,price\n1,apple,0.5\n2,\"pear, green\",1.25\n3,,2\n").unwrap();
    run_script(
        &h,
        "copy.sql",
        "\\copy src from 'in.csv' csv header\n\\copy src to 'out.txt'\n\\copy src to 'out.csv' with (format csv, header)\n",
    );
    let text = std::fs::read_to_string(h.dir.path().join("out.txt")).unwrap();
    assert_eq!(text, "1\tapple\t0.5\n2\tpear, green\t1.25\n3\t\\N\t2\n");
    let csv = std::fs::read_to_string(h.dir.path().join("out.csv")).unwrap();
    assert_eq!(csv, "id,name,price\n1,apple,0.5\n2,\"pear, green\",1.25\n3,,2\n");
    // The text file reads back into another table as it was.
    h.sql("CREATE TABLE dst (id int4, name text, price float8)");
    run_script(&h, "back.sql", "\\copy dst from 'out.txt'\n");
    let select = |table: &str| run_script(&h, "select.sql", &format!("SELECT * FROM {table} ORDER BY id;\n"));
    assert_eq!(select("dst"), select("src"));
    // COPY (query) TO STDOUT.
    let out = run_script(
        &h,
        "query.sql",
        "COPY (SELECT id, upper(name) FROM src WHERE id < 3 ORDER BY id) TO STDOUT (FORMAT csv);\n",
    );
    assert_eq!(out, "1,APPLE\n2,\"PEAR, GREEN\"\n");
}

#[test]
fn bad_rows_leave_the_table_unchanged() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE t (a int4, b text)");
    h.sql("INSERT INTO t VALUES (0, 'kept')");
    let (ok, _, err) = psql_script(&h, "missing.sql", "COPY t FROM STDIN;\n1\tone\n2\ttwo\n3\n4\tfour\n\\.\n", true);
    assert!(!ok);
    assert!(err.contains("ERROR:  22P04: missing data for column \"b\""), "{err}");
    assert!(err.contains("CONTEXT:  COPY t, line 3: \"3\""), "{err}");
    let (_, _, err) = psql_script(&h, "extra.sql", "COPY t FROM STDIN;\n1\tone\textra\n\\.\n", true);
    assert!(err.contains("22P04: extra data after last expected column"), "{err}");
    assert!(err.contains("CONTEXT:  COPY t, line 1: \"1\tone\textra\""), "{err}");
    let (_, _, err) = psql_script(&h, "bad.sql", "COPY t FROM STDIN (FORMAT csv);\n1,x\nzz,y\n\\.\n", true);
    assert!(err.contains("22P02: invalid input syntax for type integer: \"zz\""), "{err}");
    assert!(err.contains("CONTEXT:  COPY t, line 2, column a: \"zz\""), "{err}");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "1");
    // Inside a transaction block the error fails the block; the block's rows go with it.
    let script =
        "BEGIN;\nINSERT INTO t VALUES (5, 'in block');\nCOPY t FROM STDIN;\n6\tsix\n7\n\\.\nSELECT 1;\nROLLBACK;\n";
    let (_, _, err) = psql_script(&h, "block.sql", script, false);
    assert!(err.contains("missing data for column \"b\""), "{err}");
    assert!(err.contains("25P02: current transaction is aborted"), "{err}");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "1");
    // Unknown tables and columns, server-side files and programs.
    for (sql, expected) in [
        ("COPY nosuch FROM STDIN", "42P01: relation \"nosuch\" does not exist"),
        ("COPY t (a, zz) FROM STDIN", "42703: column \"zz\" of relation \"t\" does not exist"),
        ("COPY t TO STDOUT (FORMAT xml)", "22023: COPY format \"xml\" not recognized"),
        (
            "COPY t FROM '/etc/passwd'",
            "42501: must be superuser or have privileges of the pg_read_server_files role to COPY from a file",
        ),
        (
            "COPY t TO '/tmp/x'",
            "42501: must be superuser or have privileges of the pg_write_server_files role to COPY to a file",
        ),
        (
            "COPY t TO PROGRAM 'cat'",
            "42501: must be superuser or have privileges of the pg_execute_server_program role to COPY to or from \
             an external program",
        ),
    ] {
        let err = h.psql(sql).unwrap_err();
        assert!(err.contains(expected), "{sql}: {err}");
    }
}

// ---------- a raw wire client ----------

struct Raw {
    s: UnixStream,
}

impl Raw {
    fn connect(h: &Host) -> Raw {
        let path = h.data().join(format!(".s.PGSQL.{}", h.port));
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(&wire::startup_message(&[("user", &os_user()), ("database", "postgres")])).unwrap();
        let mut raw = Raw { s };
        raw.until_ready();
        raw
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        self.s.write_all(&wire::message(tag, body)).unwrap();
    }

    fn query(&mut self, sql: &str) {
        self.send(b'Q', format!("{sql}\0").as_bytes());
    }

    fn read(&mut self) -> (u8, Vec<u8>) {
        wire::read_message(&mut self.s).expect("the server closed the connection")
    }

    /// Every message up to ReadyForQuery (included).
    fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut messages = Vec::new();
        loop {
            let message = self.read();
            let done = message.0 == b'Z';
            messages.push(message);
            if done {
                return messages;
            }
        }
    }
}

/// The fields of an ErrorResponse body, by their one-byte codes.
fn error_fields(body: &[u8]) -> Vec<(u8, String)> {
    body.split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| (f[0], String::from_utf8_lossy(&f[1..]).into_owned()))
        .collect()
}

fn error_field(body: &[u8], code: u8) -> String {
    error_fields(body).into_iter().find(|f| f.0 == code).map(|f| f.1).unwrap_or_default()
}

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// A binary COPY's data for rows (int4, text-or-NULL).
fn binary_rows(rows: &[(i32, Option<&str>)]) -> Vec<u8> {
    let mut data = SIGNATURE.to_vec();
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    for (a, b) in rows {
        data.extend_from_slice(&2i16.to_be_bytes());
        data.extend_from_slice(&4i32.to_be_bytes());
        data.extend_from_slice(&a.to_be_bytes());
        match b {
            Some(b) => {
                data.extend_from_slice(&(b.len() as i32).to_be_bytes());
                data.extend_from_slice(b.as_bytes());
            }
            None => data.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    data.extend_from_slice(&(-1i16).to_be_bytes());
    data
}

#[test]
fn copy_fail_binary_and_extended_protocol_on_the_wire() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE w (a int4, b text)");
    let mut c = Raw::connect(&h);

    // CopyFail: 57014, nothing kept, the session goes on.
    c.query("COPY w FROM STDIN");
    let (tag, body) = c.read();
    assert_eq!(tag, b'G', "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, [0, 0, 2, 0, 0, 0, 0]); // text, two columns, both text
    c.send(b'd', b"1\tone\n");
    c.send(b'f', b"client gave up\0");
    let messages = c.until_ready();
    let error = messages.iter().find(|m| m.0 == b'E').expect("an error");
    assert_eq!(error_field(&error.1, b'C'), "57014");
    assert_eq!(error_field(&error.1, b'M'), "COPY from stdin failed: client gave up");
    assert_eq!(messages.last().unwrap().1, b"I");
    assert_eq!(h.sql("SELECT count(*) FROM w"), "0");

    // A bad row over the wire: the CONTEXT field.
    c.query("COPY w FROM STDIN");
    assert_eq!(c.read().0, b'G');
    c.send(b'd', b"1\tone\n2\ttwo\nx\tthree\n");
    c.send(b'c', b"");
    let messages = c.until_ready();
    let error = messages.iter().find(|m| m.0 == b'E').expect("an error");
    assert_eq!(error_field(&error.1, b'W'), "COPY w, line 3, column a: \"x\"");
    assert_eq!(h.sql("SELECT count(*) FROM w"), "0");

    // Any other message ends the COPY: 08P01, as PostgreSQL says it.
    c.query("COPY w FROM STDIN");
    assert_eq!(c.read().0, b'G');
    c.send(b'd', b"1\tone\n");
    c.query("SELECT 1");
    let messages = c.until_ready();
    let error = messages.iter().find(|m| m.0 == b'E').expect("an error");
    assert_eq!(error_field(&error.1, b'C'), "08P01");
    assert_eq!(error_field(&error.1, b'M'), "unexpected message type 0x51 during COPY from stdin");
    assert_eq!(h.sql("SELECT count(*) FROM w"), "0");

    // Binary COPY FROM, the data split across messages at odd places.
    c.query("COPY w FROM STDIN (FORMAT binary)");
    let (tag, body) = c.read();
    assert_eq!((tag, body), (b'G', vec![1, 0, 2, 0, 1, 0, 1]));
    let data = binary_rows(&[(1, Some("one")), (2, None), (-3, Some("drei \u{e9}"))]);
    for chunk in data.chunks(7) {
        c.send(b'd', chunk);
    }
    c.send(b'c', b"");
    let messages = c.until_ready();
    let complete = messages.iter().find(|m| m.0 == b'C').unwrap_or_else(|| panic!("{messages:?}"));
    assert_eq!(complete.1, b"COPY 3\0");
    assert_eq!(h.sql("SELECT a, coalesce(b, '-') FROM w ORDER BY a"), "-3|drei \u{e9}\n1|one\n2|-");

    // Binary COPY TO gives the same bytes back.
    c.query("COPY (SELECT a, b FROM w ORDER BY a DESC) TO STDOUT (FORMAT binary)");
    let messages = c.until_ready();
    assert_eq!(messages[0].0, b'H');
    assert_eq!(messages[0].1, [1, 0, 2, 0, 1, 0, 1]);
    let data: Vec<u8> = messages.iter().filter(|m| m.0 == b'd').flat_map(|m| m.1.clone()).collect();
    assert_eq!(data, binary_rows(&[(2, None), (1, Some("one")), (-3, Some("drei \u{e9}"))]));
    assert!(messages.iter().any(|m| m.0 == b'c'));
    assert!(messages.iter().any(|m| m.0 == b'C' && m.1 == b"COPY 3\0"));

    // The extended protocol: Parse/Bind/Execute/Sync, then the data; the Sync sent before the data is ignored,
    // the one after CopyDone answers.
    c.send(b'P', b"\0COPY w (a, b) FROM STDIN (FORMAT csv)\0\0\0");
    c.send(b'B', b"\0\0\0\0\0\0\0\0");
    c.send(b'E', b"\0\0\0\0\0");
    c.send(b'S', b"");
    assert_eq!(c.read().0, b'1');
    assert_eq!(c.read().0, b'2');
    assert_eq!(c.read().0, b'G');
    c.send(b'd', b"10,ten\n11,\"el\"\"even\"\n");
    c.send(b'c', b"");
    c.send(b'S', b"");
    let messages = c.until_ready();
    assert_eq!(messages[0], (b'C', b"COPY 2\0".to_vec()));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(h.sql("SELECT b FROM w WHERE a = 11"), "el\"even");

    // And COPY TO through Execute.
    c.send(b'P', b"\0COPY (SELECT b FROM w WHERE a >= 10 ORDER BY a) TO STDOUT\0\0\0");
    c.send(b'B', b"\0\0\0\0\0\0\0\0");
    c.send(b'E', b"\0\0\0\0\0");
    c.send(b'S', b"");
    let messages = c.until_ready();
    let tags: Vec<u8> = messages.iter().map(|m| m.0).collect();
    assert_eq!(tags, b"12HddcCZ");
    assert_eq!(messages[3].1, b"ten\n");
    assert_eq!(messages[4].1, b"el\"even\n");

    // Inside a block, a COPY's rows commit with the block; after CopyFail the block is failed.
    c.query("BEGIN; COPY w FROM STDIN; SELECT 1");
    let mut messages = Vec::new();
    while messages.last().map(|m: &(u8, Vec<u8>)| m.0) != Some(b'G') {
        messages.push(c.read());
    }
    c.send(b'd', b"20\ttwenty\n");
    c.send(b'c', b"");
    let messages = c.until_ready();
    // The rest of the query string ran after the COPY.
    assert!(messages.iter().any(|m| m.0 == b'C' && m.1 == b"SELECT 1\0"), "{messages:?}");
    assert_eq!(messages.last().unwrap().1, b"T");
    c.query("COPY w FROM STDIN");
    assert_eq!(c.read().0, b'G');
    c.send(b'f', b"no\0");
    let messages = c.until_ready();
    assert_eq!(messages.last().unwrap().1, b"E");
    c.query("ROLLBACK");
    c.until_ready();
    assert_eq!(h.sql("SELECT count(*) FROM w WHERE a = 20"), "0");
}

// ---------- drivers ----------

/// Whether the drivers' Python (see `driver_python`) can import `module`. Missing is a failure when `CI` is set (CI installs the drivers), else the
/// caller skips its case with a printed reason.
fn python_has(module: &str) -> bool {
    let ok = Command::new(driver_python())
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but python3 cannot import {module}: install it (pip3 install 'psycopg[binary]' asyncpg)"
        );
        eprintln!("skipping the {module} COPY case: python3 cannot import {module} (pip3 install it to run it)");
    }
    ok
}

/// Runs a Python script with the host's socket directory and port as arguments; its output (panics on failure).
fn python(h: &Host, script: &str) -> String {
    let mut cmd = Command::new(driver_python());
    cmd.arg("-c")
        .arg(script)
        .arg(h.data())
        .arg(h.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = contained(&mut cmd).spawn().unwrap();
    let out = output_within(child, DEADLINE).expect("python did not finish");
    assert!(out.status.success(), "python failed:\n{}\n{}\nlog:\n{}", stdout(&out), stderr(&out), h.log());
    stdout(&out)
}

const PSYCOPG: &str = r#"
import sys, psycopg
conn = psycopg.connect(host=sys.argv[1], port=sys.argv[2], dbname="postgres", autocommit=True)
cur = conn.cursor()
cur.execute("CREATE TABLE p (id int4, name text, score float8, flag bool, raw bytea)")
with cur.copy("COPY p (id, name, score, flag, raw) FROM STDIN") as copy:
    for i in range(3):
        copy.write_row((i, f"n{i}\t", i * 1.5, i % 2 == 0, bytes([i, 255])))
with cur.copy("COPY p FROM STDIN (FORMAT BINARY)") as copy:
    copy.set_types(["int4", "text", "float8", "bool", "bytea"])
    copy.write_row((3, None, 4.5, True, b"\x00\x01"))
with cur.copy("COPY p TO STDOUT") as copy:
    text = [row for row in copy.rows()]
assert text[0] == ("0", "n0\t", "0", "t", "\\x00ff"), text
with cur.copy("COPY p TO STDOUT (FORMAT BINARY)") as copy:
    copy.set_types(["int4", "text", "float8", "bool", "bytea"])
    rows = list(copy.rows())
assert rows[3] == (3, None, 4.5, True, b"\x00\x01"), rows
assert rows[1] == (1, "n1\t", 1.5, False, b"\x01\xff"), rows
try:
    with cur.copy("COPY p FROM STDIN") as copy:
        copy.write_row((9, "x", 1, True, b""))
        raise RuntimeError("the client gives up")
except RuntimeError:
    pass
cur.execute("SELECT count(*) FROM p")
assert cur.fetchone()[0] == 4
print("psycopg ok")
"#;

const ASYNCPG: &str = r#"
import sys, io, asyncio, asyncpg
async def main():
    conn = await asyncpg.connect(host=sys.argv[1], port=int(sys.argv[2]), database="postgres")
    await conn.execute("CREATE TABLE q (id int4, name text, score float8)")
    done = await conn.copy_records_to_table("q", records=[(1, "a", 1.5), (2, None, 2.5), (3, "c\nd", -1.0)])
    assert done == "COPY 3", done
    out = io.BytesIO()
    done = await conn.copy_from_table("q", output=out)
    assert done == "COPY 3", done
    assert out.getvalue() == b"1\ta\t1.5\n2\t\\N\t2.5\n3\tc\\nd\t-1\n", out.getvalue()
    out = io.BytesIO()
    await conn.copy_from_query("SELECT id FROM q WHERE id > 1 ORDER BY id", output=out, format="csv")
    assert out.getvalue() == b"2\n3\n", out.getvalue()
    await conn.close()
    print("asyncpg ok")
asyncio.run(main())
"#;

#[test]
fn drivers_copy_apis() {
    let h = Host::start(Setup::new(BGW));
    if python_has("psycopg") {
        assert_eq!(python(&h, PSYCOPG).trim(), "psycopg ok");
    }
    if python_has("asyncpg") {
        assert_eq!(python(&h, ASYNCPG).trim(), "asyncpg ok");
    }
}

#[test]
fn text_copy_throughput() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE big (id int4, name text, price float8)");
    const ROWS: usize = 100_000;
    let mut data = Vec::with_capacity(ROWS * 24);
    for i in 0..ROWS {
        writeln!(data, "{i}\tname {i}\t{}", i as f64 * 0.25).unwrap();
    }
    let mut c = h.client();
    let start = Instant::now();
    let mut writer = c.copy_in("COPY big FROM STDIN").unwrap();
    writer.write_all(&data).unwrap();
    let rows = writer.finish().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(rows, ROWS as u64);
    println!(
        "COPY FROM STDIN, text, {ROWS} rows in {:.2} s: {:.0} rows/s",
        elapsed.as_secs_f64(),
        ROWS as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(h.sql("SELECT count(*), sum(id) FROM big"), format!("{ROWS}|{}", ROWS * (ROWS - 1) / 2));
}
