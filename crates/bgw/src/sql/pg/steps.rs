//! Statements SQLite cannot run as one statement, run as several steps in one savepoint by the engine:
//!
//! - `CREATE SCHEMA name [AUTHORIZATION role] element [...]`: the schema's row, then each element (CREATE TABLE,
//!   VIEW, INDEX, SEQUENCE) translated when it runs, after the ones before it exist, in PostgreSQL's order
//!   (sequences, tables, views, indexes), with unqualified names created in and resolved first against the new
//!   schema ([`Element`]). An element naming another schema is PostgreSQL's 42P15; CREATE TRIGGER and GRANT are
//!   refused (0A000); `IF NOT EXISTS` with elements is PostgreSQL's 0A000.
//! - Data-modifying statements in WITH (`WITH d AS (DELETE ... RETURNING ...) <statement>`): each such statement
//!   runs first, in order, its RETURNING rows kept in a temporary table that the rest of the statement reads in
//!   its place ([`Capture`]). PostgreSQL runs every part on one snapshot: no part sees another's changes to a
//!   table. The sequential run gives the same answer when no other part reads a table a data-modifying CTE writes;
//!   the one exception kept is the main UPDATE or DELETE whose target is a table only DELETE CTEs wrote, read
//!   nowhere else in it: PostgreSQL skips the rows the CTEs deleted, and the sequential run no longer sees them.
//!   Anything else is refused with 0A000 naming the construct.
//!
//! Runs in: any process that runs SQL through the translator (the engine runs the steps).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Cte, FromTable, Ident, ObjectName, ObjectNamePart, Query, SetExpr, Statement as Ast, TableFactor, TableObject,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::expr::{Rel, Translator};
use super::names::{self, quote};
use super::schema::sqlite_name;
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::{ColumnInfo, Kind};

/// What runs besides a statement's main SQLite statement (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Steps {
    /// Run before the main statement, in order.
    pub captures: Vec<Capture>,
    /// Run after the main statement, in order.
    pub elements: Vec<Element>,
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        self.captures.is_empty() && self.elements.is_empty()
    }
}

/// A data-modifying CTE: its SQLite statement, and where its RETURNING rows go.
#[derive(Debug, Clone)]
pub struct Capture {
    pub sqlite: String,
    /// The temporary table (SQLite name, in schema `temp`) that keeps its rows, and how many columns it has; None
    /// for a statement without RETURNING.
    pub table: Option<(String, usize)>,
    /// What explains its constraint errors in PostgreSQL's words.
    pub diagnostics: Option<std::sync::Arc<super::diagnose::Diagnostics>>,
}

impl Capture {
    /// The statement that makes its table (empty columns: no affinity, values kept as they come).
    pub fn create_table(&self) -> Option<String> {
        let (name, width) = self.table.as_ref()?;
        let cols: Vec<String> = (1..=*width).map(|i| format!("c{i}")).collect();
        Some(format!("CREATE TEMP TABLE IF NOT EXISTS {}({})", quote(name), cols.join(", ")))
    }
}

/// An element of CREATE SCHEMA: its PostgreSQL text (its own name qualified), translated when it runs with
/// unqualified relation names resolved first in `schema`.
#[derive(Debug, Clone)]
pub struct Element {
    pub text: String,
    pub schema: String,
}

/// Whether `sql` starts with `CREATE SCHEMA`.
pub(super) fn is_create_schema(sql: &str) -> bool {
    let mut words = crate::sql::lexer::leading_words(sql);
    words.next().as_deref() == Some("CREATE") && words.next().as_deref() == Some("SCHEMA")
}

