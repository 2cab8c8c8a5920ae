//! SQL-level prepared statements: `PREPARE name [(types)] AS statement`, `EXECUTE name [(arguments)]` and
//! `DEALLOCATE [PREPARE] {name | ALL}`, in the same namespace as the extended protocol's named statements (as in
//! PostgreSQL: psycopg 3 and pgjdbc prepare with Parse and may drop them with `DEALLOCATE`).
//!
//! `EXECUTE`'s arguments are expressions: they are evaluated by the session's engine (one `SELECT` of them), each
//! converted to its parameter's type through the text form, as a Bind in text format would be, and the prepared
//! statement then runs with them, its rows and command tag being `EXECUTE`'s. Both protocols run these commands:
//! the simple one directly, the extended one from a Parse that keeps the command's text (its Execute runs
//! `PREPARE` and `DEALLOCATE` here; an `EXECUTE` is described with its statement's columns and runs as its
//! portal, row limit included, through [`PortalExecute`]).
//!
//! Runs in: a backend process.

use std::rc::Rc;

use crate::sql::lexer::is_blank;
use crate::sql::types::PgType;
use crate::sql::utility::{prepared_command, split_arguments, type_without_modifier, PreparedCommand};
use crate::sql::{Engine, Kind, Statement, TxState};

use super::host::SqlError;
use super::portal::Prepared;
use super::session::{run_streaming, Session};
use super::types::{decode_param, Value, WireColumn};

/// The kinds the statements of these commands are kept with (for the extended protocol).
const KINDS: [&str; 3] = ["PREPARE", "EXECUTE", "DEALLOCATE"];

/// Whether `statement` is one of these commands, kept by [`Session::parse_prepared_command`].
pub(super) fn is_prepared_command_statement(statement: &Statement) -> bool {
    matches!(&statement.kind, Kind::Other(tag) if KINDS.contains(&tag.as_str()))
}

fn does_not_exist(name: &str) -> SqlError {
    SqlError::error("26000", format!("prepared statement \"{name}\" does not exist"))
}

impl Session {
    /// The statement a Parse of one of these commands keeps (its text, for Execute); an `EXECUTE` gets its
    /// prepared statement's columns, for Describe.
    pub(super) fn parse_prepared_command(&self, query: &str) -> Result<Statement, SqlError> {
        let (command, len) = prepared_command(query).ok_or_else(|| crate::sql::session::syntax_error(query))?;
        if !is_blank(&query[len.min(query.len())..]) {
            return Err(SqlError::error("42601", "cannot insert multiple commands into a prepared statement"));
        }
        let text = query[..len].trim_end().trim_end_matches(';').trim();
        let word = match &command {
            PreparedCommand::Prepare { .. } => "PREPARE",
            PreparedCommand::Execute { .. } => "EXECUTE",
            PreparedCommand::Deallocate(_) => "DEALLOCATE",
        };
        let mut statement = Statement::bare(text, Kind::Other(word.to_string()));
        if let PreparedCommand::Execute { name, .. } = &command {
            if let Some(target) = self.statements.get(name).and_then(|p| p.statement.as_ref()) {
                statement.columns = target.columns.clone();
            }
        }
        Ok(statement)
    }

    /// Runs the `PREPARE` / `EXECUTE` / `DEALLOCATE` at the start of `text` as one statement of `query`: its command
    /// tag and how many bytes of `text` it took. `EXECUTE`'s rows go out as the simple protocol sends rows
    /// (`columns` None) or with a portal's columns.
    pub(super) fn prepared_command(
        &mut self,
        query: &str,
        text: &str,
        columns: Option<&[WireColumn]>,
    ) -> Result<(String, usize), SqlError> {
        let parsed = prepared_command(text);
        let result = match parsed.clone() {
            None => {
                let first = crate::sql::lexer::first_statement_len(text).map_or(text, |end| &text[..end]);
                self.run_statement(query, |_, _| Err(crate::sql::session::syntax_error(first)))
            }
            Some((command, _)) => self.run_prepared(query, command, columns),
        };
        if result.is_err() && self.engine.tx_state() == TxState::InBlock {
            // An error of the session's own fails the block, as any error does.
            self.engine.fail_transaction();
        }
        let tag = result?;
        Ok((tag, parsed.map_or(text.len(), |(_, len)| len)))
    }

    fn run_prepared(
        &mut self,
        query: &str,
        command: PreparedCommand,
        columns: Option<&[WireColumn]>,
    ) -> Result<String, SqlError> {
        let aborted = self.engine.tx_state() == TxState::Failed;
        match command {
            PreparedCommand::Prepare { name, types, statement } => {
                let exists = self.statements.contains_key(&name);
                let prepared = self.run_statement(query, |engine, _| {
                    if aborted {
                        return Err(crate::sql::txn::aborted());
                    }
                    if exists {
                        return Err(SqlError::error("42P05", format!("prepared statement \"{name}\" already exists")));
                    }
                    prepare(engine, &statement, &types)
                })?;
                self.statements.insert(name, Rc::new(prepared));
                Ok("PREPARE".into())
            }
            PreparedCommand::Deallocate(name) => {
                let exists = name.as_ref().is_none_or(|n| self.statements.contains_key(n));
                self.run_statement(query, |_, _| match (&name, aborted, exists) {
                    (_, true, _) => Err(crate::sql::txn::aborted()),
                    (Some(name), _, false) => Err(does_not_exist(name)),
                    _ => Ok(()),
                })?;
                match name {
                    Some(name) => {
                        self.statements.remove(&name);
                        Ok("DEALLOCATE".into())
                    }
                    None => {
                        // Every named statement; the unnamed one is not a prepared statement of this namespace.
                        self.statements.retain(|n, _| n.is_empty());
                        Ok("DEALLOCATE ALL".into())
                    }
                }
            }
            PreparedCommand::Execute { name, args } => {
                let prepared = self.statements.get(&name).cloned();
                let host = self.host.clone();
                self.run_statement(query, |engine, output| {
                    if aborted {
                        return Err(crate::sql::txn::aborted());
                    }
                    let prepared = prepared.ok_or_else(|| does_not_exist(&name))?;
                    let params = arguments(engine, &prepared, &name, args.as_deref())?;
                    let Some(statement) = prepared.statement.as_ref() else {
                        return Ok(String::new());
                    };
                    run_streaming(&*host, engine, statement, &params, output, columns)
                })
            }
        }
    }
}

