//! The statements `pg_dump` sends and writes that are neither queries nor plain definitions: `LOCK TABLE ... IN
//! ACCESS SHARE MODE` (its snapshot), sequences (`CREATE SEQUENCE`, `ALTER SEQUENCE ... OWNED BY`, a column's
//! `SET DEFAULT nextval(...)`, `setval`), `ALTER ... OWNER TO` and the constraints a dump adds after the data.
//!
//! Invariants: a statement of a shape the host cannot honour is refused with 0A000 naming it; nothing here
//! changes what an existing database means.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{DataType, Expr, Lock, LockTableMode, ObjectName, SequenceOptions, Value as AstValue};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;

use super::expr::{Rel, Translator, Typed};
use super::names::{self, literal, quote};
use super::schema::sqlite_name;
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::{ColumnInfo, Kind};
use crate::sql::types::PgType;

pub(super) type Out = (String, Kind, Vec<ColumnInfo>);

/// `LOCK [TABLE] name [, ...] IN ACCESS SHARE MODE`: every relation must exist; the statement reads each (no
/// row), which starts the transaction's SQLite read snapshot if it has none yet, so that later DDL of other
/// sessions is not seen, as a PostgreSQL ACCESS SHARE lock keeps it out. Stronger modes: 0A000.
pub(super) fn lock(tx: &mut Translator<'_>, lock: &Lock) -> Result<Out, SqlError> {
    match &lock.lock_mode {
        None => return Err(unsupported("LOCK TABLE in ACCESS EXCLUSIVE mode")),
        Some(LockTableMode::AccessShare) => {}
        Some(mode) => return Err(unsupported(format!("LOCK TABLE in {mode} mode"))),
    }
    let mut reads = Vec::new();
    for target in &lock.tables {
        let (schema, name) = names::relation(&target.name)?;
        let (_, sqlite) = tx.table(schema.as_deref(), &name, None)?;
        if !sqlite.starts_with('"') || sqlite_name(schema.as_deref(), &name).starts_with("_pg_") {
            return Err(unsupported(format!("LOCK TABLE of \"{name}\"")));
        }
        reads.push(format!("SELECT 1 FROM {sqlite} LIMIT 0"));
    }
    // The reads run before the statement, which itself has nothing to do (and so no result columns).
    tx.before.extend(reads);
    Ok((String::new(), Kind::Other("LOCK TABLE".into()), Vec::new()))
}

// --- sequences ---

/// The host's table of sequences that are not (yet) a serial key: made by `CREATE SEQUENCE`, waiting for their
/// column to become the table's primary key (see [`add_constraint`]).
const SEQUENCES: &str = "CREATE TABLE IF NOT EXISTS _pg_sequences (name TEXT PRIMARY KEY, typname TEXT NOT NULL, \
     start INTEGER NOT NULL, last_value INTEGER NOT NULL, is_called INTEGER NOT NULL, owner_table TEXT, \
     owner_column TEXT, has_default INTEGER NOT NULL DEFAULT 0)";

/// A sequence made by `CREATE SEQUENCE` (a row of `_pg_sequences`).
struct Pending {
    typname: String,
    last_value: i64,
    is_called: bool,
    owner: Option<(String, String)>,
}

fn pending(tx: &Translator<'_>, sqlite: &str) -> Result<Option<Pending>, SqlError> {
    let exists = tx.cx.schema.rows("SELECT 1 FROM main.sqlite_schema WHERE name = '_pg_sequences'", &[])?;
    if exists.is_empty() {
        return Ok(None);
    }
    let rows = tx.cx.schema.rows(
        "SELECT typname, last_value, is_called, owner_table, owner_column FROM _pg_sequences \
         WHERE name = ?1",
        &[sqlite],
    )?;
    Ok(rows.into_iter().next().map(|r| {
        let int = |i: usize| r[i].as_deref().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        Pending {
            typname: r[0].clone().unwrap_or_default(),
            last_value: int(1),
            is_called: int(2) != 0,
            owner: r[3].clone().zip(r[4].clone()),
        }
    }))
}

