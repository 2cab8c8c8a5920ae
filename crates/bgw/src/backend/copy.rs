//! COPY at the front door: `COPY table [(columns)] FROM STDIN` and `COPY {table [(columns)] | (query)} TO
//! STDOUT`, in text, CSV and binary format, over the protocol's copy messages (CopyInResponse, CopyData,
//! CopyDone, CopyFail; CopyOutResponse, CopyData, CopyDone), from the simple protocol and from Execute.
//!
//! COPY FROM reads the table's columns and their PostgreSQL types (`PRAGMA table_xinfo`, the declared type read
//! with [`PgType::from_decltype`]), prepares one `INSERT INTO t (cols) VALUES ($1, ...)` on the session's engine
//! and runs it for each row as the data streams in; each field becomes a value through the backend's parameter
//! decoder ([`decode_param`], text or binary), so a value is stored as any other writer stores it. A bad row ends
//! the COPY with PostgreSQL's error and CONTEXT (`COPY t, line 3, column a: "x"`). Nothing of a failed COPY is
//! kept: outside a transaction block the COPY runs in its own transaction (begun and committed through the
//! engine's API, rolled back on error); inside one, the error fails the block.
//!
//! COPY TO runs `SELECT cols FROM t` (or the query) on the engine and sends one CopyData per row, values in the
//! type's text output ([`text_output`]) or, in binary format, through the backend's row encoder.
//!
//! `COPY ... FROM/TO 'file'` and `PROGRAM` are refused (42501) for every role, as PostgreSQL refuses them to a role
//! without pg_read_server_files / pg_write_server_files / pg_execute_server_program: the host never reads or
//! writes server files, or runs programs, for a client (psql's `\copy` works, it goes through STDIN/STDOUT).
//!
//! Where things are: `parse` (the statement's syntax), `options` (its options, checked as PostgreSQL checks
//! them), `text` (text and CSV), `binary` (the binary format); here the session's side: starting a COPY, the
//! copy-in state between CopyData messages ([`CopyIn`]), and COPY TO.
//!
//! Invariants: while a COPY FROM STDIN waits for data the session is inside that one statement (between
//! `before_statement` and `after_statement`) and [`Session::copy_in`] holds its state; every way out of it
//! (CopyDone, CopyFail, an error, a panic) ends its own transaction, fails the block, or commits, and ends the
//! statement. Sync and Flush are ignored meanwhile, as PostgreSQL does.
//!
//! Runs in: a backend process.

mod binary;
mod options;
mod parse;
mod text;

use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pgwire::api::results::FieldFormat;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::CommandComplete;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::sql::lexer::is_blank;
use crate::sql::{Engine, Kind, Statement, TxState};

use super::host::SqlError;
use super::session::{internal_error, Output, Session};
use super::types::{decode_param, text_output, type_from_values, PgType, RowEncoder, Value, WireColumn};
use options::{CopyOptions, ForceQuote, Format, Header};
use parse::{CopyStatement, Endpoint, Relation};

pub(super) use parse::is_copy;

/// How a COPY in a simple query left the query cycle.
pub(super) enum Step {
    /// It ran (CommandComplete is queued); the query string goes on after its `len` bytes.
    Next(usize),
    /// It failed (the error is queued).
    Failed,
    /// COPY FROM STDIN: it waits for the client's data.
    Waiting,
}

/// The kind a COPY statement prepared with Parse has (its Execute runs it here).
fn copy_kind() -> Kind {
    Kind::Other("COPY".into())
}

/// For Parse: the COPY statement `sql` starts with as a bare [`Statement`] (checked for syntax), with the rest
/// of `sql`; None if `sql` is not a COPY.
pub(super) fn prepare(sql: &str) -> Option<Result<Option<(Statement, &str)>, SqlError>> {
    if !is_copy(sql) {
        return None;
    }
    Some(parse::parse(sql).map(|(_, len)| Some((Statement::bare(&sql[..len], copy_kind()), &sql[len..]))))
}

/// Whether a prepared statement is a COPY (see [`prepare`]).
pub(super) fn is_copy_statement(statement: &Statement) -> bool {
    statement.kind == copy_kind()
}

