//! Types on the wire (issue 14, item 2), spoken by hand with the raw wire client: Parse with typed parameters,
//! Bind in binary, Describe (ParameterDescription and RowDescription with each column's real OID and typlen),
//! Execute with binary and text result formats, against a table whose SQLite declared types are PostgreSQL's
//! typnames. The binary values are PostgreSQL 15's (`encode(typsend(...), 'hex')`).

use std::io::Write;
use std::os::unix::net::UnixStream;

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

struct Raw {
    s: UnixStream,
}

/// What the server answered up to ReadyForQuery.
#[derive(Default, Debug)]
struct Answer {
    params: Vec<u32>,
    /// (name, type OID, typlen, format) of each column.
    columns: Vec<(String, u32, i16, i16)>,
    rows: Vec<Vec<Option<Vec<u8>>>>,
    errors: Vec<(String, String)>,
    tags: Vec<String>,
}

fn cstr(body: &[u8], at: &mut usize) -> String {
    let end = body[*at..].iter().position(|&b| b == 0).unwrap() + *at;
    let s = String::from_utf8(body[*at..end].to_vec()).unwrap();
    *at = end + 1;
    s
}

fn i16_at(body: &[u8], at: &mut usize) -> i16 {
    *at += 2;
    i16::from_be_bytes([body[*at - 2], body[*at - 1]])
}

fn i32_at(body: &[u8], at: &mut usize) -> i32 {
    *at += 4;
    i32::from_be_bytes(body[*at - 4..*at].try_into().unwrap())
}

impl Raw {
    fn connect(h: &Host) -> Raw {
        let path = h.data().join(format!(".s.PGSQL.{}", h.port));
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(&wire::startup_message(&[("user", &os_user()), ("database", "postgres")])).unwrap();
        let mut raw = Raw { s };
        let answer = raw.until_ready();
        assert!(answer.errors.is_empty(), "{answer:?}");
        raw
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        self.s.write_all(&wire::message(tag, body)).unwrap();
    }

    fn parse(&mut self, name: &str, sql: &str, oids: &[u32]) {
        let mut body = format!("{name}\0{sql}\0").into_bytes();
        body.extend_from_slice(&(oids.len() as i16).to_be_bytes());
        for oid in oids {
            body.extend_from_slice(&oid.to_be_bytes());
        }
        self.send(b'P', &body);
    }