/// The serial key whose sequence SQLite name `sqlite` is (`t_id_seq` of table `t`, column `id`): the table's
/// SQLite name, the column and its type.
fn serial_of(tx: &Translator<'_>, sqlite: &str) -> Result<Option<(String, String, PgType)>, SqlError> {
    let Some(stem) = sqlite.strip_suffix("_seq") else { return Ok(None) };
    for (at, _) in stem.match_indices('_') {
        let (table, column) = (&stem[..at], &stem[at + 1..]);
        if table.is_empty() || column.is_empty() || table.starts_with("_pg_") {
            continue;
        }
        if let Some(columns) = tx.cx.schema.columns(table)? {
            if let Some(c) = columns.iter().find(|c| c.name == column && c.serial) {
                return Ok(Some((table.to_owned(), column.to_owned(), c.ty.unwrap_or(PgType::Int8))));
            }
        }
    }
    Ok(None)
}

/// A sequence as a relation (`SELECT last_value, is_called FROM s`, as `pg_dump` reads one): its columns and
/// its SQLite text, or None if `sqlite` names no sequence.
pub(super) fn sequence_relation(
    tx: &Translator<'_>,
    sqlite: &str,
    alias: &str,
) -> Result<Option<(Rel, String)>, SqlError> {
    let sql = if let Some((table, _, _)) = serial_of(tx, sqlite)? {
        // A serial key's sequence is SQLite's `sqlite_sequence` row of its table (no row, or 0: never called).
        let t = literal(&table);
        format!(
            "(SELECT coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = {t} AND seq > 0), 1) AS last_value, \
             0 AS log_cnt, EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name = {t} AND seq > 0) AS is_called)"
        )
    } else if pending(tx, sqlite)?.is_some() {
        format!("(SELECT last_value, 0 AS log_cnt, is_called FROM main._pg_sequences WHERE name = {})", literal(sqlite))
    } else {
        return Ok(None);
    };
    let rel = Rel {
        exprs: None,
        alias: alias.to_owned(),
        columns: vec![
            ("last_value".into(), Some(PgType::Int8)),
            ("log_cnt".into(), Some(PgType::Int8)),
            ("is_called".into(), Some(PgType::Bool)),
        ],
    };
    Ok(Some((rel, sql)))
}

/// Whether `sqlite` names a relation of any kind (a table, view, catalog or sequence).
fn relation_exists(tx: &Translator<'_>, sqlite: &str) -> Result<bool, SqlError> {
    Ok(tx.cx.schema.columns(sqlite)?.is_some() || serial_of(tx, sqlite)?.is_some() || pending(tx, sqlite)?.is_some())
}

/// An integer literal (`1`, `-5`).
fn int_literal(e: &Expr) -> Option<i64> {
    match e {
        Expr::Value(v) => match &v.value {
            AstValue::Number(n, _) => n.to_string().parse().ok(),
            _ => None,
        },
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Minus, expr } => int_literal(expr).map(|n| -n),
        Expr::Nested(e) => int_literal(e),
        _ => None,
    }
}

/// The bounds of a sequence of type `ty` (its default MINVALUE is 1, its MAXVALUE the type's largest value).
fn type_max(ty: PgType) -> i64 {
    match ty {
        PgType::Int2 => i64::from(i16::MAX),
        PgType::Int4 => i64::from(i32::MAX),
        _ => i64::MAX,
    }
}

