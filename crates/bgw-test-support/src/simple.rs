//! A client of the simple query protocol that keeps what drivers hide: each statement's answer exactly as the
//! server sent it ([`Answer`]: column names and type OIDs from RowDescription, rows in text format, the command
//! tag, or the error's SQLSTATE, message and DETAIL). The conformance test compares these between PostgreSQL 15
//! and bgw.
//!
//! It connects over TCP with a [`Login`] (SCRAM-SHA-256, as both servers ask; the SCRAM exchange itself is the
//! `postgres-protocol` crate's) and reads with a deadline, so a server that stops answering fails the test
//! instead of hanging it. A COPY from the client is answered with CopyFail; a COPY to the client is read and its
//! data kept as rows of one column.

use crate::pg15::Login;
use crate::wire::{message, read_message, startup_message};
use crate::DEADLINE;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use std::io::Write;
use std::net::TcpStream;

/// An error's fields (from ErrorResponse).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorFields {
    /// `C`: the SQLSTATE.
    pub code: String,
    /// `M`: the primary message.
    pub message: String,
    /// `D`: the detail, if any.
    pub detail: Option<String>,
}

/// One statement's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// (name, type OID) of each column of the RowDescription (none for a statement without rows).
    pub columns: Vec<(String, u32)>,
    /// The rows, each value in text format (None: NULL).
    pub rows: Vec<Vec<Option<String>>>,
    /// The CommandComplete tag (`SELECT 2`, `INSERT 0 1`), if the statement completed.
    pub tag: Option<String>,
    /// The error, if it failed.
    pub error: Option<ErrorFields>,
}

/// A connected session (see the module doc).
pub struct SimpleClient {
    stream: TcpStream,
}

fn cstr(buf: &[u8], at: &mut usize) -> String {
    let end = buf[*at..].iter().position(|&b| b == 0).map_or(buf.len(), |p| *at + p);
    let s = String::from_utf8_lossy(&buf[*at..end]).into_owned();
    *at = (end + 1).min(buf.len());
    s
}

fn be32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn error_fields(body: &[u8]) -> ErrorFields {
    let mut f = ErrorFields { code: String::new(), message: String::new(), detail: None };
    let mut at = 0;
    while at < body.len() && body[at] != 0 {
        let kind = body[at];
        at += 1;
        let value = cstr(body, &mut at);
        match kind {
            b'C' => f.code = value,
            b'M' => f.message = value,
            b'D' => f.detail = Some(value),
            _ => {}
        }
    }
    f
}

impl SimpleClient {
    /// Connects to database `db` as `login` says; Err(the server's error) if it refuses.
    pub fn connect(login: &Login, db: &str) -> Result<SimpleClient, ErrorFields> {
        let stream = TcpStream::connect((login.host.as_str(), login.port)).expect("TCP connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = SimpleClient { stream };
        c.send(&startup_message(&[("user", &login.user), ("database", db), ("client_encoding", "UTF8")]));
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, body) = c.read();
            match tag {
                b'R' => match be32(&body, 0) {
                    0 => {}
                    10 => {
                        let s = ScramSha256::new(login.password.as_bytes(), ChannelBinding::unsupported());
                        let mut m = format!("{SCRAM_SHA_256}\0").into_bytes();
                        m.extend_from_slice(&(s.message().len() as i32).to_be_bytes());
                        m.extend_from_slice(s.message());
                        c.send(&message(b'p', &m));
                        scram = Some(s);
                    }
                    11 => {
                        let s = scram.as_mut().expect("SASLContinue before SASL");
                        s.update(&body[4..]).expect("the server's SCRAM message");
                        let m = s.message().to_vec();
                        c.send(&message(b'p', &m));
                    }
                    12 => {
                        scram.as_mut().expect("SASLFinal before SASL").finish(&body[4..]).expect("the server's proof")
                    }
                    3 => c.send(&message(b'p', format!("{}\0", login.password).as_bytes())),
                    other => panic!("authentication request {other} is not supported by the test client"),
                },
                b'E' => return Err(error_fields(&body)),
                b'Z' => return Ok(c),
                _ => {}
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    fn read(&mut self) -> (u8, Vec<u8>) {
        read_message(&mut self.stream)
            .unwrap_or_else(|| panic!("the server closed the connection (or took longer than {DEADLINE:?})"))
    }

    /// Runs `sql` (one statement) with the simple query protocol: its answer. A string of several statements
    /// gives the last one's answer (an error stops the string, as in the server).
    pub fn query(&mut self, sql: &str) -> Answer {
        self.send(&message(b'Q', format!("{sql}\0").as_bytes()));
        let mut answer = Answer::default();
        loop {
            let (tag, body) = self.read();
            match tag {
                b'T' => {
                    answer = Answer::default();
                    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut at = 2;
                    for _ in 0..n {
                        let name = cstr(&body, &mut at);
                        let oid = be32(&body, at + 6) as u32;
                        at += 18;
                        answer.columns.push((name, oid));
                    }
                }
                b'D' => {
                    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut at = 2;
                    let mut row = Vec::with_capacity(n);
                    for _ in 0..n {
                        let len = be32(&body, at);
                        at += 4;
                        if len < 0 {
                            row.push(None);
                        } else {
                            let end = at + len as usize;
                            row.push(Some(String::from_utf8_lossy(&body[at..end]).into_owned()));
                            at = end;
                        }
                    }
                    answer.rows.push(row);
                }
                b'C' => {
                    let mut at = 0;
                    answer.tag = Some(cstr(&body, &mut at));
                }
                b'E' => answer.error = Some(error_fields(&body)),
                b'G' => self.send(&message(b'f', b"the conformance client sends no COPY data\0")),
                b'd' => {
                    if answer.columns.is_empty() {
                        answer.columns = vec![("COPY".into(), 0)];
                    }
                    answer.rows.push(vec![Some(String::from_utf8_lossy(&body).into_owned())]);
                }
                b'Z' => return answer,
                _ => {}
            }
        }
    }
}