/// Parses `CREATE SCHEMA ... element ...` (sqlparser knows no elements): the statement and its elements. The
/// text is cut before each `CREATE` and `GRANT` outside parentheses (a query would read a bare `CREATE` after a
/// table name as its alias).
pub(super) fn parse_create_schema(sql: &str) -> Result<(Ast, Vec<Ast>), SqlError> {
    let dialect = PostgreSqlDialect {};
    let syntax = |e: sqlparser::parser::ParserError| super::syntax_error(sql, &e);
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| SqlError::error("42601", format!("syntax error: {}", e.message)))?;
    let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
    let mut depth = 0i32;
    for token in tokens {
        match &token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w)
                if depth == 0
                    && w.quote_style.is_none()
                    && matches!(w.keyword, Keyword::CREATE | Keyword::GRANT)
                    && parts.last().is_some_and(|p| p.iter().any(|t| !matches!(t, Token::Whitespace(_)))) =>
            {
                parts.push(Vec::new());
            }
            Token::SemiColon if depth == 0 => continue,
            _ => {}
        }
        parts.last_mut().expect("one part at least").push(token);
    }
    let mut statements = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let words: Vec<&Token> = part.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
        if i > 0 {
            if let [Token::Word(first), next, ..] = words.as_slice() {
                let allowed = first.keyword == Keyword::GRANT
                    || matches!(next, Token::Word(w) if matches!(w.keyword,
                        Keyword::TABLE | Keyword::SEQUENCE | Keyword::VIEW | Keyword::INDEX | Keyword::UNIQUE
                            | Keyword::TRIGGER | Keyword::OR | Keyword::TEMP | Keyword::TEMPORARY
                            | Keyword::UNLOGGED | Keyword::RECURSIVE));
                if !allowed {
                    return Err(near(next));
                }
            }
        }
        let mut p = Parser::new(&dialect).with_tokens(part);
        statements.push(p.parse_statement().map_err(syntax)?);
        let rest = p.peek_token().token;
        if rest != Token::EOF {
            return Err(near(&rest));
        }
    }
    let head = statements.remove(0);
    Ok((head, statements))
}

fn near(token: &Token) -> SqlError {
    match token {
        Token::EOF => SqlError::error("42601", "syntax error at end of input"),
        Token::Word(w) => SqlError::error("42601", format!("syntax error at or near \"{}\"", w.value)),
        other => SqlError::error("42601", format!("syntax error at or near \"{other}\"")),
    }
}

/// The elements of CREATE SCHEMA `schema` as steps, in PostgreSQL's order, each checked against the schema.
pub(super) fn schema_elements(schema: &str, elements: Vec<Ast>) -> Result<Vec<Element>, SqlError> {
    let mut ordered: [Vec<Element>; 4] = Default::default();
    for mut element in elements {
        let (rank, name) = match &mut element {
            Ast::CreateSequence { name, .. } => (0, name),
            Ast::CreateTable(ct) => (1, &mut ct.name),
            Ast::CreateView(cv) => (2, &mut cv.name),
            Ast::CreateIndex(ci) => (3, &mut ci.table_name),
            Ast::CreateTrigger(_) => return Err(unsupported("CREATE TRIGGER in CREATE SCHEMA")),
            Ast::Grant { .. } => return Err(unsupported("GRANT in CREATE SCHEMA")),
            other => {
                let text = other.to_string();
                let words: Vec<&str> = text.split_whitespace().take(2).collect();
                return Err(unsupported(format!("{} in CREATE SCHEMA", words.join(" "))));
            }
        };
        let (given, _) = names::relation(name)?;
        match given {
            Some(other) if other != schema => {
                return Err(SqlError::error(
                    "42P15",
                    format!("CREATE specifies a schema ({other}) different from the one being created ({schema})"),
                ));
            }
            Some(_) => {}
            None => name.0.insert(0, ObjectNamePart::Identifier(Ident::with_quote('"', schema))),
        }
        ordered[rank].push(Element { text: element.to_string(), schema: schema.to_owned() });
    }
    Ok(ordered.into_iter().flatten().collect())
}