/// `CREATE SEQUENCE name [AS type] [START [WITH] n] [INCREMENT [BY] 1] [NO MINVALUE | MINVALUE 1] [NO MAXVALUE |
/// MAXVALUE max] [CACHE 1] [NO CYCLE] [OWNED BY t.c]`: the sequences a serial key can take over (counting up by
/// one from 1 to its type's maximum, without cycling). Other options: 0A000.
pub(super) fn create_sequence(
    tx: &mut Translator<'_>,
    temporary: bool,
    if_not_exists: bool,
    name: &ObjectName,
    data_type: Option<&DataType>,
    options: &[SequenceOptions],
    owned_by: Option<&ObjectName>,
) -> Result<Out, SqlError> {
    if temporary {
        return Err(unsupported("CREATE TEMPORARY SEQUENCE"));
    }
    let (schema, seq) = names::relation(name)?;
    if let Some(s) = &schema {
        if !tx.cx.schema.schema_exists(s)? {
            return Err(SqlError::error("3F000", format!("schema \"{s}\" does not exist")));
        }
    }
    let sqlite = sqlite_name(schema.as_deref(), &seq);
    if relation_exists(tx, &sqlite)? {
        if if_not_exists {
            return Ok((String::new(), Kind::Other("CREATE SEQUENCE".into()), Vec::new()));
        }
        return Err(SqlError::error("42P07", format!("relation \"{seq}\" already exists")));
    }
    let ty = match data_type {
        None => PgType::Int8,
        Some(dt) => super::expr::data_type_of(dt)?.0,
    };
    if !matches!(ty, PgType::Int2 | PgType::Int4 | PgType::Int8) {
        return Err(SqlError::error("22023", "sequence type must be smallint, integer, or bigint"));
    }
    let max = type_max(ty);
    let mut start = 1;
    for option in options {
        let fixed = |e: &Expr, want: i64| int_literal(e) == Some(want);
        match option {
            SequenceOptions::IncrementBy(e, _) if fixed(e, 1) => {}
            SequenceOptions::MinValue(None) | SequenceOptions::MaxValue(None) => {}
            SequenceOptions::MinValue(Some(e)) if fixed(e, 1) => {}
            SequenceOptions::MaxValue(Some(e)) if fixed(e, max) => {}
            SequenceOptions::Cache(e) if fixed(e, 1) => {}
            SequenceOptions::Cycle(false) => {}
            SequenceOptions::StartWith(e, _) => {
                start = int_literal(e).ok_or_else(|| unsupported("a START value that is not a number"))?;
                if start < 1 {
                    return Err(SqlError::error(
                        "22023",
                        format!("START value ({start}) cannot be less than MINVALUE (1)"),
                    ));
                }
                if start > max {
                    return Err(SqlError::error(
                        "22023",
                        format!("START value ({start}) cannot be greater than MAXVALUE ({max})"),
                    ));
                }
            }
            other => return Err(unsupported(format!("sequence option{other}"))),
        }
    }
    tx.before.push(SEQUENCES.into());
    tx.before.push(format!(
        "INSERT INTO main._pg_sequences (name, typname, start, last_value, is_called) VALUES ({}, {}, {start}, {start}, 0)",
        literal(&sqlite),
        literal(ty.typname())
    ));
    let last = match owned_by {
        Some(target) => owned_by_statement(tx, &sqlite, schema.as_deref(), target)?,
        None => tx.before.pop().unwrap_or_default(),
    };
    Ok((last, Kind::Other("CREATE SEQUENCE".into()), Vec::new()))
}

/// The statement that records sequence `sqlite` (of schema `schema`) as owned by column `target` (`t.c`,
/// `s.t.c`), after checking it as PostgreSQL does.
fn owned_by_statement(
    tx: &mut Translator<'_>,
    sqlite: &str,
    schema: Option<&str>,
    target: &ObjectName,
) -> Result<String, SqlError> {
    let parts = names::parts(target)?;
    let (table_schema, table, column) = match parts.as_slice() {
        [t, c] => (None, t.clone(), c.clone()),
        [s, t, c] => (Some(s.clone()), t.clone(), c.clone()),
        _ => {
            return Err(SqlError::error("42601", "invalid OWNED BY option")
                .with_hint("Specify OWNED BY table.column or OWNED BY NONE."))
        }
    };
    let schema_of = |s: Option<&str>| s.unwrap_or("public").to_owned();
    let table_sqlite = sqlite_name(table_schema.as_deref(), &table);
    let Some(columns) = tx.cx.schema.columns(&table_sqlite)? else {
        return Err(SqlError::error(
            "42P01",
            format!("relation \"{}\" does not exist", parts[..parts.len() - 1].join(".")),
        ));
    };
    if schema_of(table_schema.as_deref()) != schema_of(schema) {
        return Err(SqlError::error("55000", "sequence must be in same schema as table it is linked to"));
    }
    if !columns.iter().any(|c| c.name == column) {
        return Err(SqlError::error("42703", format!("column \"{column}\" of relation \"{table}\" does not exist")));
    }
    Ok(format!(
        "UPDATE main._pg_sequences SET owner_table = {}, owner_column = {} WHERE name = {}",
        literal(&table_sqlite),
        literal(&column),
        literal(sqlite)
    ))
}

