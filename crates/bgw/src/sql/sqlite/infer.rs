//! Result column types read off a statement's bytecode (`EXPLAIN`), for columns no declared type describes: a
//! column computed by a function with a known result type, by arithmetic on known types, or by a literal.
//!
//! Runs in: any process that runs SQL (in practice, a backend describing a statement to its client).

use std::collections::HashMap;

use rusqlite::Connection;

use crate::sql::value::PgType;

/// Where a register's value comes from, as far as the result type goes.
#[derive(Debug, Clone)]
enum Source {
    Known(PgType),
    Function(String),
    CopyOf(i64),
    Arithmetic(i64, i64),
    Cast(i64),
    Null,
    /// A value whose type the bytecode does not tell (a table column, a parameter, ...).
    Unknown,
}

/// Result column types read off the statement's bytecode: for each column, the type every instruction that
/// writes its register agrees on, or None.
pub(super) fn explain_types(
    conn: &Connection,
    sql: &str,
    width: usize,
    result_type: &dyn Fn(&str) -> Option<PgType>,
) -> Vec<Option<PgType>> {
    let mut types = vec![None; width];
    if width == 0 {
        return types;
    }
    let Ok(mut explain) = conn.prepare(&format!("EXPLAIN {sql}")) else {
        return types;
    };
    let mut writers: HashMap<i64, Vec<Source>> = HashMap::new();
    let mut outputs: Vec<(i64, i64)> = Vec::new();
    let mut rows = explain.raw_query();
    while let Ok(Some(row)) = rows.next() {
        let opcode: String = row.get(1).unwrap_or_default();
        let p = |i: usize| row.get::<_, Option<i64>>(i).ok().flatten().unwrap_or(0);
        let (p1, p2, p3) = (p(2), p(3), p(4));
        let p4: String = row.get::<_, Option<String>>(5).ok().flatten().unwrap_or_default();
        let function = || Source::Function(p4.split('(').next().unwrap_or("").to_ascii_lowercase());
        let mut write = |register: i64, source: Source| writers.entry(register).or_default().push(source);
        match opcode.as_str() {
            "ResultRow" => outputs.push((p1, p2)),
            "Function" | "PureFunc" | "AggValue" => write(p3, function()),
            "AggFinal" => write(p1, function()),
            "Count" => write(p2, Source::Known(PgType::Int8)),
            "Integer" | "Int64" => write(p2, Source::Known(PgType::Int8)),
            "Real" => write(p2, Source::Known(PgType::Float8)),
            "String8" | "String" | "Concat" => {
                write(if opcode == "Concat" { p3 } else { p2 }, Source::Known(PgType::Text))
            }
            "Blob" => write(p2, Source::Known(PgType::Bytea)),
            "Null" => {
                for register in p2..=p3.max(p2).min(p2 + 1000) {
                    write(register, Source::Null);
                }
            }
            "Copy" => {
                for k in 0..=p3.clamp(0, 1000) {
                    write(p2 + k, Source::CopyOf(p1 + k));
                }
            }
            "SCopy" | "IntCopy" | "Move" => write(p2, Source::CopyOf(p1)),
            "Add" | "Subtract" | "Multiply" | "Divide" | "Remainder" => write(p3, Source::Arithmetic(p1, p2)),
            "Cast" => write(p1, Source::Cast(p2)),
            "Rowid" => write(p2, Source::Known(PgType::Int8)),
            "Column" | "VColumn" => write(p3, Source::Unknown),
            "Variable" => write(p2, Source::Unknown),
            _ => {}
        }
    }
    drop(rows);
    for (column, ty) in types.iter_mut().enumerate() {
        let mut agreed: Option<PgType> = None;
        for &(first, count) in &outputs {
            if (column as i64) >= count {
                agreed = None;
                break;
            }
            match register_type(&writers, first + column as i64, 0, result_type) {
                Some(t) if agreed.is_none() || agreed == Some(t) => agreed = Some(t),
                _ => {
                    agreed = None;
                    break;
                }
            }
        }
        *ty = agreed;
    }
    types
}

fn register_type(
    writers: &HashMap<i64, Vec<Source>>,
    register: i64,
    depth: u32,
    result_type: &dyn Fn(&str) -> Option<PgType>,
) -> Option<PgType> {
    if depth > 16 {
        return None;
    }
    let sources = writers.get(&register)?;
    if let Some(Source::Cast(affinity)) = sources.iter().rev().find(|s| matches!(s, Source::Cast(_))) {
        return match u8::try_from(*affinity).ok()? {
            b'A' => Some(PgType::Bytea),
            b'B' => Some(PgType::Text),
            b'D' => Some(PgType::Int8),
            b'E' => Some(PgType::Float8),
            _ => None,
        };
    }
    let mut agreed = None;
    let mut only_nulls = true;
    for source in sources {
        let ty = match source {
            Source::Null | Source::Cast(_) => continue,
            Source::Unknown => return None,
            Source::Known(ty) => *ty,
            Source::Function(name) => result_type(name)?,
            Source::CopyOf(from) => register_type(writers, *from, depth + 1, result_type)?,
            Source::Arithmetic(a, b) => {
                match (
                    register_type(writers, *a, depth + 1, result_type)?,
                    register_type(writers, *b, depth + 1, result_type)?,
                ) {
                    (PgType::Float8, PgType::Float8 | PgType::Int8 | PgType::Int4)
                    | (PgType::Int8 | PgType::Int4, PgType::Float8) => PgType::Float8,
                    (PgType::Int8 | PgType::Int4, PgType::Int8 | PgType::Int4) => PgType::Int8,
                    _ => return None,
                }
            }
        };
        only_nulls = false;
        if agreed.is_some_and(|t| t != ty) {
            return None;
        }
        agreed = Some(ty);
    }
    if only_nulls {
        None
    } else {
        agreed
    }
}

/// The PostgreSQL type of what SQLite's built-in function `name` returns, for those whose result type does not
/// depend on their arguments.
pub(super) fn builtin_result_type(name: &str) -> Option<PgType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "count" | "length" | "octet_length" | "instr" | "unicode" | "random" | "changes" | "total_changes"
        | "last_insert_rowid" | "sign" => PgType::Int8,
        "total" | "avg" => PgType::Float8,
        "lower" | "upper" | "trim" | "ltrim" | "rtrim" | "substr" | "substring" | "replace" | "typeof" | "printf"
        | "format" | "quote" | "hex" | "group_concat" | "string_agg" | "sqlite_version" | "date" | "time"
        | "datetime" | "strftime" | "char" | "concat" | "concat_ws" | "json" | "json_array" | "json_object"
        | "json_type" => PgType::Text,
        "randomblob" | "zeroblob" | "unhex" => PgType::Bytea,
        _ => return None,
    })
}