/// What a COPY started.
enum Started {
    /// COPY TO ran: how many rows it sent.
    Out(u64),
    /// COPY FROM STDIN waits for data.
    In,
}

impl Session {
    /// Runs the COPY statement `query` starts with (simple protocol); what follows it runs after it.
    pub(super) fn copy_simple(&mut self, query: &str) -> Step {
        let len = parse::parse(query).map_or(query.len(), |(_, len)| len);
        match self.copy_start(&query[..len], Some(query[len..].to_owned())) {
            Ok(Started::Out(rows)) => {
                self.out.push(command_complete(rows));
                Step::Next(len)
            }
            Ok(Started::In) => Step::Waiting,
            Err(err) => {
                self.error(err);
                Step::Failed
            }
        }
    }

    /// Runs the COPY statement `sql` of a portal (extended protocol).
    pub(super) fn copy_portal(&mut self, sql: &str) -> Result<(), SqlError> {
        if let Started::Out(rows) = self.copy_start(sql, None)? {
            self.out.push(command_complete(rows));
        }
        Ok(())
    }

    /// Starts COPY statement `sql`; `rest` is the rest of a simple query (None: extended protocol). An error
    /// fails the transaction block, if there is one.
    fn copy_start(&mut self, sql: &str, rest: Option<String>) -> Result<Started, SqlError> {
        let result = self.copy_start_inner(sql, rest);
        if result.is_err() && self.engine.tx_state() == TxState::InBlock {
            self.engine.fail_transaction();
        }
        result
    }