/// The statements the translator reads from their text because sqlparser does not parse them: `ALTER SEQUENCE
/// name OWNED BY t.c | NONE` and `ALTER SEQUENCE name OWNER TO role`. None for any other statement.
pub(super) fn by_text(sql: &str, tx: &mut Translator<'_>) -> Option<Result<Out, SqlError>> {
    let mut words = crate::sql::lexer::leading_words(sql);
    match (words.next().as_deref(), words.next().as_deref()) {
        (Some("ALTER"), Some("SEQUENCE")) => Some(alter_sequence(sql, tx)),
        // sqlparser reads CREATE SEQUENCE's options in one order only; PostgreSQL (and pg_dump) in any.
        (Some("CREATE"), Some("SEQUENCE")) => Some(create_sequence_text(sql, tx)),
        _ => None,
    }
}

/// `CREATE SEQUENCE [IF NOT EXISTS] name [AS type] [option ...]` with its options in any order.
fn create_sequence_text(sql: &str, tx: &mut Translator<'_>) -> Result<Out, SqlError> {
    let dialect = PostgreSqlDialect {};
    let syntax = |e: sqlparser::parser::ParserError| super::syntax_error(sql, &e);
    let mut p = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    p.expect_keywords(&[Keyword::CREATE, Keyword::SEQUENCE]).map_err(syntax)?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.parse_object_name(false).map_err(syntax)?;
    let data_type = if p.parse_keyword(Keyword::AS) { Some(p.parse_data_type().map_err(syntax)?) } else { None };
    let mut options = Vec::new();
    let mut owned_by = None;
    loop {
        if p.parse_keyword(Keyword::INCREMENT) {
            let by = p.parse_keyword(Keyword::BY);
            options.push(SequenceOptions::IncrementBy(p.parse_expr().map_err(syntax)?, by));
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MINVALUE]) {
            options.push(SequenceOptions::MinValue(None));
        } else if p.parse_keywords(&[Keyword::NO, Keyword::MAXVALUE]) {
            options.push(SequenceOptions::MaxValue(None));
        } else if p.parse_keywords(&[Keyword::NO, Keyword::CYCLE]) {
            options.push(SequenceOptions::Cycle(false));
        } else if p.parse_keyword(Keyword::MINVALUE) {
            options.push(SequenceOptions::MinValue(Some(p.parse_expr().map_err(syntax)?)));
        } else if p.parse_keyword(Keyword::MAXVALUE) {
            options.push(SequenceOptions::MaxValue(Some(p.parse_expr().map_err(syntax)?)));
        } else if p.parse_keyword(Keyword::START) {
            let with = p.parse_keyword(Keyword::WITH);
            options.push(SequenceOptions::StartWith(p.parse_expr().map_err(syntax)?, with));
        } else if p.parse_keyword(Keyword::CACHE) {
            options.push(SequenceOptions::Cache(p.parse_expr().map_err(syntax)?));
        } else if p.parse_keyword(Keyword::CYCLE) {
            options.push(SequenceOptions::Cycle(true));
        } else if p.parse_keywords(&[Keyword::OWNED, Keyword::BY]) {
            if !p.parse_keyword(Keyword::NONE) {
                owned_by = Some(p.parse_object_name(false).map_err(syntax)?);
            }
        } else {
            break;
        }
    }
    end(&mut p, sql)?;
    create_sequence(tx, false, if_not_exists, &name, data_type.as_ref(), &options, owned_by.as_ref())
}