/// An `EXECUTE` kept by a Parse, to run through a portal (with its row limit): its name, arguments, and the
/// prepared statement of that name now (None: there is none).
pub(super) struct PortalExecute {
    name: String,
    args: Option<String>,
    target: Option<Rc<Prepared>>,
}

impl Session {
    /// The `EXECUTE` `statement` holds, if it is one kept by [`Session::parse_prepared_command`].
    pub(super) fn portal_execute(&self, statement: &Statement) -> Option<PortalExecute> {
        if statement.kind != Kind::Other("EXECUTE".into()) {
            return None;
        }
        match prepared_command(&statement.sql) {
            Some((PreparedCommand::Execute { name, args }, _)) => {
                let target = self.statements.get(&name).cloned();
                Some(PortalExecute { name, args, target })
            }
            _ => None,
        }
    }
}

impl PortalExecute {
    /// The statement to run and its parameters (PostgreSQL's errors as for a simple `EXECUTE`; one of its own
    /// fails an open block); `width` is how many columns the portal was described with.
    pub(super) fn resolve(
        &self,
        engine: &mut dyn Engine,
        width: usize,
    ) -> Result<Option<(Statement, Vec<Value>)>, SqlError> {
        let result = (|| {
            if engine.tx_state() == TxState::Failed {
                return Err(crate::sql::txn::aborted());
            }
            let target = self.target.as_ref().ok_or_else(|| does_not_exist(&self.name))?;
            let params = arguments(engine, target, &self.name, self.args.as_deref())?;
            let Some(statement) = target.statement.clone() else { return Ok(None) };
            if statement.columns.len() != width {
                return Err(SqlError::error("0A000", "cached plan must not change result type"));
            }
            Ok(Some((statement, params)))
        })();
        if result.is_err() && engine.tx_state() == TxState::InBlock {
            engine.fail_transaction();
        }
        result
    }
}

/// `PREPARE`'s statement analysed, with its parameter types: those written, else what the statement tells.
fn prepare(engine: &mut dyn Engine, text: &str, types: &[String]) -> Result<Prepared, SqlError> {
    let declared = types
        .iter()
        .map(|t| {
            PgType::from_name(&type_without_modifier(t))
                .map(PgType::oid)
                .ok_or_else(|| SqlError::error("42704", format!("type \"{t}\" does not exist")))
        })
        .collect::<Result<Vec<u32>, SqlError>>()?;
    let statement = match engine.prepare(text)? {
        None => None,
        Some((statement, rest)) => {
            if !is_blank(rest) {
                return Err(SqlError::error("42601", "cannot insert multiple commands into a prepared statement"));
            }
            Some(statement)
        }
    };
    let count = statement.as_ref().map_or(0, |s| s.param_count).max(declared.len());
    let param_oids = (0..count)
        .map(|i| {
            declared.get(i).copied().unwrap_or_else(|| {
                statement.as_ref().and_then(|s| s.param_types.get(i).copied().flatten()).map_or(0, PgType::oid)
            })
        })
        .collect();
    Ok(Prepared { statement, param_oids, text: text.to_owned() })
}

/// `EXECUTE`'s arguments evaluated and converted to the statement's parameter types (42601 for a wrong count,
/// as PostgreSQL).
fn arguments(
    engine: &mut dyn Engine,
    prepared: &Prepared,
    name: &str,
    args: Option<&str>,
) -> Result<Vec<Value>, SqlError> {
    let given = args.map(split_arguments).unwrap_or_default();
    let expected = prepared.param_oids.len();
    if given.len() != expected {
        return Err(SqlError::error("42601", format!("wrong number of parameters for prepared statement \"{name}\""))
            .with_detail(format!("Expected {expected} parameters but got {}.", given.len())));
    }
    let Some(args) = args.filter(|_| expected > 0) else { return Ok(Vec::new()) };
    let select = format!("SELECT {args}");
    let Some((statement, rest)) = engine.prepare(&select)? else {
        return Err(crate::sql::session::syntax_error(&select));
    };
    if !is_blank(rest) || statement.columns.len() != expected {
        return Err(crate::sql::session::syntax_error(&select));
    }
    let mut row = None;
    engine.execute(&statement, &[], &mut |values| {
        row = Some(values);
        std::ops::ControlFlow::Break(())
    })?;
    let row = row.unwrap_or_default();
    row.into_iter().zip(&prepared.param_oids).enumerate().map(|(i, (value, &oid))| coerce(value, oid, i + 1)).collect()
}

/// A value converted to parameter type `oid` (0: left as it is) through its text form.
fn coerce(value: Value, oid: u32, number: usize) -> Result<Value, SqlError> {
    let text = match value {
        Value::Null => return Ok(Value::Null),
        _ if oid == 0 => return Ok(value),
        Value::Blob(bytes) if oid == PgType::Bytea.oid() => return Ok(Value::Blob(bytes)),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => t,
        Value::Blob(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    decode_param(Some(text.as_bytes()), oid, false, number)
}