    fn copy_start_inner(&mut self, sql: &str, rest: Option<String>) -> Result<Started, SqlError> {
        let (statement, _) = parse::parse(sql)?;
        match statement.endpoint {
            Endpoint::Client => {}
            Endpoint::Program => {
                return Err(server_side(
                    "must be superuser or have privileges of the pg_execute_server_program role to COPY to or \
                     from an external program",
                ))
            }
            Endpoint::File if statement.from => {
                return Err(server_side(
                    "must be superuser or have privileges of the pg_read_server_files role to COPY from a file",
                ))
            }
            Endpoint::File => {
                return Err(server_side(
                    "must be superuser or have privileges of the pg_write_server_files role to COPY to a file",
                ))
            }
        }
        if statement.has_where {
            return Err(SqlError::error("0A000", "COPY FROM ... WHERE is not supported"));
        }
        let options = CopyOptions::check(&statement.options, statement.from)?;
        if self.engine.tx_state() == TxState::Failed {
            return Err(SqlError::error(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if !statement.from {
            return self
                .run_statement(sql, |engine, output| copy_to(engine, &statement, &options, output))
                .map(Started::Out);
        }
        if self.host.read_only() {
            return Err(SqlError::error("25006", "cannot execute COPY FROM in a read-only transaction"));
        }
        self.before_statement(sql)?;
        let engine = &mut *self.engine;
        let setup = catch_unwind(AssertUnwindSafe(|| CopyIn::start(engine, &statement, options, rest)))
            .unwrap_or_else(|payload| Err(internal_error(&*payload)));
        match setup {
            Ok(copy_in) => {
                let binary = copy_in.options.format == Format::Binary;
                let width = copy_in.columns.len();
                self.out.push(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
                    binary.into(),
                    width as i16,
                    vec![binary.into(); width],
                )));
                self.copy_in = Some(Box::new(copy_in));
                Ok(Started::In)
            }
            Err(err) => {
                self.after_statement();
                Err(err)
            }
        }
    }

    /// A message while COPY FROM STDIN waits for data.
    pub(super) fn copy_message(&mut self, message: PgWireFrontendMessage) {
        let Some(mut state) = self.copy_in.take() else { return };
        let engine = &mut *self.engine;
        let step = catch_unwind(AssertUnwindSafe(|| match message {
            PgWireFrontendMessage::CopyData(data) => state.feed(engine, &data.data).map(|()| None),
            PgWireFrontendMessage::CopyDone(_) => state.finish(engine).map(Some),
            PgWireFrontendMessage::CopyFail(fail) => {
                Err(SqlError::error("57014", format!("COPY from stdin failed: {}", fail.message)))
            }
            PgWireFrontendMessage::Sync(_) | PgWireFrontendMessage::Flush(_) => Ok(None),
            other => Err(SqlError::error(
                "08P01",
                format!("unexpected message type 0x{:02X} during COPY from stdin", message_type(&other)),
            )),
        }))
        .unwrap_or_else(|payload| Err(internal_error(&*payload)));
        match step {
            Ok(None) => self.copy_in = Some(state),
            Ok(Some(rows)) => {
                self.after_statement();
                self.out.push(command_complete(rows));
                match state.rest {
                    Some(rest) if !is_blank(&rest) => self.simple_query(&rest),
                    Some(_) => self.ready(),
                    // Extended protocol: ReadyForQuery follows the client's Sync.
                    None => {}
                }
            }
            Err(err) => self.copy_failed(state, err),
        }
    }

    /// Ends the COPY FROM STDIN that waits for data with `err` (a message that could not be read, too).
    pub(super) fn copy_abort(&mut self, err: SqlError) {
        if let Some(state) = self.copy_in.take() {
            self.copy_failed(state, err);
        }
    }

    /// The COPY failed: nothing of it is kept, the statement ends with `err`, and the query cycle goes on as after
    /// any failed statement (ReadyForQuery now in the simple protocol; after Sync in the extended one).
    fn copy_failed(&mut self, mut state: Box<CopyIn>, err: SqlError) {
        state.abort(&mut *self.engine);
        self.after_statement();
        self.error(err);
        if state.rest.is_some() {
            self.ready();
        } else {
            self.skip_until_sync = true;
        }
    }
}

fn command_complete(rows: u64) -> PgWireBackendMessage {
    PgWireBackendMessage::CommandComplete(CommandComplete::new(format!("COPY {rows}")))
}

fn server_side(message: &str) -> SqlError {
    SqlError::error("42501", message)
        .with_hint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.")
}

/// The type byte of a frontend message (for the error about one that has no place in COPY).
fn message_type(message: &PgWireFrontendMessage) -> u8 {
    match message {
        PgWireFrontendMessage::Query(_) => b'Q',
        PgWireFrontendMessage::Parse(_) => b'P',
        PgWireFrontendMessage::Bind(_) => b'B',
        PgWireFrontendMessage::Describe(_) => b'D',
        PgWireFrontendMessage::Execute(_) => b'E',
        PgWireFrontendMessage::Close(_) => b'C',
        PgWireFrontendMessage::PasswordMessageFamily(_) => b'p',
        _ => b'?',
    }
}

/// An identifier quoted for SQL.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// At most 100 bytes of `text` (on a character boundary) for a CONTEXT line, as PostgreSQL clips it.
fn clip(text: &str) -> String {
    if text.len() <= 100 {
        return text.to_owned();
    }
    let mut cut = 100;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// Runs `sql` on the engine and collects its rows.
fn query_rows(engine: &mut dyn Engine, sql: &str) -> Result<Vec<Vec<Value>>, SqlError> {
    let Some((statement, _)) = engine.prepare(sql)? else { return Ok(Vec::new()) };
    let mut rows = Vec::new();
    engine.execute(&statement, &[], &mut |row| {
        rows.push(row);
        ControlFlow::Continue(())
    })?;
    Ok(rows)
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Integer(i)) => i.to_string(),
        _ => String::new(),
    }
}

/// A table COPY reads or writes, with the columns it copies.
struct Table {
    /// The name in CONTEXT lines (PostgreSQL's relation name, unqualified).
    name: String,
    /// The table as SQL names it.
    sql_name: String,
    columns: Vec<(String, PgType)>,
    /// Every column's name (for the FORCE options' errors).
    all_columns: Vec<String>,
}