fn alter_sequence(sql: &str, tx: &mut Translator<'_>) -> Result<Out, SqlError> {
    let dialect = PostgreSqlDialect {};
    let syntax = |e: sqlparser::parser::ParserError| super::syntax_error(sql, &e);
    let mut p = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    p.expect_keywords(&[Keyword::ALTER, Keyword::SEQUENCE]).map_err(syntax)?;
    let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let name = p.parse_object_name(false).map_err(syntax)?;
    let (schema, seq) = names::relation(&name)?;
    let sqlite = sqlite_name(schema.as_deref(), &seq);
    let kind = Kind::Other("ALTER SEQUENCE".into());
    let serial = serial_of(tx, &sqlite)?;
    let pending = pending(tx, &sqlite)?;
    if serial.is_none() && pending.is_none() {
        if if_exists {
            return Ok((String::new(), kind, Vec::new()));
        }
        return Err(SqlError::error(
            "42P01",
            format!("relation \"{}\" does not exist", names::parts(&name)?.join(".")),
        ));
    }
    let statement = if p.parse_keywords(&[Keyword::OWNED, Keyword::BY]) {
        let target =
            if p.parse_keyword(Keyword::NONE) { None } else { Some(p.parse_object_name(false).map_err(syntax)?) };
        end(&mut p, sql)?;
        match (&serial, target) {
            // A serial key's sequence is owned by its column: that is no change.
            (Some((table, column, _)), Some(target)) => {
                let parts = names::parts(&target)?;
                let (t, c) = match parts.as_slice() {
                    [t, c] => (sqlite_name(None, t), c.clone()),
                    [s, t, c] => (sqlite_name(Some(s), t), c.clone()),
                    _ => return Err(unsupported("this OWNED BY")),
                };
                if t != *table || c != *column {
                    return Err(unsupported("a serial key's sequence owned by another column"));
                }
                String::new()
            }
            (Some(_), None) => return Err(unsupported("a serial key's sequence owned by no column")),
            (None, Some(target)) => owned_by_statement(tx, &sqlite, schema.as_deref(), &target)?,
            (None, None) => format!(
                "UPDATE main._pg_sequences SET owner_table = NULL, owner_column = NULL WHERE name = {}",
                literal(&sqlite)
            ),
        }
    } else if p.parse_keywords(&[Keyword::OWNER, Keyword::TO]) {
        let role = names::ident(&p.parse_identifier().map_err(syntax)?);
        end(&mut p, sql)?;
        check_owner(tx, &role, super::super::pg_catalog::BOOTSTRAP_SUPERUSER, "sequence")?;
        String::new()
    } else {
        return Err(unsupported("this form of ALTER SEQUENCE"));
    };
    Ok((statement, kind, Vec::new()))
}

fn end(p: &mut Parser<'_>, sql: &str) -> Result<(), SqlError> {
    let _ = p.consume_token(&sqlparser::tokenizer::Token::SemiColon);
    p.expect_token(&sqlparser::tokenizer::Token::EOF).map(|_| ()).map_err(|e| super::syntax_error(sql, &e))
}

/// `... OWNER TO role`: the host's relations and schemas have the owner the catalogs show (`owner`); setting
/// that owner again is no change, another one is not supported (0A000), an unknown role is 42704.
pub(super) fn check_owner(tx: &Translator<'_>, role: &str, owner: u32, what: &str) -> Result<(), SqlError> {
    let found = tx.cx.schema.rows("SELECT oid FROM pg_roles WHERE rolname = ?1", &[role])?;
    let Some(oid) = found.first().and_then(|r| r[0].as_deref()).and_then(|o| o.parse::<u32>().ok()) else {
        return Err(SqlError::error("42704", format!("role \"{role}\" does not exist")));
    };
    if oid != owner {
        return Err(unsupported(format!("changing the owner of a {what}")));
    }
    Ok(())
}

/// `ALTER TABLE t ALTER COLUMN c SET DEFAULT nextval('s'::regclass)`: `s` must be a sequence owned by that
/// column (as `pg_dump` writes a serial column); the default takes effect when the column becomes the table's
/// primary key ([`add_constraint`]). Before that, a row inserted without the column fails its NOT NULL.
pub(super) fn set_default_nextval(
    tx: &mut Translator<'_>,
    table_sqlite: &str,
    column: &str,
    sequence: &str,
) -> Result<Out, SqlError> {
    let kind = Kind::Other("ALTER TABLE".into());
    let (schema, seq) = match sequence.rsplit_once('.') {
        Some((s, n)) => (Some(s.to_owned()), n.to_owned()),
        None => (None, sequence.to_owned()),
    };
    let sqlite = sqlite_name(schema.as_deref(), &seq);
    if let Some((table, col, _)) = serial_of(tx, &sqlite)? {
        if table == table_sqlite && col == column {
            return Ok((String::new(), kind, Vec::new()));
        }
    }
    let Some(p) = pending(tx, &sqlite)? else {
        if serial_of(tx, &sqlite)?.is_some() {
            return Err(unsupported("a default of another serial key's sequence"));
        }
        return Err(SqlError::error("42P01", format!("relation \"{sequence}\" does not exist")));
    };
    if p.owner.as_ref().is_none_or(|(t, c)| t != table_sqlite || c != column) {
        return Err(unsupported("a nextval() default of a sequence not owned by its column"));
    }
    Ok((format!("UPDATE main._pg_sequences SET has_default = 1 WHERE name = {}", literal(&sqlite)), kind, Vec::new()))
}

