//! The extended query protocol: Parse, Bind, Describe, Execute, Close and Sync on the [`Session`], with its
//! prepared statements and portals. After an error every message up to the next Sync is ignored, as PostgreSQL
//! does; portals live until the end of their transaction.
//!
//! Runs in: a backend process.

use std::ops::ControlFlow;
use std::rc::Rc;

use pgwire::api::results::FieldFormat;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete, PortalSuspended,
    TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::PgWireBackendMessage;

use crate::sql::lexer::is_blank;
use crate::sql::{Statement, TxState};

use super::host::SqlError;
use super::portal::{Portal, PortalState, Prepared};
use super::session::{row_bytes, Session};
use super::types::{
    decode_param, described_param_oid, param_oid, row_description, PgType, RowEncoder, Value, WireColumn,
};

impl Session {
    /// Runs an extended-protocol step unless an earlier error is waiting for Sync; an error starts the wait.
    pub(super) fn extended(&mut self, step: impl FnOnce(&mut Self) -> Result<(), SqlError>) {
        if self.skip_until_sync {
            return;
        }
        if let Err(err) = step(self) {
            self.error(err);
            self.skip_until_sync = true;
        }
    }

    pub(super) fn parse(&mut self, parse: Parse) -> Result<(), SqlError> {
        let name = parse.name.unwrap_or_default();
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(SqlError::error("42P05", format!("prepared statement \"{name}\" already exists")));
        }
        // C functions another session created or dropped since (see super::extension::registry).
        super::extension::before_statement(&*self.engine);
        let statement = if crate::sql::utility::is_prepared_command(&parse.query) {
            // SQL-level PREPARE / EXECUTE / DEALLOCATE: run by the session at Execute.
            Some(self.parse_prepared_command(&parse.query)?)
        } else if super::extension::is_extension_statement(&parse.query) {
            // Run by the session at Execute (see super::extension).
            Some(super::extension::parsed_statement(&parse.query)?)
        } else {
            let prepared = super::copy::prepare(&parse.query).unwrap_or_else(|| self.engine.prepare(&parse.query));
            match prepared? {
                None => None,
                Some((statement, rest)) => {
                    if !is_blank(rest) {
                        return Err(SqlError::error(
                            "42601",
                            "cannot insert multiple commands into a prepared statement",
                        ));
                    }
                    Some(statement)
                }
            }
        };
        let count = statement.as_ref().map_or(0, |s| s.param_count).max(parse.type_oids.len());
        let param_oids = (0..count).map(|i| parse.type_oids.get(i).copied().unwrap_or(0)).collect();
        self.statements.insert(name, Rc::new(Prepared { statement, param_oids, text: parse.query }));
        self.out.push(PgWireBackendMessage::ParseComplete(ParseComplete::new()));
        Ok(())
    }

    pub(super) fn bind(&mut self, bind: Bind) -> Result<(), SqlError> {
        let statement_name = bind.statement_name.unwrap_or_default();
        let portal_name = bind.portal_name.unwrap_or_default();
        let prepared = self.statements.get(&statement_name).cloned().ok_or_else(|| {
            SqlError::error("26000", format!("prepared statement \"{statement_name}\" does not exist"))
        })?;
        if !portal_name.is_empty() && self.portals.contains_key(&portal_name) {
            return Err(SqlError::error("42P03", format!("portal \"{portal_name}\" already exists")));
        }
        let expected = prepared.param_oids.len();
        if bind.parameters.len() != expected {
            return Err(SqlError::error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires \
                     {expected}",
                    bind.parameters.len()
                ),
            ));
        }
        let param_binary = formats(&bind.parameter_format_codes, expected, "parameter")?;
        let statement_types = prepared.statement.as_ref().map_or(&[][..], |s| &s.param_types[..]);
        let params = bind
            .parameters
            .iter()
            .zip(&prepared.param_oids)
            .zip(param_binary)
            .enumerate()
            .map(|(i, ((raw, &oid), format))| {
                let oid = param_oid(oid, statement_types.get(i).copied().flatten());
                decode_param(raw.as_deref(), oid, format == FieldFormat::Binary, i + 1)
            })
            .collect::<Result<Vec<Value>, SqlError>>()?;
        let statement_columns = prepared.statement.as_ref().map_or(&[][..], |s| &s.columns[..]);
        let origins = prepared.statement.as_ref().map_or(&[][..], |s| &s.column_origins[..]);
        let result_formats = formats(&bind.result_column_format_codes, statement_columns.len(), "result")?;
        let columns = statement_columns
            .iter()
            .zip(result_formats)
            .enumerate()
            .map(|(i, (column, format))| WireColumn {
                name: column.name.clone(),
                ty: column.ty.unwrap_or(PgType::Text),
                format,
                origin: origins.get(i).copied().flatten().unwrap_or((0, 0)),
            })
            .collect();
        self.portals.insert(portal_name, Portal { prepared, params, columns, state: PortalState::Ready });
        self.out.push(PgWireBackendMessage::BindComplete(BindComplete::new()));
        Ok(())
    }

    pub(super) fn describe(&mut self, describe: Describe) -> Result<(), SqlError> {
        let name = describe.name.unwrap_or_default();
        match describe.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let prepared = self
                    .statements
                    .get(&name)
                    .ok_or_else(|| SqlError::error("26000", format!("prepared statement \"{name}\" does not exist")))?;
                let statement_types = prepared.statement.as_ref().map_or(&[][..], |s| &s.param_types[..]);
                let types = prepared
                    .param_oids
                    .iter()
                    .enumerate()
                    .map(|(i, &oid)| described_param_oid(oid, statement_types.get(i).copied().flatten()))
                    .collect();
                let columns: Vec<WireColumn> = prepared.statement.as_ref().map_or_else(Vec::new, |s| {
                    s.columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| WireColumn {
                            name: c.name.clone(),
                            ty: c.ty.unwrap_or(PgType::Text),
                            format: FieldFormat::Text,
                            origin: s.column_origins.get(i).copied().flatten().unwrap_or((0, 0)),
                        })
                        .collect()
                });
                let has_rows = prepared.statement.as_ref().is_some_and(|s| !s.columns.is_empty());
                self.out.push(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(types)));
                self.describe_rows(has_rows, &columns);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let portal = self
                    .portals
                    .get(&name)
                    .ok_or_else(|| SqlError::error("34000", format!("portal \"{name}\" does not exist")))?;
                let columns = portal.columns.clone();
                let has_rows = portal.prepared.statement.as_ref().is_some_and(|s| !s.columns.is_empty());
                self.describe_rows(has_rows, &columns);
            }
            other => return Err(SqlError::error("08P01", format!("invalid DESCRIBE message subtype {other}"))),
        }
        Ok(())
    }

    fn describe_rows(&mut self, has_rows: bool, columns: &[WireColumn]) {
        self.out.push(if has_rows {
            PgWireBackendMessage::RowDescription(row_description(columns))
        } else {
            PgWireBackendMessage::NoData(NoData::new())
        });
    }

    pub(super) fn execute(&mut self, execute: Execute) -> Result<(), SqlError> {
        let name = execute.name.unwrap_or_default();
        let mut portal = self
            .portals
            .remove(&name)
            .ok_or_else(|| SqlError::error("34000", format!("portal \"{name}\" does not exist")))?;
        let result = self.execute_portal(&mut portal, execute.max_rows);
        self.portals.insert(name, portal);
        result
    }

    fn execute_portal(&mut self, portal: &mut Portal, max_rows: i32) -> Result<(), SqlError> {
        let limit = if max_rows > 0 { max_rows as usize } else { usize::MAX };
        if let PortalState::Ready = portal.state {
            let Some(statement) = portal.prepared.statement.clone() else {
                self.out.push(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()));
                return Ok(());
            };
            if super::copy::is_copy_statement(&statement) {
                portal.state = PortalState::Done;
                return self.copy_portal(&statement.sql);
            }
            if super::extension::is_extension_kind(&statement) {
                portal.state = PortalState::Done;
                let host = self.host.clone();
                let text = portal.prepared.text.clone();
                let tag =
                    self.run_statement(&text, |engine, _| super::extension::run(&*host, engine, &statement.sql))?;
                self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                return Ok(());
            }
            let execute = self.portal_execute(&statement);
            if execute.is_none() && super::prepare::is_prepared_command_statement(&statement) {
                let columns = portal.columns.clone();
                let (tag, _) = self.prepared_command(&statement.sql, &statement.sql, Some(&columns))?;
                self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                portal.state = PortalState::Done;
                return Ok(());
            }
            let params = std::mem::take(&mut portal.params);
            let columns = portal.columns.clone();
            let host = self.host.clone();
            // The first `limit` rows are sent as they come; a row-limited Execute keeps the rest for the next one.
            // pg_stat_activity shows the client's text, as PostgreSQL's does, not its translation.
            let text = portal.prepared.text.clone();
            let executed = self.run_statement(&text, |engine, output| {
                // `EXECUTE name (arguments)`: its prepared statement runs, with the portal's row limit.
                let resolved;
                let (statement, params): (&Statement, &[Value]) = match &execute {
                    None => (&statement, &params),
                    Some(execute) => match execute.resolve(engine, columns.len())? {
                        Some(found) => {
                            resolved = found;
                            (&resolved.0, &resolved.1)
                        }
                        None => return Ok((String::new(), Vec::new())),
                    },
                };
                let (mut sent, mut kept, mut kept_bytes, mut error) = (0usize, Vec::new(), 0usize, None);
                let mut encoder = RowEncoder::new();
                let cap = memory_limit_bytes();
                let done = engine.execute(statement, params, &mut |row| {
                    if error.is_some() {
                        // The statement is ending with that error; the rows it still reads are dropped.
                        return ControlFlow::Continue(());
                    }
                    if sent < limit {
                        match encoder.encode(&row, &columns) {
                            Ok(data) => output.push(PgWireBackendMessage::DataRow(data)),
                            Err(err) => error = Some(err),
                        }
                        sent += 1;
                    } else {
                        kept_bytes += row_bytes(&row);
                        if cap.is_some_and(|cap| kept_bytes > cap) {
                            error = Some(SqlError::error("53200", "out of memory").with_detail(
                                "The rows a row-limited Execute keeps for later exceed backend_memory_limit.",
                            ));
                            kept = Vec::new();
                        } else {
                            kept.push(row);
                        }
                    }
                    if let Some(err) = &error {
                        // Ends the statement at SQLite's next interrupt check, undoing what it wrote.
                        crate::process::interrupts::fail_statement(err.clone());
                    }
                    ControlFlow::Continue(())
                });
                let late = crate::process::interrupts::take_statement_error();
                let ran = super::settings::statement_ran(&*host, statement, engine.tx_state(), done.is_ok());
                let done = done?;
                if let Err(err) = ran {
                    if engine.tx_state() == TxState::InBlock {
                        engine.fail_transaction();
                    }
                    return Err(err);
                }
                match error.or(late) {
                    Some(err) => Err(err),
                    None => Ok((done.tag, kept)),
                }
            });
            portal.params = params;
            let (tag, kept) = executed?;
            let has_rows = !statement.columns.is_empty();
            if !has_rows || kept.is_empty() {
                self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                portal.state = PortalState::Done;
            } else {
                self.out.push(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()));
                portal.state = PortalState::Suspended { rows: kept.into_iter(), tag };
            }
            return Ok(());
        }
        match std::mem::replace(&mut portal.state, PortalState::Done) {
            PortalState::Suspended { mut rows, tag } => {
                let limit = if max_rows > 0 { max_rows as usize } else { usize::MAX };
                let batch: Vec<Vec<Value>> = rows.by_ref().take(limit).collect();
                let sent = self.send_rows(batch.iter(), &portal.columns)?;
                if rows.len() > 0 {
                    self.out.push(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()));
                    portal.state = PortalState::Suspended { rows, tag };
                } else {
                    let tag = if tag.starts_with("SELECT ") { format!("SELECT {sent}") } else { tag };
                    self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                }
            }
            PortalState::Done | PortalState::Ready => {}
        }
        Ok(())
    }

    pub(super) fn close(&mut self, close: Close) -> Result<(), SqlError> {
        let name = close.name.unwrap_or_default();
        match close.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                self.statements.remove(&name);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                self.portals.remove(&name);
            }
            other => return Err(SqlError::error("08P01", format!("invalid CLOSE message subtype {other}"))),
        }
        self.out.push(PgWireBackendMessage::CloseComplete(CloseComplete::new()));
        Ok(())
    }

    pub(super) fn sync(&mut self) {
        self.skip_until_sync = false;
        if self.engine.tx_state() == TxState::Idle {
            // Portals live until the end of their transaction; outside a block that is now.
            self.portals.clear();
        }
        self.ready();
    }
}

/// `backend_memory_limit` in bytes (None: no limit).
fn memory_limit_bytes() -> Option<usize> {
    let kb = crate::process::setting_int("backend_memory_limit");
    (kb > 0).then(|| (kb as usize).saturating_mul(1024))
}

/// Which formats `codes` (from Bind) give `count` values: none means all text, one applies to all.
fn formats(codes: &[i16], count: usize, what: &str) -> Result<Vec<FieldFormat>, SqlError> {
    let format = |code: i16| match code {
        0 => Ok(FieldFormat::Text),
        1 => Ok(FieldFormat::Binary),
        other => Err(SqlError::error("08P01", format!("unsupported format code: {other}"))),
    };
    match codes {
        [] => Ok(vec![FieldFormat::Text; count]),
        [code] => Ok(vec![format(*code)?; count]),
        codes if codes.len() == count => codes.iter().map(|&c| format(c)).collect(),
        codes => Err(SqlError::error(
            "08P01",
            format!("bind message has {} {what} formats but {count} {what}s", codes.len()),
        )),
    }
}