/// Qualifies the unqualified relation names of `statement` that name a relation of `schema` (an element of
/// CREATE SCHEMA resolves names in the new schema first).
pub(super) fn resolve_in(statement: &mut Ast, schema: &str, cx: &super::Context<'_>) -> Result<(), SqlError> {
    let mut failed = None;
    if let Ast::CreateTable(ct) = statement {
        // Foreign keys' tables (which sqlparser's visitor does not visit).
        let mut tables: Vec<&mut ObjectName> = Vec::new();
        for column in &mut ct.columns {
            for option in &mut column.options {
                if let sqlparser::ast::ColumnOption::ForeignKey(fk) = &mut option.option {
                    tables.push(&mut fk.foreign_table);
                }
            }
        }
        for constraint in &mut ct.constraints {
            if let sqlparser::ast::TableConstraint::ForeignKey(fk) = constraint {
                tables.push(&mut fk.foreign_table);
            }
        }
        for name in tables {
            if let (1, Ok((None, rel))) = (name.0.len(), names::relation(name)) {
                if cx.schema.columns(&sqlite_name(Some(schema), &rel))?.is_some() {
                    name.0.insert(0, ObjectNamePart::Identifier(Ident::with_quote('"', schema)));
                }
            }
        }
    }
    let _ = sqlparser::ast::visit_relations_mut(statement, |name: &mut ObjectName| {
        if name.0.len() == 1 {
            if let Ok((None, rel)) = names::relation(name) {
                match cx.schema.columns(&sqlite_name(Some(schema), &rel)) {
                    Ok(Some(_)) => name.0.insert(0, ObjectNamePart::Identifier(Ident::with_quote('"', schema))),
                    Ok(None) => {}
                    Err(e) => {
                        failed = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    });
    failed.map_or(Ok(()), Err)
}

/// Whether `q` is a statement with a WITH this module runs: a data-modifying CTE, or an INSERT, UPDATE or DELETE
/// as its body.
pub(super) fn is_writing_with(q: &Query) -> bool {
    let Some(with) = &q.with else { return false };
    is_dml(&q.body) || with.cte_tables.iter().any(|c| is_dml(&c.query.body))
}

fn is_dml(body: &SetExpr) -> bool {
    matches!(body, SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_))
}

/// The SQLite name of the table an INSERT, UPDATE or DELETE writes, and whether it is a DELETE.
fn target_of(st: &Ast) -> Result<(String, bool), SqlError> {
    let name = match st {
        Ast::Insert(i) => match &i.table {
            TableObject::TableName(n) => n,
            _ => return Err(unsupported("INSERT INTO a table function")),
        },
        Ast::Update(u) => match &u.table.relation {
            TableFactor::Table { name, .. } => name,
            _ => return Err(unsupported("this UPDATE target")),
        },
        Ast::Delete(d) => match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => match t.as_slice() {
                [twj] => match &twj.relation {
                    TableFactor::Table { name, .. } => name,
                    _ => return Err(unsupported("this DELETE target")),
                },
                _ => return Err(unsupported("DELETE of several tables")),
            },
        },
        _ => return Err(unsupported("this statement in WITH")),
    };
    let (schema, rel) = names::relation(name)?;
    Ok((sqlite_name(schema.as_deref(), &rel), matches!(st, Ast::Delete(_))))
}

/// The SQLite names of the relations `node` reads or writes (a CTE's name is not a relation).
fn relations<V: sqlparser::ast::Visit>(node: &V, ctes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let _ = sqlparser::ast::visit_relations(node, |name: &ObjectName| {
        if let Ok((schema, rel)) = names::relation(name) {
            if !(schema.is_none() && ctes.contains(&rel)) {
                out.push(sqlite_name(schema.as_deref(), &rel));
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

fn dml_statement(body: &SetExpr) -> Option<&Ast> {
    match body {
        SetExpr::Insert(st) | SetExpr::Update(st) | SetExpr::Delete(st) => Some(st),
        _ => None,
    }
}

/// Refuses a WITH whose sequential run could answer differently from PostgreSQL's one snapshot (see the module
/// doc).
fn check_snapshot(q: &Query, ctes: &[Cte], cx: &super::Context<'_>) -> Result<(), SqlError> {
    let names: Vec<String> = ctes.iter().map(|c| names::ident(&c.alias.name)).collect();
    // The tables the data-modifying CTEs write: (CTE index, table, whether a DELETE).
    let mut written: Vec<(usize, String, bool)> = Vec::new();
    for (i, cte) in ctes.iter().enumerate() {
        if let Some(st) = dml_statement(&cte.query.body) {
            let (table, delete) = target_of(st)?;
            if written.iter().any(|(_, t, _)| *t == table) {
                return Err(unsupported("two data-modifying statements in WITH on the same table"));
            }
            written.push((i, table, delete));
        }
    }
    let conflict = |reader: &str, table: &str| {
        unsupported(format!(
            "{reader} reading table \"{table}\", which a data-modifying statement in WITH changes (PostgreSQL reads it \
             as before the change)"
        ))
    };
    for (i, cte) in ctes.iter().enumerate() {
        let read = relations(&*cte.query, &names);
        for (j, table, _) in &written {
            if *j != i && read.contains(table) {
                return Err(conflict(&format!("WITH query \"{}\"", names[i]), table));
            }
        }
    }
    let body_reads = relations(&*q.body, &names);
    let main_target = dml_statement(&q.body).map(target_of).transpose()?;
    for (_, table, delete) in &written {
        let count = body_reads.iter().filter(|t| *t == table).count();
        if count == 0 {
            continue;
        }
        // The one exception: UPDATE or DELETE of a table a DELETE CTE changed, read nowhere else in it, of rows
        // the CTE's do not delete (PostgreSQL may run the CTE after the main statement when nothing reads it
        // first: only disjoint rows make the order not matter).
        let target_only = count == 1
            && *delete
            && matches!(&main_target, Some((t, _)) if t == table)
            && matches!(&*q.body, SetExpr::Update(_) | SetExpr::Delete(_))
            && written_by_delete_disjoint(q, ctes, table, cx)?;
        if !target_only {
            return Err(conflict("the statement", table));
        }
    }
    Ok(())
}

/// Translates a statement with data-modifying CTEs or a data-modifying body (see [`is_writing_with`]): the main
/// SQLite statement, its kind and result columns; the CTEs' steps in `captures`.
pub(super) fn writing_with(
    tx: &mut Translator<'_>,
    q: &Query,
    captures: &mut Vec<Capture>,
) -> Result<(String, Kind, Vec<ColumnInfo>), SqlError> {
    let Some(with) = &q.with else { return Err(unsupported("this statement")) };
    if with.recursive {
        return Err(unsupported("WITH RECURSIVE with a data-modifying statement"));
    }
    check_snapshot(q, &with.cte_tables, tx.cx)?;
    let saved_ctes = tx.ctes.len();
    let mut prefix: Vec<String> = Vec::new();
    for (i, cte) in with.cte_tables.iter().enumerate() {
        let name = names::ident(&cte.alias.name);
        let alias_cols: Vec<String> = cte.alias.columns.iter().map(|c| names::ident(&c.name)).collect();
        if cte.materialized.is_some() && dml_statement(&cte.query.body).is_some() {
            return Err(unsupported("MATERIALIZED with a data-modifying statement"));
        }
        let (sql, columns) = match dml_statement(&cte.query.body) {
            Some(st) => {
                let (sql, _, columns) = match st {
                    Ast::Insert(i) => super::dml::insert(tx, i)?,
                    Ast::Update(u) => super::dml::update(tx, u)?,
                    Ast::Delete(d) => super::dml::delete(tx, d)?,
                    _ => return Err(unsupported("this statement in WITH")),
                };
                let diagnostics = tx.diagnostics.take().map(std::sync::Arc::new);
                let table =
                    (!columns.is_empty()).then(|| (format!("_pg_cte_{}_{}", i + 1, columns.len()), columns.len()));
                captures.push(Capture { sqlite: with_prefix(&prefix, sql)?, table: table.clone(), diagnostics });
                let Some((table, width)) = table else {
                    // No RETURNING: nothing may read it.
                    let read = with.cte_tables[i + 1..].iter().any(|c| relations(&*c.query, &[]).contains(&name))
                        || relations(&*q.body, &[]).contains(&name);
                    if read {
                        return Err(SqlError::error(
                            "0A000",
                            format!("WITH query \"{name}\" does not have a RETURNING clause"),
                        ));
                    }
                    continue;
                };
                let cols = (1..=width).map(|k| format!("c{k}")).collect::<Vec<_>>().join(", ");
                (format!("SELECT {cols} FROM temp.{}", quote(&table)), columns)
            }
            None => {
                let out = tx.query(&cte.query)?;
                (out.sql, out.columns)
            }
        };
        if alias_cols.len() > columns.len() {
            return Err(SqlError::error(
                "42P10",
                format!(
                    "WITH query \"{name}\" has {} columns available but {} columns specified",
                    columns.len(),
                    alias_cols.len()
                ),
            ));
        }
        let cols: Vec<(String, Option<crate::sql::types::PgType>)> = columns
            .iter()
            .enumerate()
            .map(|(k, c)| (alias_cols.get(k).cloned().unwrap_or_else(|| c.name.clone()), c.ty))
            .collect();
        let col_list: Vec<String> = cols.iter().map(|(n, _)| quote(n)).collect();
        prefix.push(format!("{}({}) AS ({sql})", quote(&name), col_list.join(", ")));
        tx.ctes.push(Rel { exprs: None, alias: name, columns: cols });
    }
    let main = match dml_statement(&q.body) {
        Some(st) => match st {
            Ast::Insert(i) => super::dml::insert(tx, i)?,
            Ast::Update(u) => super::dml::update(tx, u)?,
            Ast::Delete(d) => super::dml::delete(tx, d)?,
            _ => return Err(unsupported("this statement in WITH")),
        },
        None => {
            let mut rest = q.clone();
            rest.with = None;
            let out = tx.top_query(&rest)?;
            (out.sql, Kind::Query, out.columns)
        }
    };
    tx.ctes.truncate(saved_ctes);
    let (sql, kind, columns) = main;
    Ok((with_prefix(&prefix, sql)?, kind, columns))
}

/// `sql` with the CTEs `prefix` defined for it.
fn with_prefix(prefix: &[String], sql: String) -> Result<String, SqlError> {
    if prefix.is_empty() {
        return Ok(sql);
    }
    let defs = prefix.join(", ");
    if let Some(rest) = sql.strip_prefix("WITH ") {
        if rest.starts_with("RECURSIVE ") {
            return Err(unsupported("WITH RECURSIVE with a data-modifying statement"));
        }
        return Ok(format!("WITH {defs}, {rest}"));
    }
    Ok(format!("WITH {defs} {sql}"))
}

/// Whether the rows the main statement of `q` (an UPDATE or DELETE of `table`) changes and those every DELETE CTE
/// on `table` deletes are disjoint, as their WHERE clauses show: each has a top-level `column = literal` on the
/// same column with different values (numbers of different value; strings on a text or varchar column).
fn written_by_delete_disjoint(q: &Query, ctes: &[Cte], table: &str, cx: &super::Context<'_>) -> Result<bool, SqlError> {
    let Some(columns) = cx.schema.columns(table)? else { return Ok(false) };
    let main_where = match &*q.body {
        SetExpr::Update(Ast::Update(u)) => u.selection.as_ref(),
        SetExpr::Delete(Ast::Delete(d)) => d.selection.as_ref(),
        _ => None,
    };
    let Some(main_where) = main_where else { return Ok(false) };
    let main_eqs = equalities(main_where);
    for cte in ctes {
        let Some(st @ Ast::Delete(d)) = dml_statement(&cte.query.body) else { continue };
        if target_of(st)?.0 != table {
            continue;
        }
        let Some(cte_where) = &d.selection else { return Ok(false) };
        let disjoint = equalities(cte_where).iter().any(|(col, a)| {
            let ty = columns.iter().find(|c| c.name == *col).and_then(|c| c.ty);
            main_eqs.iter().any(|(other, b)| other == col && differ(a, b, ty))
        });
        if !disjoint {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The top-level `column = literal` conjuncts of a WHERE clause (an unqualified column, as a DELETE's or an
/// UPDATE's own column; a qualified one is not taken).
fn equalities(e: &sqlparser::ast::Expr) -> Vec<(String, sqlparser::ast::Value)> {
    use sqlparser::ast::{BinaryOperator, Expr};
    match e {
        Expr::Nested(inner) => equalities(inner),
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            let mut out = equalities(left);
            out.extend(equalities(right));
            out
        }
        Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => match (left.as_ref(), right.as_ref()) {
            (Expr::Identifier(id), Expr::Value(v)) | (Expr::Value(v), Expr::Identifier(id)) => {
                vec![(names::ident(id), v.value.clone())]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Whether two literals compared with a column of type `ty` are surely different values.
fn differ(a: &sqlparser::ast::Value, b: &sqlparser::ast::Value, ty: Option<crate::sql::types::PgType>) -> bool {
    use crate::sql::types::PgType;
    use sqlparser::ast::Value;
    match (a, b) {
        (Value::Number(x, _), Value::Number(y, _)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => x != y,
            _ => false,
        },
        (Value::SingleQuotedString(x), Value::SingleQuotedString(y)) => {
            matches!(ty, Some(PgType::Text | PgType::Varchar)) && x != y
        }
        _ => false,
    }
}