/// `setval('s', n [, is_called])` with constant arguments: sets the sequence's state (a serial key's row of
/// `sqlite_sequence`, or a `CREATE SEQUENCE`'s row) before the statement runs, and gives `n`. Only in a query
/// without FROM (PostgreSQL calls it once per row). Anything else: 0A000.
pub(super) fn setval(tx: &mut Translator<'_>, args: &[Expr]) -> Result<Typed, SqlError> {
    if tx.scopes.iter().any(|s| !s.is_empty()) {
        return Err(unsupported("setval() in a query that reads relations"));
    }
    let (name, value, called) = match args {
        [n, v] => (n, v, true),
        [n, v, c] => {
            let called = match c {
                Expr::Value(v) => match &v.value {
                    AstValue::Boolean(b) => *b,
                    _ => return Err(unsupported("setval() with a computed is_called")),
                },
                _ => return Err(unsupported("setval() with a computed is_called")),
            };
            (n, v, called)
        }
        _ => return Err(SqlError::error("42883", "function setval does not exist")),
    };
    let name = match name {
        Expr::Cast { expr, .. } => expr.as_ref(),
        other => other,
    };
    let Expr::Value(v) = name else { return Err(unsupported("setval() of a computed sequence name")) };
    let AstValue::SingleQuotedString(text) = &v.value else {
        return Err(unsupported("setval() of a computed sequence name"));
    };
    let value = int_literal(value).ok_or_else(|| unsupported("setval() of a computed value"))?;
    let parts: Vec<String> = text
        .split('.')
        .map(|p| {
            let p = p.trim();
            if let Some(q) = p.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                q.replace("\"\"", "\"")
            } else {
                p.to_ascii_lowercase()
            }
        })
        .collect();
    let (schema, seq) = match parts.as_slice() {
        [n] => (None, n.clone()),
        [s, n] => (Some(s.clone()), n.clone()),
        _ => return Err(SqlError::error("42601", format!("improper relation name (too many dotted names): {text}"))),
    };
    let sqlite = sqlite_name(schema.as_deref(), &seq);
    let (ty, table) = if let Some((table, _, ty)) = serial_of(tx, &sqlite)? {
        (ty, Some(table))
    } else if let Some(p) = pending(tx, &sqlite)? {
        (PgType::from_decltype(&p.typname).unwrap_or(PgType::Int8), None)
    } else {
        return Err(SqlError::error("42P01", format!("relation \"{text}\" does not exist")));
    };
    let max = type_max(ty);
    if value < 1 || value > max {
        return Err(SqlError::error(
            "22003",
            format!("setval: value {value} is out of bounds for sequence \"{seq}\" (1..{max})"),
        ));
    }
    match table {
        Some(table) => {
            // SQLite's counter is the last value handed out: one less when the next call is to give `value`.
            let seq_value = if called { value } else { value - 1 };
            tx.before.extend(serial_counter(&table, seq_value));
        }
        None => tx.before.push(format!(
            "UPDATE main._pg_sequences SET last_value = {value}, is_called = {} WHERE name = {}",
            i32::from(called),
            literal(&sqlite)
        )),
    }
    Ok(Typed::new(value.to_string(), PgType::Int8).named("setval"))
}

/// The statements that set serial table `table`'s counter (`sqlite_sequence`) to `value`.
fn serial_counter(table: &str, value: i64) -> Vec<String> {
    let t = literal(table);
    vec![
        format!("UPDATE main.sqlite_sequence SET seq = {value} WHERE name = {t}"),
        format!(
            "INSERT INTO main.sqlite_sequence (name, seq) SELECT {t}, {value} WHERE NOT EXISTS \
             (SELECT 1 FROM main.sqlite_sequence WHERE name = {t})"
        ),
    ]
}

// --- constraints added to a table that exists ---

