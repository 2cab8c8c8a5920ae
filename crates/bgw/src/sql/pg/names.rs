//! Names: PostgreSQL's identifier rules (unquoted names fold to lower case) and how relation names map to SQLite's.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

use crate::sql::error::SqlError;

/// An identifier as PostgreSQL reads it: quoted ones as written, unquoted ones folded to lower case.
pub fn ident(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// `name` quoted for SQLite.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a SQLite string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The parts of an object name, folded.
pub fn parts(name: &ObjectName) -> Result<Vec<String>, SqlError> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(id) => Ok(ident(id)),
            ObjectNamePart::Function(_) => Err(super::unsupported("a function call in an object name")),
        })
        .collect()
}

/// A relation name as (schema, name): `t`, `s.t`, `db.s.t` (the database must be the current one: refused
/// otherwise by the caller).
pub fn relation(name: &ObjectName) -> Result<(Option<String>, String), SqlError> {
    let mut parts = parts(name)?;
    match parts.len() {
        1 => Ok((None, parts.remove(0))),
        2 => {
            let name = parts.remove(1);
            Ok((Some(parts.remove(0)), name))
        }
        _ => Err(SqlError::error(
            "0A000",
            format!("cross-database references are not implemented: \"{}\"", parts.join(".")),
        )),
    }
}

/// A function's name without the `pg_catalog.` qualifier; None for a name in another schema.
pub fn function(name: &ObjectName) -> Result<Option<String>, SqlError> {
    let mut parts = parts(name)?;
    match parts.len() {
        1 => Ok(Some(parts.remove(0))),
        2 if parts[0] == "pg_catalog" || parts[0] == "public" => Ok(Some(parts.remove(1))),
        _ => Ok(None),
    }
}
