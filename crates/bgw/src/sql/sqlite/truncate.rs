//! `TRUNCATE` on SQLite: every row of the named tables deleted in the current transaction (so that a rollback
//! brings them back), `RESTART IDENTITY` resetting their `AUTOINCREMENT` counters (`sqlite_sequence`), and
//! PostgreSQL's refusals: an unknown relation (42P01), a view (42809), a table another table's foreign key
//! references (0A000, as PostgreSQL's RESTRICT; `CASCADE` would empty the referencing tables too, which is refused
//! with 0A000 as well rather than done), a table with row `DELETE` triggers (0A000: SQLite's delete would fire
//! them, PostgreSQL's TRUNCATE does not).
//!
//! The statement is checked when it is prepared and becomes a batch of SQLite `DELETE`s that [`run`] executes
//! inside a savepoint, so that it is all or nothing outside a transaction block too.
//!
//! Runs in: a backend process (client sessions; SPI does not read PostgreSQL's utility statements).

use rusqlite::Connection;

use crate::sql::error::SqlError;
use crate::sql::statement::{Kind, Statement};
use crate::sql::utility::truncate;
use crate::sql::Completion;

const TAG: &str = "TRUNCATE TABLE";

/// Whether `statement` is a `TRUNCATE` [`prepare`] made.
pub(super) fn is_truncate(statement: &Statement) -> bool {
    matches!(&statement.kind, Kind::Other(tag) if tag == TAG)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A relation's name as PostgreSQL shows it in messages (without the schema).
fn shown(sqlite_name: &str) -> &str {
    sqlite_name.rsplit_once('.').map_or(sqlite_name, |(_, name)| name)
}

/// Whether a SQLite table is the host's own (never a user's relation).
fn internal(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_pg_") || lower.starts_with("sqlite_")
}

/// The first statement of `sql` as a `TRUNCATE` to run, with its byte length; None if it is not one.
pub(super) fn prepare(conn: &Connection, sql: &str) -> Result<Option<(Statement, usize)>, SqlError> {
    let Some(parsed) = truncate(sql) else { return Ok(None) };
    let (command, len) = parsed.map_err(|()| crate::sql::session::syntax_error(&sql[..sql.len().min(200)]))?;
    let db = |e: rusqlite::Error| super::from_rusqlite(e);
    let mut targets: Vec<String> = Vec::new();
    for (schema, name) in &command.tables {
        let (sqlite_name, written) = match schema.as_deref() {
            None | Some("public") => (name.clone(), name.clone()),
            Some(schema) => (format!("{schema}.{name}"), format!("{schema}.{name}")),
        };
        let found: Option<(String, String, String)> = conn
            .query_row(
                "SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE \
                 AND type IN ('table', 'view')",
                [&sqlite_name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
            .map_err(db)?;
        match found {
            Some((kind, actual, text)) if !internal(&actual) => {
                if kind != "table" || text.to_ascii_uppercase().starts_with("CREATE VIRTUAL") {
                    return Err(SqlError::error("42809", format!("\"{}\" is not a table", shown(&actual))));
                }
                // SQLite's delete would fire row DELETE triggers, which PostgreSQL's TRUNCATE never does.
                let triggers: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE \
                         AND instr(upper(sql), ' DELETE ') BETWEEN 1 AND instr(upper(sql), ' ON ')",
                        [&actual],
                        |row| row.get(0),
                    )
                    .map_err(db)?;
                if triggers > 0 {
                    return Err(SqlError::error(
                        "0A000",
                        format!("TRUNCATE is not supported on table \"{}\": it has DELETE triggers", shown(&actual)),
                    )
                    .with_hint("Use DELETE, which fires them."));
                }
                if !targets.iter().any(|t| t.eq_ignore_ascii_case(&actual)) {
                    targets.push(actual);
                }
            }
            _ => return Err(SqlError::error("42P01", format!("relation \"{written}\" does not exist"))),
        }
    }
    // Another table whose foreign key references one of them: PostgreSQL refuses (RESTRICT) or would empty that
    // table too (CASCADE), which bgw does not do.
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")
        .map_err(db)?;
    let names: Vec<String> =
        tables.query_map([], |row| row.get(0)).map_err(db)?.collect::<Result<_, _>>().map_err(db)?;
    for other in names.iter().filter(|n| !internal(n) && !targets.iter().any(|t| t.eq_ignore_ascii_case(n))) {
        let mut fks = conn.prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)").map_err(db)?;
        let referenced: Vec<String> =
            fks.query_map([other], |row| row.get(0)).map_err(db)?.collect::<Result<_, _>>().map_err(db)?;
        if let Some(target) = referenced.iter().find(|r| targets.iter().any(|t| t.eq_ignore_ascii_case(r))) {
            let detail = format!("Table \"{}\" references \"{}\".", shown(other), shown(target));
            return Err(if command.cascade {
                SqlError::error("0A000", "TRUNCATE ... CASCADE is not supported")
                    .with_detail(detail)
                    .with_hint(format!("Truncate table \"{}\" at the same time.", shown(other)))
            } else {
                SqlError::error("0A000", "cannot truncate a table referenced in a foreign key constraint")
                    .with_detail(detail)
                    .with_hint(format!(
                        "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                        shown(other)
                    ))
            });
        }
    }
    let mut batch: Vec<String> = targets.iter().map(|t| format!("DELETE FROM main.{}", quote(t))).collect();
    let has_sequence: bool = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'", [], |row| row.get(0))
        .map_err(db)?;
    if command.restart_identity && has_sequence {
        let names: Vec<String> = targets.iter().map(|t| literal(t)).collect();
        batch.push(format!("DELETE FROM main.sqlite_sequence WHERE name IN ({})", names.join(", ")));
    }
    Ok(Some((Statement::bare(batch.join(";\n"), Kind::Other(TAG.into())), len)))
}

/// Runs a `TRUNCATE` [`prepare`] made, all or nothing.
pub(super) fn run(conn: &Connection, statement: &Statement) -> Result<Completion, rusqlite::Error> {
    conn.execute_batch("SAVEPOINT bgw_truncate")?;
    match conn.execute_batch(&statement.sql) {
        Ok(()) => conn.execute_batch("RELEASE bgw_truncate")?,
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK TO bgw_truncate; RELEASE bgw_truncate");
            return Err(err);
        }
    }
    Ok(Completion { tag: TAG.to_owned(), rows: 0, changes: 0 })
}
