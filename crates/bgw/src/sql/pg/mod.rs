//! The PostgreSQL dialect at the front door: each statement a client sends is parsed with sqlparser's PostgreSQL
//! grammar, every expression is typed with PostgreSQL's rules, and the statement is rewritten into SQLite SQL
//! that gives PostgreSQL's answer on the storage of [`crate::sql::types`], or refused.
//!
//! The rule this module keeps: **never a silently different answer**. A construct whose PostgreSQL meaning the
//! translator cannot honour on SQLite fails with 0A000 `feature_not_supported` naming it; an unknown function is
//! 42883, an unknown column 42703, an unknown relation 42P01, with PostgreSQL's texts. What is supported is listed
//! in README ("The SQL the front door speaks").
//!
//! - [`translate`]: the entry point, one statement at a time ([`Translated`]).
//! - [`schema`]: the relations names resolve against (columns and their PostgreSQL types).
//! - `expr`: expressions (typing, coercion, operators, casts, column names as PostgreSQL gives them).
//! - `query`: SELECT, VALUES, set operations, WITH, FROM items and scopes.
//! - `dml`: INSERT (ON CONFLICT, RETURNING), UPDATE, DELETE.
//! - `ddl`: CREATE TABLE (PostgreSQL types kept as declared types, serial and identity keys), indexes, views,
//!   schemas, DROP, ALTER TABLE.
//! - [`extension`]: CREATE/DROP EXTENSION and CREATE/DROP FUNCTION ... LANGUAGE C, parsed (the backend runs them).
//! - `functions`: PostgreSQL's functions and operators mapped onto SQLite's or onto the host's own SQL functions
//!   ([`register`] adds those to a connection).
//!
//! Runs in: a backend process (a client session's engine).

mod ddl;
mod deparse;
pub mod diagnose;
mod dml;
mod expr;
pub mod extension;
pub mod functions;
mod names;
mod origins;
mod query;
mod restore;
pub mod schema;
mod split;
mod steps;

use sqlparser::ast::Statement as Ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

pub use functions::register;
use schema::Schema;
pub use steps::{Capture, Element, Steps};

use super::error::SqlError;
use super::statement::{ColumnInfo, Kind};
use super::types::PgType;

/// One statement, translated.
#[derive(Debug, Clone)]
pub struct Translated {
    /// The SQLite statement that runs it.
    pub sqlite: String,
    pub kind: Kind,
    /// The result columns with PostgreSQL's names and types (None: the type could not be told; text).
    pub columns: Vec<ColumnInfo>,
    /// The type of each parameter `$n` at `n - 1`, where the statement tells it.
    pub param_types: Vec<Option<PgType>>,
    /// SQLite statements to run before `sqlite`, in the same transaction (a DROP of several tables, a table
    /// rebuilt to add its primary key).
    pub before: Vec<String>,
    /// SQLite statements to run after it, in the same transaction (a serial key's sequence put back after
    /// explicit values).
    pub after: Vec<String>,
    /// For each result column that is a table's column: the table's OID and the column's number (RowDescription
    /// carries them); empty when none is known.
    pub origins: Vec<Option<(u32, i16)>>,
    /// Whether the result columns are described before the statement runs (see
    /// [`crate::sql::Statement::describe_first`]).
    pub describe_first: bool,
    /// What explains the statement's constraint errors in PostgreSQL's words.
    pub diagnostics: Option<diagnose::Diagnostics>,
    /// What runs besides `sqlite`, in its savepoint (CREATE SCHEMA's elements, data-modifying CTEs): see
    /// [`Steps`].
    pub steps: Steps,
}

/// What the translator needs to know besides the schema.
pub struct Context<'a> {
    pub schema: &'a dyn Schema,
    /// The result type of a host SQL function (the backend's `bgw_*` functions, `pg_backend_pid`, ...), if it is
    /// one.
    pub host_function: &'a dyn Fn(&str) -> Option<PgType>,
    /// The argument types of a host SQL function, where it declares them (a parameter passed to it takes them).
    pub host_function_args: &'a dyn Fn(&str) -> Option<Vec<PgType>>,
    /// The parameter names of a host SQL function, where it declares them (PostgreSQL's named notation).
    pub host_function_params: &'a dyn Fn(&str) -> Option<Vec<&'static str>>,
    /// `current_user` and `current_database()`.
    pub user: String,
    pub database: String,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// The schema unqualified relation names resolve in first (an element of CREATE SCHEMA being translated).
    pub search_schema: Option<String>,
}