/// A constraint `ALTER TABLE ... ADD CONSTRAINT` adds.
pub(super) enum Added {
    /// PRIMARY KEY or UNIQUE over columns.
    Key { primary: bool, columns: Vec<String> },
    /// FOREIGN KEY: the columns and the SQLite text after `FOREIGN KEY (...)` (`REFERENCES ...`).
    Foreign { columns: Vec<String>, references: String },
}

/// `ALTER TABLE t ADD [CONSTRAINT name] PRIMARY KEY | UNIQUE | FOREIGN KEY ...`: SQLite cannot add one, so the
/// table is rebuilt with it (its rows, columns, defaults, constraints and indexes kept), inside the statement's
/// transaction. A one-column integer primary key whose column owns a sequence that is its default (as
/// `pg_dump` writes a serial column) becomes the table's serial key, its counter where the sequence was.
/// Refused (0A000) for a table that other tables' foreign keys reference or that has triggers.
pub(super) fn add_constraint(
    tx: &mut Translator<'_>,
    sqlite: &str,
    name: &str,
    constraint_name: Option<&str>,
    added: Added,
) -> Result<Out, SqlError> {
    let kind = Kind::Other("ALTER TABLE".into());
    let Some(existing) = tx.cx.schema.columns(sqlite)? else {
        return Err(SqlError::error("42P01", format!("relation \"{name}\" does not exist")));
    };
    let info = tx.cx.schema.table_info(sqlite)?;
    let key_columns = match &added {
        Added::Key { columns, .. } | Added::Foreign { columns, .. } => columns.clone(),
    };
    for c in &key_columns {
        if !existing.iter().any(|e| e.name == *c) {
            return Err(SqlError::error("42703", format!("column \"{c}\" named in key does not exist")));
        }
    }
    if matches!(added, Added::Key { primary: true, .. }) && info.iter().any(|(_, _, pk)| *pk > 0) {
        return Err(SqlError::error("42P16", format!("multiple primary keys for table \"{name}\" are not allowed")));
    }
    let objects = tx
        .cx
        .schema
        .rows("SELECT type, name, sql FROM main.sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL", &[sqlite])?;
    let Some(create) = objects.iter().find(|o| o[0].as_deref() == Some("table")).and_then(|o| o[2].clone()) else {
        return Err(unsupported(format!("adding a constraint to \"{name}\"")));
    };
    if objects.iter().any(|o| o[0].as_deref() == Some("trigger")) {
        return Err(unsupported("adding a constraint to a table with triggers"));
    }
    let referencing = tx.cx.schema.rows(
        "SELECT m.name FROM main.sqlite_schema m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND m.name <> ?1 AND f.\"table\" = ?1 COLLATE NOCASE",
        &[sqlite],
    )?;
    if !referencing.is_empty() {
        return Err(unsupported("adding a constraint to a table that other tables' foreign keys reference"));
    }
    let (open, close) = match (create.find('('), create.rfind(')')) {
        (Some(o), Some(c)) if o < c => (o, c),
        _ => return Err(unsupported(format!("adding a constraint to \"{name}\""))),
    };
    let mut elements = split_elements(&create[open + 1..close]);
    let named = |default: String| {
        let n = constraint_name.map_or(default, str::to_owned);
        format!("CONSTRAINT {} ", quote(&n))
    };
    let mut after = Vec::new();
    match added {
        Added::Key { primary, columns } => {
            let serial = match (primary, columns.as_slice()) {
                (true, [column]) => serial_takeover(tx, sqlite, column, &existing)?,
                _ => None,
            };
            if let Some((ty, counter, sequence)) = serial {
                let column = &columns[0];
                let at = element_of(&elements, column)
                    .ok_or_else(|| unsupported(format!("adding a constraint to \"{name}\"")))?;
                let default_name = format!("{name}_pkey");
                let constraint = match constraint_name {
                    Some(n) if n != default_name => format!(" CONSTRAINT {}", quote(n)),
                    _ => String::new(),
                };
                let clause = super::schema::serial_clause(ty, false);
                elements[at] = format!("{}{constraint} {clause}", quote(column));
                after.extend(serial_counter(sqlite, counter));
                after.push(format!("DELETE FROM main._pg_sequences WHERE name = {}", literal(&sequence)));
            } else {
                if primary {
                    // PostgreSQL's primary key makes its columns NOT NULL (SQLite's would let NULLs in).
                    for c in &columns {
                        let not_null = info.iter().any(|(n, nn, _)| n == c && *nn);
                        if let (false, Some(at)) = (not_null, element_of(&elements, c)) {
                            elements[at].push_str(" NOT NULL");
                        }
                    }
                }
                let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
                let (word, suffix) = if primary {
                    ("PRIMARY KEY", "pkey".to_owned())
                } else {
                    ("UNIQUE", format!("{}_key", columns.join("_")))
                };
                let default = format!("{name}_{suffix}");
                elements.push(format!("{}{word} ({})", named(default), cols.join(", ")));
            }
        }
        Added::Foreign { columns, references } => {
            let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
            let default = format!("{name}_{}_fkey", columns.join("_"));
            elements.push(format!("{}FOREIGN KEY ({}) {references}", named(default), cols.join(", ")));
        }
    }
    let all: Vec<String> = existing.iter().map(|c| quote(&c.name)).collect();
    let table = format!("main.{}", quote(sqlite));
    let mut steps = vec![
        "DROP TABLE IF EXISTS temp._pg_rebuild".to_owned(),
        format!("CREATE TEMP TABLE _pg_rebuild AS SELECT * FROM {table}"),
        format!("DROP TABLE {table}"),
        format!("CREATE TABLE {table} ({})", elements.join(", ")),
        format!("INSERT INTO {table} ({}) SELECT {} FROM temp._pg_rebuild", all.join(", "), all.join(", ")),
        "DROP TABLE temp._pg_rebuild".to_owned(),
    ];
    for o in objects.iter().filter(|o| o[0].as_deref() == Some("index")) {
        steps.extend(o[2].clone());
    }
    steps.extend(after);
    let last = steps.pop().unwrap_or_default();
    tx.before.extend(steps);
    Ok((last, kind, Vec::new()))
}

