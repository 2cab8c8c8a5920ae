//! PostgreSQL's own text of a partial index's predicate, as `pg_get_indexdef` prints it (plain: every operator
//! expression in parentheses, `'x'::text` for a string compared with a text column; pretty: without the
//! parentheses precedence makes needless), for the simple predicates it can be told exactly: comparisons of a
//! column with a literal of its own kind or with a column of its type, `IS [NOT] NULL`, a boolean column and its
//! `NOT`, `AND` and `OR`. Anything else gives None (the catalogs then show the SQLite text).
//!
//! The texts go into the SQLite `CREATE INDEX` as a comment that `pg_catalog` reads back.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::names;
use crate::sql::types::PgType;

/// The plain and the pretty text of predicate `e` over a table with `columns`.
pub(super) fn predicate(e: &Expr, columns: &[(String, Option<PgType>)]) -> Option<(String, String)> {
    let plain = plain(e, columns)?;
    let pretty = pretty(e, columns, Parent::Top)?;
    if plain.contains("*/") || pretty.contains("*/") {
        return None;
    }
    Some((plain, pretty))
}

fn unwrap(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unwrap(inner),
        other => other,
    }
}

fn column(e: &Expr, columns: &[(String, Option<PgType>)]) -> Option<(String, PgType)> {
    let Expr::Identifier(id) = unwrap(e) else { return None };
    let name = names::ident(id);
    let ty = columns.iter().find(|(c, _)| *c == name)?.1?;
    let plain =
        name.chars().enumerate().all(|(i, c)| c == '_' || c.is_ascii_lowercase() || (i > 0 && c.is_ascii_digit()));
    Some((if plain { name } else { format!("\"{}\"", name.replace('"', "\"\"")) }, ty))
}

/// A literal as PostgreSQL shows it compared with a column of type `ty`.
fn literal(e: &Expr, ty: PgType) -> Option<String> {
    let Expr::Value(v) = unwrap(e) else { return None };
    match (&v.value, ty) {
        (Value::Number(n, false), PgType::Int2 | PgType::Int4 | PgType::Int8)
            if n.chars().all(|c| c.is_ascii_digit()) && n.parse::<i32>().is_ok() =>
        {
            Some(n.clone())
        }
        (Value::Number(n, false), PgType::Numeric)
            if n.chars().all(|c| c.is_ascii_digit() || c == '.') && n.contains('.') =>
        {
            Some(n.clone())
        }
        (Value::SingleQuotedString(s), PgType::Text) => Some(format!("'{}'::text", s.replace('\'', "''"))),
        (Value::Boolean(b), PgType::Bool) => Some(b.to_string()),
        _ => None,
    }
}

/// `l op r` of a comparison, without parentheses.
fn comparison(e: &Expr, columns: &[(String, Option<PgType>)]) -> Option<String> {
    match unwrap(e) {
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Eq => "=",
                BinaryOperator::NotEq => "<>",
                BinaryOperator::Lt => "<",
                BinaryOperator::LtEq => "<=",
                BinaryOperator::Gt => ">",
                BinaryOperator::GtEq => ">=",
                _ => return None,
            };
            let (l, r) = match (column(left, columns), column(right, columns)) {
                (Some((l, a)), Some((r, b))) if a == b => (l, r),
                (Some((l, ty)), None) => (l, literal(right, ty)?),
                (None, Some((r, ty))) => (literal(left, ty)?, r),
                _ => return None,
            };
            Some(format!("{l} {op} {r}"))
        }
        Expr::IsNull(x) => Some(format!("{} IS NULL", column(x, columns)?.0)),
        Expr::IsNotNull(x) => Some(format!("{} IS NOT NULL", column(x, columns)?.0)),
        _ => None,
    }
}

/// The operands of a chain of `op` (PostgreSQL keeps `a AND b AND c` as one list).
fn chain<'a>(e: &'a Expr, op: &BinaryOperator, out: &mut Vec<&'a Expr>) {
    match unwrap(e) {
        Expr::BinaryOp { left, op: o, right } if o == op => {
            chain(left, op, out);
            chain(right, op, out);
        }
        other => out.push(other),
    }
}

fn plain(e: &Expr, columns: &[(String, Option<PgType>)]) -> Option<String> {
    match unwrap(e) {
        Expr::BinaryOp { op: op @ (BinaryOperator::And | BinaryOperator::Or), .. } => {
            let mut operands = Vec::new();
            chain(e, op, &mut operands);
            let parts: Option<Vec<String>> = operands.iter().map(|x| plain(x, columns)).collect();
            Some(format!("({})", parts?.join(if *op == BinaryOperator::And { " AND " } else { " OR " })))
        }
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => {
            let (c, PgType::Bool) = column(expr, columns)? else { return None };
            Some(format!("(NOT {c})"))
        }
        Expr::Identifier(_) => match column(e, columns)? {
            (c, PgType::Bool) => Some(c),
            _ => None,
        },
        _ => Some(format!("({})", comparison(e, columns)?)),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Parent {
    Top,
    And,
    Or,
}

fn pretty(e: &Expr, columns: &[(String, Option<PgType>)], parent: Parent) -> Option<String> {
    match unwrap(e) {
        Expr::BinaryOp { op: op @ (BinaryOperator::And | BinaryOperator::Or), .. } => {
            let me = if *op == BinaryOperator::And { Parent::And } else { Parent::Or };
            if me == Parent::Or && parent == Parent::And {
                // (Where PostgreSQL's pretty printer keeps the parentheses is not told here.)
                return None;
            }
            let mut operands = Vec::new();
            chain(e, op, &mut operands);
            let parts: Option<Vec<String>> = operands.iter().map(|x| pretty(x, columns, me)).collect();
            Some(parts?.join(if me == Parent::And { " AND " } else { " OR " }))
        }
        Expr::UnaryOp { op: UnaryOperator::Not, expr } if parent == Parent::Top => {
            let (c, PgType::Bool) = column(expr, columns)? else { return None };
            Some(format!("NOT {c}"))
        }
        Expr::UnaryOp { .. } => None,
        Expr::Identifier(_) => match column(e, columns)? {
            (c, PgType::Bool) => Some(c),
            _ => None,
        },
        _ => comparison(e, columns),
    }
}