/// One integer literal of the statement's text that the translator may turn into a parameter: where it starts
/// (sqlparser's 1-based line and column, in characters) and its digits (see [`crate::sql::lexer::shape`]).
#[derive(Debug, Clone, Copy)]
pub struct LiteralAt<'a> {
    pub line: u64,
    pub column: u64,
    pub digits: &'a str,
}

/// What to do with the first statement of a string.
#[derive(Debug)]
pub enum Outcome {
    /// Run this SQLite statement.
    Run(Box<Translated>),
    /// Not the translator's: the caller runs the text as it is (the host's own statements: PRAGMA).
    PassThrough,
}

/// Translates `sql`, which holds exactly one statement (without its `;`).
pub fn translate(sql: &str, cx: &Context<'_>) -> Result<Outcome, SqlError> {
    translate_with_literals(sql, cx, &[]).map(|(outcome, _)| outcome)
}

/// [`translate`], letting the query's integer `literals` used as plain values of their own type (int4, int8)
/// become parameters `?1`, `?2`, ...: with them, which literal each parameter takes (an index into `literals`).
/// Only a query (SELECT, VALUES, ...) with nothing to run before or after it and no diagnostics gets them;
/// everything else comes back as [`translate`] gives it, with no parameters.
pub fn translate_with_literals(
    sql: &str,
    cx: &Context<'_>,
    literals: &[LiteralAt<'_>],
) -> Result<(Outcome, Vec<usize>), SqlError> {
    match split::first_keyword(sql).as_deref() {
        Some("PRAGMA") => return Ok((Outcome::PassThrough, Vec::new())),
        Some("VACUUM") => {
            // SQLite's VACUUM rewrites the whole file; PostgreSQL's reclaims space and (with ANALYZE) gathers
            // statistics, which is what SQLite's ANALYZE does.
            return Ok((
                Outcome::Run(Box::new(Translated {
                    sqlite: "ANALYZE".into(),
                    kind: Kind::Other("VACUUM".into()),
                    columns: Vec::new(),
                    param_types: Vec::new(),
                    before: Vec::new(),
                    after: Vec::new(),
                    origins: Vec::new(),
                    describe_first: false,
                    diagnostics: None,
                    steps: Steps::default(),
                })),
                Vec::new(),
            ));
        }
        _ => {}
    }
    let mut tx = expr::Translator::new(cx);
    if let Some(done) = restore::by_text(sql, &mut tx) {
        // Statements sqlparser does not parse (ALTER SEQUENCE): read from their text.
        let (sqlite, kind, columns) = done?;
        return Ok((
            Outcome::Run(Box::new(Translated {
                sqlite,
                kind,
                columns,
                param_types: Vec::new(),
                before: std::mem::take(&mut tx.before),
                after: std::mem::take(&mut tx.after),
                origins: Vec::new(),
                describe_first: false,
                diagnostics: None,
                steps: Steps::default(),
            })),
            Vec::new(),
        ));
    }
    let mut statements = if steps::is_create_schema(sql) {
        let (head, elements) = steps::parse_create_schema(sql)?;
        if !elements.is_empty() {
            return create_schema_with_elements(&mut tx, &head, elements);
        }
        vec![head]
    } else {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| syntax_error(sql, &e))?
    };
    if let (Some(schema), [statement]) = (&cx.search_schema, statements.as_mut_slice()) {
        steps::resolve_in(statement, schema, cx)?;
    }
    let [statement] = statements.as_slice() else {
        return Err(SqlError::error("42601", "cannot translate more than one statement at a time"));
    };
    let mut captures = Vec::new();
    // (A statement with steps binds no literal: its steps take the statement's parameters.)
    if matches!(statement, Ast::Query(q) if !steps::is_writing_with(q)) {
        tx.literals = literals;
    }
    // A statement with data-modifying CTEs runs to completion before its result is described (PostgreSQL's
    // portal keeps its rows first): its errors come before any description.
    let describe_first = matches!(statement, Ast::Query(q) if reads_relations(&q.body) && !steps::is_writing_with(q));
    let origins = match statement {
        Ast::Query(q) if q.with.is_none() => origins::of_query(&q.body, cx.schema),
        Ast::Insert(i) => match (&i.table, &i.returning) {
            (sqlparser::ast::TableObject::TableName(name), Some(items)) => {
                origins::of_returning(name, items, cx.schema)
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let (sqlite, kind, columns) = match statement {
        Ast::Query(query) if steps::is_writing_with(query) => steps::writing_with(&mut tx, query, &mut captures)?,
        Ast::Query(query) => {
            let out = tx.top_query(query)?;
            (out.sql, Kind::Query, out.columns)
        }
        Ast::Insert(insert) => dml::insert(&mut tx, insert)?,
        Ast::Update(update) => dml::update(&mut tx, update)?,
        Ast::Delete(delete) => dml::delete(&mut tx, delete)?,
        other => ddl::statement(&mut tx, other)?,
    };
    let before = std::mem::take(&mut tx.before);
    let after = std::mem::take(&mut tx.after);
    let diagnostics = tx.diagnostics.take();
    if !tx.slots.is_empty() && (!before.is_empty() || !after.is_empty() || diagnostics.is_some()) {
        // SQL run on its own (before, after, diagnostics) binds no literal: this statement gets none.
        return translate_with_literals(sql, cx, &[]);
    }
    let slots = std::mem::take(&mut tx.slots);
    let translated = Outcome::Run(Box::new(Translated {
        sqlite,
        kind,
        columns,
        param_types: tx.into_param_types(),
        before,
        after,
        origins,
        describe_first,
        diagnostics,
        steps: Steps { captures, elements: Vec::new() },
    }));
    Ok((translated, slots))
}

/// `CREATE SCHEMA name element ...`: the schema's creation, its elements as steps.
fn create_schema_with_elements(
    tx: &mut expr::Translator<'_>,
    head: &Ast,
    elements: Vec<Ast>,
) -> Result<(Outcome, Vec<usize>), SqlError> {
    let Ast::CreateSchema { schema_name, if_not_exists, .. } = head else {
        return Err(SqlError::error("42601", "syntax error at or near \"CREATE\""));
    };
    if *if_not_exists {
        return Err(SqlError::error("0A000", "CREATE SCHEMA IF NOT EXISTS cannot include schema elements"));
    }
    let (sqlite, kind, columns) = ddl::statement(tx, head)?;
    let name = match schema_name {
        sqlparser::ast::SchemaName::Simple(n) | sqlparser::ast::SchemaName::NamedAuthorization(n, _) => {
            names::parts(n)?.join(".")
        }
        sqlparser::ast::SchemaName::UnnamedAuthorization(id) => names::ident(id),
    };
    let elements = steps::schema_elements(&name, elements)?;
    Ok((
        Outcome::Run(Box::new(Translated {
            sqlite,
            kind,
            columns,
            param_types: Vec::new(),
            before: std::mem::take(&mut tx.before),
            after: std::mem::take(&mut tx.after),
            origins: Vec::new(),
            describe_first: false,
            diagnostics: None,
            steps: Steps { captures: Vec::new(), elements },
        })),
        Vec::new(),
    ))
}

/// Whether a query's top level reads relations (a SELECT with FROM, or a set operation of such).
fn reads_relations(body: &sqlparser::ast::SetExpr) -> bool {
    use sqlparser::ast::SetExpr;
    match body {
        SetExpr::Select(s) => !s.from.is_empty(),
        SetExpr::Query(q) => reads_relations(&q.body),
        SetExpr::SetOperation { left, right, .. } => reads_relations(left) || reads_relations(right),
        _ => false,
    }
}

/// Splits off the first statement of `sql`: its text (without the `;`) and how many bytes it takes with the `;`.
/// None when `sql` holds no statement.
pub fn first_statement(sql: &str) -> Option<(&str, usize)> {
    split::first_statement(sql)
}

/// sqlparser's error as PostgreSQL's syntax error (42601).
fn syntax_error(sql: &str, err: &sqlparser::parser::ParserError) -> SqlError {
    let text = err.to_string();
    let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
    // sqlparser names what it found ("found: foo at Line: 1, Column: 8"); PostgreSQL names the token it failed at.
    let near = text
        .split("found: ")
        .nth(1)
        .map(|rest| rest.split(" at Line").next().unwrap_or(rest).trim().to_owned())
        .filter(|found| !found.is_empty());
    let message = match near.as_deref() {
        Some("EOF") | None if sql.trim().is_empty() => "syntax error at end of input".to_owned(),
        Some("EOF") => "syntax error at end of input".to_owned(),
        Some(token) => format!("syntax error at or near \"{}\"", token.trim_matches('\'')),
        None => format!("syntax error: {text}"),
    };
    SqlError::error("42601", message)
}

/// `name` quoted as an SQLite identifier.
pub fn quote_name(name: &str) -> String {
    names::quote(name)
}

/// 0A000 naming what is not supported.
pub(crate) fn unsupported(what: impl std::fmt::Display) -> SqlError {
    SqlError::error("0A000", format!("{what} is not supported"))
}