/// Whether the primary key of `column` takes over a sequence (owned by the column and its default): the
/// column's type, the counter SQLite's `sqlite_sequence` is to hold, and the sequence's SQLite name.
fn serial_takeover(
    tx: &Translator<'_>,
    sqlite: &str,
    column: &str,
    existing: &[super::schema::Column],
) -> Result<Option<(PgType, i64, String)>, SqlError> {
    let exists = tx.cx.schema.rows("SELECT 1 FROM main.sqlite_schema WHERE name = '_pg_sequences'", &[])?;
    if exists.is_empty() {
        return Ok(None);
    }
    let rows = tx.cx.schema.rows(
        "SELECT name FROM main._pg_sequences WHERE owner_table = ?1 AND owner_column = ?2 AND has_default = 1",
        &[sqlite, column],
    )?;
    let Some(sequence) = rows.first().and_then(|r| r[0].clone()) else { return Ok(None) };
    let Some(p) = pending(tx, &sequence)? else { return Ok(None) };
    let ty = existing.iter().find(|c| c.name == column).and_then(|c| c.ty).unwrap_or(PgType::Text);
    if !matches!(ty, PgType::Int2 | PgType::Int4 | PgType::Int8) {
        return Err(unsupported("a sequence default on a column that is not an integer"));
    }
    if sequence != format!("{sqlite}_{column}_seq") {
        return Err(unsupported(format!("a serial key whose sequence is not named \"{sqlite}_{column}_seq\"")));
    }
    if PgType::from_decltype(&p.typname) != Some(ty) {
        return Err(unsupported("a serial key whose sequence's type is not the column's"));
    }
    let counter = if p.is_called { p.last_value } else { p.last_value - 1 };
    Ok(Some((ty, counter, sequence)))
}

/// The position of column `column`'s definition among a `CREATE TABLE`'s elements.
fn element_of(elements: &[String], column: &str) -> Option<usize> {
    let quoted = quote(column);
    elements.iter().position(|e| e.starts_with(&format!("{quoted} ")) || *e == quoted)
}

/// The elements of a `CREATE TABLE`'s parenthesised list: split at the commas outside parentheses and quotes.
fn split_elements(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut quote_char: Option<char> = None;
    let mut current = String::new();
    for c in body.chars() {
        match quote_char {
            Some(q) => {
                if c == q {
                    quote_char = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote_char = Some(c),
                '[' => quote_char = Some(']'),
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(current.trim().to_owned());
                    current.clear();
                    continue;
                }
                _ => {}
            },
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}