/// Checks the columns a FORCE option (`option`, PostgreSQL's upper-case name) names: each must exist (42703) and
/// be one the COPY copies (42P10). `table`: the table's name and all its columns (None for a query).
fn check_forced(
    names: &[String],
    option: &str,
    copied: &[String],
    table: Option<(&str, &[String])>,
) -> Result<(), SqlError> {
    for wanted in names {
        if copied.iter().any(|c| c.eq_ignore_ascii_case(wanted)) {
            continue;
        }
        return Err(match table {
            Some((_, all)) if all.iter().any(|c| c.eq_ignore_ascii_case(wanted)) => {
                SqlError::error("42P10", format!("{option} column \"{wanted}\" not referenced by COPY"))
            }
            Some((name, _)) => {
                SqlError::error("42703", format!("column \"{wanted}\" of relation \"{name}\" does not exist"))
            }
            None => SqlError::error("42703", format!("column \"{wanted}\" does not exist")),
        });
    }
    Ok(())
}

/// Finds the table and its columns (`named`: the columns the statement lists).
fn resolve_table(
    engine: &mut dyn Engine,
    schema: Option<&str>,
    name: &str,
    named: Option<&[String]>,
    from: bool,
) -> Result<Table, SqlError> {
    let sqlite_name = match schema {
        None | Some("public") | Some("pg_catalog") => name.to_owned(),
        Some("information_schema") => format!("information_schema_{name}"),
        Some(other) => format!("{other}.{name}"),
    };
    let shown = match schema {
        Some(schema) => format!("{schema}.{name}"),
        None => name.to_owned(),
    };
    let missing = || SqlError::error("42P01", format!("relation \"{shown}\" does not exist"));
    let lower = sqlite_name.to_ascii_lowercase();
    if lower.starts_with("_pg_") || lower.starts_with("sqlite_") {
        return Err(missing());
    }
    let literal = format!("'{}'", sqlite_name.replace('\'', "''"));
    // PRAGMA table_list: schema, name, type (table, view, virtual, shadow), ...
    let list = query_rows(engine, &format!("PRAGMA table_list({literal})"))?;
    let kind = list
        .iter()
        .find(|row| matches!(row.first(), Some(Value::Text(s)) if s == "main" || s == "temp"))
        .map(|row| text_of(row.get(2)))
        .ok_or_else(missing)?;
    if kind == "view" {
        if from {
            return Err(SqlError::error("42809", format!("cannot copy to view \"{name}\""))
                .with_hint("To enable copying to a view, provide an INSTEAD OF INSERT trigger."));
        }
        let catalog = matches!(schema, Some("pg_catalog" | "information_schema"))
            || lower.starts_with("pg_")
            || lower.starts_with("information_schema_");
        if !catalog {
            return Err(SqlError::error("42809", format!("cannot copy from view \"{name}\""))
                .with_hint("Try the COPY (SELECT ...) TO variant."));
        }
    }
    // PRAGMA table_xinfo: cid, name, type, notnull, dflt_value, pk, hidden.
    let all: Vec<(String, PgType, i64)> = query_rows(engine, &format!("PRAGMA table_xinfo({literal})"))?
        .iter()
        .map(|row| {
            let ty = PgType::from_decltype(&text_of(row.get(2))).unwrap_or(PgType::Text);
            let hidden = match row.get(6) {
                Some(Value::Integer(h)) => *h,
                _ => 0,
            };
            (text_of(row.get(1)), ty, hidden)
        })
        .collect();
    let columns = match named {
        None => all.iter().filter(|c| c.2 == 0).map(|c| (c.0.clone(), c.1)).collect(),
        Some(named) => {
            let mut columns: Vec<(String, PgType)> = Vec::new();
            for wanted in named {
                let column = all.iter().find(|c| c.0.eq_ignore_ascii_case(wanted)).ok_or_else(|| {
                    SqlError::error("42703", format!("column \"{wanted}\" of relation \"{name}\" does not exist"))
                })?;
                if columns.iter().any(|c| c.0 == column.0) {
                    return Err(SqlError::error("42701", format!("column \"{wanted}\" specified more than once")));
                }
                if column.2 != 0 {
                    return Err(SqlError::error("42P10", format!("column \"{wanted}\" is a generated column"))
                        .with_detail("Generated columns cannot be used in COPY."));
                }
                columns.push((column.0.clone(), column.1));
            }
            columns
        }
    };
    let sql_name = match schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
        None => quote_ident(name),
    };
    let all_columns = all.into_iter().map(|c| c.0).collect();
    Ok(Table { name: name.to_owned(), sql_name, columns, all_columns })
}