    fn bind(&mut self, statement: &str, formats: &[i16], params: &[Option<Vec<u8>>], results: &[i16]) {
        let mut body = format!("\0{statement}\0").into_bytes();
        body.extend_from_slice(&(formats.len() as i16).to_be_bytes());
        for f in formats {
            body.extend_from_slice(&f.to_be_bytes());
        }
        body.extend_from_slice(&(params.len() as i16).to_be_bytes());
        for p in params {
            match p {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    body.extend_from_slice(bytes);
                }
            }
        }
        body.extend_from_slice(&(results.len() as i16).to_be_bytes());
        for f in results {
            body.extend_from_slice(&f.to_be_bytes());
        }
        self.send(b'B', &body);
    }

    fn describe(&mut self, kind: u8, name: &str) {
        let mut body = vec![kind];
        body.extend_from_slice(format!("{name}\0").as_bytes());
        self.send(b'D', &body);
    }

    fn execute(&mut self) {
        self.send(b'E', b"\0\0\0\0\0");
    }

    fn sync(&mut self) -> Answer {
        self.send(b'S', b"");
        self.until_ready()
    }

    fn until_ready(&mut self) -> Answer {
        let mut answer = Answer::default();
        loop {
            let (tag, body) = wire::read_message(&mut self.s).expect("the server closed the connection");
            let mut at = 0;
            match tag {
                b't' => {
                    let n = i16_at(&body, &mut at);
                    answer.params = (0..n).map(|_| i32_at(&body, &mut at) as u32).collect();
                }
                b'T' => {
                    let n = i16_at(&body, &mut at);
                    for _ in 0..n {
                        let name = cstr(&body, &mut at);
                        at += 6;
                        let oid = i32_at(&body, &mut at) as u32;
                        let len = i16_at(&body, &mut at);
                        at += 4;
                        let format = i16_at(&body, &mut at);
                        answer.columns.push((name, oid, len, format));
                    }
                }
                b'D' => {
                    let n = i16_at(&body, &mut at);
                    let row = (0..n)
                        .map(|_| {
                            let len = i32_at(&body, &mut at);
                            (len >= 0).then(|| {
                                at += len as usize;
                                body[at - len as usize..at].to_vec()
                            })
                        })
                        .collect();
                    answer.rows.push(row);
                }
                b'E' => {
                    let (mut code, mut message) = (String::new(), String::new());
                    while body[at] != 0 {
                        let field = body[at];
                        at += 1;
                        let value = cstr(&body, &mut at);
                        match field {
                            b'C' => code = value,
                            b'M' => message = value,
                            _ => {}
                        }
                    }
                    answer.errors.push((code, message));
                }
                b'C' => answer.tags.push(cstr(&body, &mut at)),
                b'Z' => return answer,
                _ => {}
            }
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Each column: name, declared type, OID, typlen, PostgreSQL 15's binary form, PostgreSQL 15's text form.
const COLUMNS: &[(&str, &str, u32, i16, &str, &str)] = &[
    ("a", "int4", 23, 4, "00000007", "7"),
    ("b", "bool", 16, 1, "01", "t"),
    ("c", "timestamptz", 1184, 8, "0002b33cda9c3020", "2024-01-31 13:45:00.5+00"),
    // SQLite gives a `numeric` declared type NUMERIC affinity, which turns the stored text "12.50" into the real
    // 12.5: a value whose text is its shortest form survives that (see the report on issue 14).
    ("d", "numeric(10,1)", 1700, -1, "0002000000000001000c1388", "12.5"),
    ("e", "uuid", 2950, 16, "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    (
        "f",
        "_int4",
        1007,
        -1,
        "000000010000000100000017000000030000000100000004000000010000000400000002ffffffff",
        "{1,2,NULL}",
    ),
    ("g", "date", 1082, 4, "0000225c", "2024-01-31"),
    ("h", "interval", 1186, 16, "000000036c966ee0000000030000000e", "1 year 2 mons 3 days 04:05:06.7"),
    ("i", "float8", 701, 8, "4004000000000000", "2.5"),
    ("j", "jsonb", 3802, -1, "017b2261223a20317d", "{\"a\": 1}"),
    ("k", "bytea", 17, -1, "00ff", "\\x00ff"),
    ("l", "varchar(5)", 1043, -1, "68c3a96c6c6f", "héllo"),
    ("m", "int8", 20, 8, "0000000000000001", "1"),
    ("n", "time", 1083, 8, "0000000b8675b020", "13:45:00.5"),
];

#[test]
fn every_type_in_binary_and_text() {
    let h = Host::start(Setup::new(BGW));
    let ddl: Vec<String> = COLUMNS.iter().map(|(name, ty, ..)| format!("{name} {ty}")).collect();
    h.sql(&format!("CREATE TABLE t ({})", ddl.join(", ")));
    let mut raw = Raw::connect(&h);

    // Typed parameters, all in binary.
    let placeholders: Vec<String> = (1..=COLUMNS.len()).map(|n| format!("${n}")).collect();
    let oids: Vec<u32> = COLUMNS.iter().map(|c| c.2).collect();
    raw.parse("ins", &format!("INSERT INTO t VALUES ({})", placeholders.join(", ")), &oids);
    raw.describe(b'S', "ins");
    let params: Vec<Option<Vec<u8>>> = COLUMNS.iter().map(|c| Some(unhex(c.4))).collect();
    raw.bind("ins", &[1], &params, &[]);
    raw.execute();
    let answer = raw.sync();
    assert!(answer.errors.is_empty(), "{answer:?}");
    assert_eq!(answer.params, oids);
    assert_eq!(answer.tags, ["INSERT 0 1"]);

    // Binary results: the same bytes back, each column described with its OID and typlen.
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let select = format!("SELECT {} FROM t", names.join(", "));
    raw.parse("sel", &select, &[]);
    raw.bind("sel", &[], &[], &[1]);
    raw.describe(b'P', "");
    raw.execute();
    let answer = raw.sync();
    assert!(answer.errors.is_empty(), "{answer:?}");
    let described: Vec<(String, u32, i16, i16)> = COLUMNS.iter().map(|c| (c.0.to_owned(), c.2, c.3, 1)).collect();
    assert_eq!(answer.columns, described);
    assert_eq!(answer.rows.len(), 1);
    for (column, value) in COLUMNS.iter().zip(&answer.rows[0]) {
        assert_eq!(value.as_deref(), Some(&unhex(column.4)[..]), "column {} ({})", column.0, column.1);
    }

    // Text results: PostgreSQL's output functions.
    raw.bind("sel", &[], &[], &[0]);
    raw.describe(b'P', "");
    raw.execute();
    let answer = raw.sync();
    assert!(answer.errors.is_empty(), "{answer:?}");
    assert!(answer.columns.iter().all(|c| c.3 == 0));
    for (column, value) in COLUMNS.iter().zip(&answer.rows[0]) {
        assert_eq!(value.as_deref(), Some(column.5.as_bytes()), "column {} ({})", column.0, column.1);
    }

    // Text parameters are read by their type's input function and stored as the STORAGE table says.
    raw.parse("", "INSERT INTO t(a, c, d, f, g) VALUES ($1, $2, $3, $4, $5)", &[23, 1184, 1700, 1007, 1082]);
    let text = ["8", "2024-01-31 13:45:00+02", "1.5", "{ 3 , NULL }", "1/31/2024"];
    raw.bind("", &[0], &text.iter().map(|t| Some(t.as_bytes().to_vec())).collect::<Vec<_>>(), &[]);
    raw.execute();
    assert!(raw.sync().errors.is_empty());
    raw.parse("", "SELECT c, d, f, g FROM t WHERE a = 8", &[]);
    raw.bind("", &[], &[], &[]);
    raw.execute();
    let answer = raw.sync();
    let row: Vec<String> = answer.rows[0].iter().map(|v| String::from_utf8(v.clone().unwrap()).unwrap()).collect();
    assert_eq!(row, ["2024-01-31 11:45:00+00", "1.5", "{3,NULL}", "2024-01-31"]);
}

#[test]
fn parameter_descriptions_and_errors() {
    let h = Host::start(Setup::new(BGW));
    let mut raw = Raw::connect(&h);

    // The client's OID where it gave one; else (nothing tells here) text.
    raw.parse("s", "SELECT $1, $2", &[0, 1082]);
    raw.describe(b'S', "s");
    let answer = raw.sync();
    assert!(answer.errors.is_empty(), "{answer:?}");
    assert_eq!(answer.params, [25, 1082]);

    // PostgreSQL's errors, with their SQLSTATEs.
    let cases: &[(u32, i16, &[u8], &str, &str)] = &[
        (23, 0, b"x", "22P02", "invalid input syntax for type integer: \"x\""),
        (23, 0, b"99999999999", "22003", "value \"99999999999\" is out of range for type integer"),
        (23, 1, &[0, 0, 1], "22P03", "incorrect binary data format in bind parameter 1"),
        (1082, 0, b"2024-02-30", "22008", "date/time field value out of range: \"2024-02-30\""),
        (1184, 0, b"x", "22007", "invalid input syntax for type timestamp with time zone: \"x\""),
        (1007, 0, b"{1,", "22P02", "malformed array literal: \"{1,\""),
        (2950, 0, b"abc", "22P02", "invalid input syntax for type uuid: \"abc\""),
    ];
    for (oid, format, value, code, message) in cases {
        raw.parse("", "SELECT $1", &[*oid]);
        raw.bind("", &[*format], &[Some(value.to_vec())], &[]);
        raw.execute();
        let answer = raw.sync();
        assert_eq!(answer.errors, [((*code).to_owned(), (*message).to_owned())], "{oid} {value:?}");
    }

    // A literal's type is PostgreSQL's: `1` is int4 (4 bytes in binary).
    raw.parse("", "SELECT 1", &[]);
    raw.bind("", &[], &[], &[1]);
    raw.describe(b'P', "");
    raw.execute();
    let answer = raw.sync();
    assert!(answer.errors.is_empty(), "{answer:?}");
    assert_eq!(answer.rows[0][0].as_ref().map(Vec::len), Some(4), "{answer:?}");
}