/// Where a COPY FROM's data is read.
enum Reader {
    Text(text::LineReader),
    Binary(binary::BinaryReader),
}

/// A COPY FROM STDIN between its CopyInResponse and the end of its data.
pub(super) struct CopyIn {
    table: String,
    insert: Statement,
    columns: Vec<(String, PgType)>,
    options: CopyOptions,
    /// Per column: FORCE_NOT_NULL, FORCE_NULL (CSV).
    force_not_null: Vec<bool>,
    force_null: Vec<bool>,
    reader: Reader,
    /// The line (record, or tuple in binary format) last read, from 1.
    line: u64,
    rows: u64,
    /// Whether the COPY runs in a transaction of its own (it was outside a block).
    own_transaction: bool,
    /// Simple protocol: the rest of the query string, to run after the COPY; None in the extended protocol.
    rest: Option<String>,
    header_pending: bool,
    /// The end-of-data line `\.` came: the rest of the data is ignored.
    ended: bool,
}

impl CopyIn {
    fn start(
        engine: &mut dyn Engine,
        statement: &CopyStatement,
        options: CopyOptions,
        rest: Option<String>,
    ) -> Result<CopyIn, SqlError> {
        let Relation::Table { schema, name, columns } = &statement.relation else {
            return Err(SqlError::error("42601", "syntax error at or near \"FROM\""));
        };
        let table = resolve_table(engine, schema.as_deref(), name, columns.as_deref(), true)?;
        let copied: Vec<String> = table.columns.iter().map(|c| c.0.clone()).collect();
        let flags = |names: &[String], option: &str| -> Result<Vec<bool>, SqlError> {
            check_forced(names, option, &copied, Some((&table.name, &table.all_columns)))?;
            Ok(copied.iter().map(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c))).collect())
        };
        let force_not_null = flags(&options.force_not_null, "FORCE_NOT_NULL")?;
        let force_null = flags(&options.force_null, "FORCE_NULL")?;
        let insert_sql = if table.columns.is_empty() {
            format!("INSERT INTO {} DEFAULT VALUES", table.sql_name)
        } else {
            let names: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.0)).collect();
            let params: Vec<String> = (1..=table.columns.len()).map(|n| format!("${n}")).collect();
            format!("INSERT INTO {} ({}) VALUES ({})", table.sql_name, names.join(", "), params.join(", "))
        };
        let insert = engine
            .prepare(&insert_sql)?
            .map(|(statement, _)| statement)
            .ok_or_else(|| SqlError::error("XX000", "COPY could not prepare its INSERT"))?;
        let own_transaction = engine.tx_state() == TxState::Idle;
        if own_transaction {
            engine.begin()?;
        }
        let reader = match options.format {
            Format::Binary => Reader::Binary(binary::BinaryReader::default()),
            _ => Reader::Text(text::LineReader::new(&options)),
        };
        Ok(CopyIn {
            table: table.name,
            insert,
            columns: table.columns,
            header_pending: options.header != Header::No,
            options,
            force_not_null,
            force_null,
            reader,
            line: 0,
            rows: 0,
            own_transaction,
            rest,
            ended: false,
        })
    }

    /// Takes a CopyData message's bytes and inserts the rows now whole.
    fn feed(&mut self, engine: &mut dyn Engine, data: &[u8]) -> Result<(), SqlError> {
        if self.ended && matches!(self.reader, Reader::Text(_)) {
            // After `\.` the rest of the data is ignored, as PostgreSQL does (binary data after the trailer is an
            // error, which the reader reports).
            return Ok(());
        }
        match &mut self.reader {
            Reader::Text(reader) => reader.push(data),
            Reader::Binary(reader) => reader.push(data).map_err(|e| self.at_line(e, self.line))?,
        }
        self.drain(engine, false)
    }

    /// CopyDone: the last rows, then the commit of the COPY's own transaction; the row count.
    fn finish(&mut self, engine: &mut dyn Engine) -> Result<u64, SqlError> {
        self.drain(engine, true)?;
        if self.own_transaction {
            engine.commit()?;
            self.own_transaction = false;
        }
        Ok(self.rows)
    }

    /// The COPY failed: its own transaction is rolled back, or the block it runs in fails.
    fn abort(&mut self, engine: &mut dyn Engine) {
        if self.own_transaction {
            self.own_transaction = false;
            let _ = engine.rollback();
        } else if engine.tx_state() == TxState::InBlock {
            engine.fail_transaction();
        }
    }

    fn at_line(&self, err: SqlError, line: u64) -> SqlError {
        if line == 0 {
            return err;
        }
        err.with_context(format!("COPY {}, line {line}", self.table))
    }

    /// Inserts every row the data read so far holds (all of it at `eof`).
    fn drain(&mut self, engine: &mut dyn Engine, eof: bool) -> Result<(), SqlError> {
        while !self.ended {
            match &mut self.reader {
                Reader::Text(reader) => {
                    let Some(record) = reader.next_record(eof) else { return Ok(()) };
                    self.line += 1;
                    self.text_record(engine, &record)?;
                }
                Reader::Binary(reader) => {
                    let next = reader.next(self.columns.len(), eof);
                    let header_read = reader.header_read();
                    match next {
                        Ok(binary::Next::Tuple(fields)) => {
                            self.line += 1;
                            self.binary_tuple(engine, fields)?;
                        }
                        Ok(binary::Next::More) => return Ok(()),
                        Ok(binary::Next::End) => self.ended = true,
                        Err(err) => {
                            // A bad header is before any line; a bad tuple is the next line.
                            let line = if header_read { self.line + 1 } else { 0 };
                            return Err(self.at_line(err, line));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One text or CSV record.
    fn text_record(&mut self, engine: &mut dyn Engine, record: &[u8]) -> Result<(), SqlError> {
        if record == b"\\." {
            self.ended = true;
            return Ok(());
        }
        let shown = String::from_utf8_lossy(record).into_owned();
        let context = format!("COPY {}, line {}: \"{}\"", self.table, self.line, clip(&shown));
        let with_line = |err: SqlError| err.with_context(context.clone());
        if self.options.format == Format::Text && record.starts_with(b"\\.") {
            return Err(with_line(SqlError::error("22P04", "end-of-copy marker corrupt")));
        }
        let csv = self.options.format == Format::Csv;
        // Each field as bytes (None: NULL).
        let fields: Vec<Option<Vec<u8>>> = if csv {
            let null = self.options.null.as_bytes();
            text::split_csv(record, &self.options)
                .map_err(with_line)?
                .into_iter()
                .enumerate()
                .map(|(i, field)| {
                    let matches_null = field.value == null;
                    let is_null = if field.quoted {
                        matches_null && self.force_null.get(i).copied().unwrap_or(false)
                    } else {
                        matches_null && !self.force_not_null.get(i).copied().unwrap_or(false)
                    };
                    (!is_null).then_some(field.value)
                })
                .collect()
        } else {
            text::split_text(record, self.options.delimiter, self.options.null.as_bytes())
        };
        if self.header_pending {
            self.header_pending = false;
            if self.options.header == Header::Match {
                self.match_header(&fields).map_err(with_line)?;
            }
            return Ok(());
        }
        if fields.len() > self.columns.len() && !self.columns.is_empty() {
            return Err(with_line(SqlError::error("22P04", "extra data after last expected column")));
        }
        let mut values = Vec::with_capacity(self.columns.len());
        for (i, (name, ty)) in self.columns.iter().enumerate() {
            let Some(field) = fields.get(i) else {
                return Err(with_line(SqlError::error("22P04", format!("missing data for column \"{name}\""))));
            };
            let value = match field {
                None => Value::Null,
                Some(bytes) => decode_param(Some(bytes), ty.oid(), false, i + 1).map_err(|err| {
                    let value = clip(&String::from_utf8_lossy(bytes));
                    err.with_context(format!("COPY {}, line {}, column {name}: \"{value}\"", self.table, self.line))
                })?,
            };
            values.push(value);
        }
        self.insert_row(engine, &values).map_err(|err| {
            if err.code == "23505" {
                // PostgreSQL finds a duplicate key after the line is gone: its CONTEXT has no text.
                self.at_line(err, self.line)
            } else {
                with_line(err)
            }
        })
    }

    /// HEADER MATCH: the header line must name the columns, in order.
    fn match_header(&self, fields: &[Option<Vec<u8>>]) -> Result<(), SqlError> {
        if fields.len() != self.columns.len() {
            return Err(SqlError::error(
                "22P04",
                format!("wrong number of fields in header line: got {}, expected {}", fields.len(), self.columns.len()),
            ));
        }
        for (i, (field, (name, _))) in fields.iter().zip(&self.columns).enumerate() {
            match field {
                None => {
                    return Err(SqlError::error(
                        "22P04",
                        format!(
                        "column name mismatch in header line field {}: got null value (\"{}\"), expected \"{name}\"",
                        i + 1,
                        self.options.null
                    ),
                    ))
                }
                Some(bytes) if bytes != name.as_bytes() => {
                    return Err(SqlError::error(
                        "22P04",
                        format!(
                            "column name mismatch in header line field {}: got \"{}\", expected \"{name}\"",
                            i + 1,
                            String::from_utf8_lossy(bytes)
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// One binary tuple.
    fn binary_tuple(&mut self, engine: &mut dyn Engine, fields: Vec<Option<Vec<u8>>>) -> Result<(), SqlError> {
        let mut values = Vec::with_capacity(fields.len());
        for (i, (field, (name, ty))) in fields.iter().zip(&self.columns).enumerate() {
            let value = decode_param(field.as_deref(), ty.oid(), true, i + 1).map_err(|err| {
                let err =
                    if err.code == "22P03" { SqlError::error("22P03", "incorrect binary data format") } else { err };
                err.with_context(format!("COPY {}, line {}, column {name}", self.table, self.line))
            })?;
            values.push(value);
        }
        self.insert_row(engine, &values).map_err(|err| self.at_line(err, self.line))
    }

    fn insert_row(&mut self, engine: &mut dyn Engine, values: &[Value]) -> Result<(), SqlError> {
        engine.execute(&self.insert, values, &mut |_| ControlFlow::Continue(()))?;
        self.rows += 1;
        Ok(())
    }
}

/// COPY TO STDOUT: runs the query and sends its rows; how many it sent.
fn copy_to(
    engine: &mut dyn Engine,
    statement: &CopyStatement,
    options: &CopyOptions,
    output: &mut Output<'_>,
) -> Result<u64, SqlError> {
    let mut table_columns = None;
    let (query, mut types) = match &statement.relation {
        Relation::Table { schema, name, columns } => {
            let table = resolve_table(engine, schema.as_deref(), name, columns.as_deref(), false)?;
            table_columns = Some((table.name.clone(), table.all_columns.clone()));
            let names: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.0)).collect();
            let sql = format!("SELECT {} FROM {}", names.join(", "), table.sql_name);
            let prepared = engine.prepare(&sql)?.map(|(s, _)| s);
            (prepared, table.columns.iter().map(|c| (c.0.clone(), Some(c.1))).collect::<Vec<_>>())
        }
        Relation::Query(sql) => {
            let prepared = match engine.prepare(sql)? {
                Some((s, rest)) if is_blank(rest) => Some(s),
                Some(_) => return Err(SqlError::error("42601", "syntax error at or near \";\"")),
                None => None,
            };
            let types = prepared
                .as_ref()
                .map(|s| s.columns.iter().map(|c| (c.name.clone(), c.ty)).collect())
                .unwrap_or_default();
            (prepared, types)
        }
    };
    let Some(query) = query else {
        return Err(SqlError::error("42601", "syntax error at end of input"));
    };
    if query.columns.is_empty() {
        return Err(SqlError::error("0A000", "COPY query must have a RETURNING clause"));
    }
    if let ForceQuote::Columns(names) = &options.force_quote {
        let copied: Vec<String> = types.iter().map(|c| c.0.clone()).collect();
        let table = table_columns.as_ref().map(|(name, all)| (name.as_str(), &all[..]));
        check_forced(names, "FORCE_QUOTE", &copied, table)?;
    }
    let force: Vec<bool> = types
        .iter()
        .map(|(name, _)| match &options.force_quote {
            ForceQuote::No => false,
            ForceQuote::All => true,
            ForceQuote::Columns(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        })
        .collect();
    let binary = options.format == Format::Binary;
    let width = types.len();
    output.push(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
        binary.into(),
        width as i16,
        vec![binary.into(); width],
    )));
    let data = |bytes: Vec<u8>| PgWireBackendMessage::CopyData(CopyData::new(bytes.into()));
    // The binary header goes out with the first tuple (or the trailer), as PostgreSQL sends it: clients such as
    // psycopg read it from the first CopyData.
    let mut prefix = if binary { binary::header() } else { Vec::new() };
    if options.header == Header::Yes {
        let mut line = Vec::new();
        for (i, (name, _)) in types.iter().enumerate() {
            if i > 0 {
                line.push(options.delimiter);
            }
            match options.format {
                Format::Csv => text::csv_field(&mut line, name, options, false, width == 1),
                _ => text::text_field(&mut line, name, options.delimiter),
            }
        }
        line.push(b'\n');
        output.push(data(line));
    }
    let mut encoder = RowEncoder::new();
    let mut wire_columns: Option<Vec<WireColumn>> = None;
    let mut error = None;
    let mut sent = 0u64;
    let done = engine.execute(&query, &[], &mut |row| {
        if error.is_some() {
            return ControlFlow::Continue(());
        }
        // A column nothing typed takes the type of its first value.
        for ((_, ty), value) in types.iter_mut().zip(&row) {
            if ty.is_none() && *value != Value::Null {
                *ty = Some(type_from_values(std::iter::once(value)));
            }
        }
        let line = if binary {
            let columns = wire_columns.get_or_insert_with(|| {
                types
                    .iter()
                    .map(|(name, ty)| WireColumn {
                        name: name.clone(),
                        ty: ty.unwrap_or(PgType::Text),
                        format: FieldFormat::Binary,
                        origin: (0, 0),
                    })
                    .collect()
            });
            encoder.encode(&row, columns).map(|encoded| {
                let mut tuple = std::mem::take(&mut prefix);
                tuple.extend_from_slice(&encoded.field_count.to_be_bytes());
                tuple.extend_from_slice(&encoded.data);
                tuple
            })
        } else {
            let mut line = Vec::new();
            for (i, (value, (_, ty))) in row.iter().zip(&types).enumerate() {
                if i > 0 {
                    line.push(options.delimiter);
                }
                match text_output(value, ty.unwrap_or(PgType::Text)) {
                    None => line.extend_from_slice(options.null.as_bytes()),
                    Some(text) if options.format == Format::Csv => {
                        text::csv_field(&mut line, &text, options, force[i], width == 1)
                    }
                    Some(text) => text::text_field(&mut line, &text, options.delimiter),
                }
            }
            line.push(b'\n');
            Ok(line)
        };
        match line {
            Ok(line) => {
                output.push(data(line));
                sent += 1;
            }
            Err(err) => {
                // Ends the statement at SQLite's next interrupt check.
                crate::process::interrupts::fail_statement(err.clone());
                error = Some(err);
            }
        }
        ControlFlow::Continue(())
    });
    let late = crate::process::interrupts::take_statement_error();
    done?;
    if let Some(err) = error.or(late) {
        return Err(err);
    }
    if binary {
        prefix.extend(binary::trailer());
        output.push(data(prefix));
    }
    output.push(PgWireBackendMessage::CopyDone(CopyDone::new()));
    Ok(sent)
}
