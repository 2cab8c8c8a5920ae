//! Where a query's result columns come from: for a column that is a table's column, the table's OID and the
//! column's number, which RowDescription carries (drivers read them: pgjdbc asks the catalogs whether such a
//! column is a `serial`). Other columns (computed, from views or subqueries) have none, as in PostgreSQL.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{Expr, SelectItem, SetExpr, TableFactor};

use super::names;
use super::schema::{sqlite_name, Schema};

/// The origin of each result column of `body` (the top level of a query), or an empty list when they cannot be
/// told apart (the caller then sends none).
pub fn of_query(body: &SetExpr, schema: &dyn Schema) -> Vec<Option<(u32, i16)>> {
    let SetExpr::Select(select) = body else { return Vec::new() };
    // The FROM items that are tables: alias, SQLite name, columns.
    let mut tables: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut only_tables = true;
    for twj in &select.from {
        let factors = std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
        for factor in factors {
            match factor {
                TableFactor::Table { name, alias, args: None, .. } => {
                    let Ok((schema_name, rel)) = names::relation(name) else { return Vec::new() };
                    let sqlite = sqlite_name(schema_name.as_deref(), &rel);
                    let Ok(Some(columns)) = schema.columns(&sqlite) else {
                        only_tables = false;
                        continue;
                    };
                    let alias = alias.as_ref().map(|a| names::ident(&a.name)).unwrap_or(rel);
                    tables.push((alias, sqlite, columns.iter().map(|c| c.name.clone()).collect()));
                }
                _ => only_tables = false,
            }
        }
    }
    let find = |rel: Option<&str>, column: &str| -> Option<(u32, i16)> {
        let mut hits = tables
            .iter()
            .filter(|(alias, _, _)| rel.is_none_or(|r| r == alias))
            .filter_map(|(_, sqlite, cols)| cols.iter().position(|c| c == column).map(|i| (sqlite, i)));
        let (sqlite, i) = hits.next()?;
        if hits.next().is_some() || sqlite.starts_with("_pg_") {
            return None;
        }
        Some((crate::sql::pg_catalog::relation_oid(sqlite), i16::try_from(i + 1).ok()?))
    };
    let mut origins = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => origins.push(match e {
                Expr::Identifier(id) => find(None, &names::ident(id)),
                Expr::CompoundIdentifier(ids) if ids.len() == 2 => {
                    find(Some(&names::ident(&ids[0])), &names::ident(&ids[1]))
                }
                _ => None,
            }),
            SelectItem::Wildcard(_) if only_tables => {
                for (_, sqlite, cols) in &tables {
                    let oid = crate::sql::pg_catalog::relation_oid(sqlite);
                    origins.extend((1..=cols.len()).map(|n| i16::try_from(n).ok().map(|n| (oid, n))));
                }
            }
            _ => return Vec::new(),
        }
    }
    origins
}

/// The origins of the RETURNING columns of a statement writing table `name`.
pub fn of_returning(
    name: &sqlparser::ast::ObjectName,
    items: &[SelectItem],
    schema: &dyn Schema,
) -> Vec<Option<(u32, i16)>> {
    let Ok((schema_name, rel)) = names::relation(name) else { return Vec::new() };
    let sqlite = sqlite_name(schema_name.as_deref(), &rel);
    let Ok(Some(columns)) = schema.columns(&sqlite) else { return Vec::new() };
    let oid = crate::sql::pg_catalog::relation_oid(&sqlite);
    let position = |c: &str| columns.iter().position(|x| x.name == c).and_then(|i| i16::try_from(i + 1).ok());
    let mut origins = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => origins.push(match e {
                Expr::Identifier(id) => position(&names::ident(id)).map(|n| (oid, n)),
                Expr::CompoundIdentifier(ids) if ids.len() == 2 => position(&names::ident(&ids[1])).map(|n| (oid, n)),
                _ => None,
            }),
            SelectItem::Wildcard(_) => {
                origins.extend((1..=columns.len()).map(|n| i16::try_from(n).ok().map(|n| (oid, n))));
            }
            _ => return Vec::new(),
        }
    }
    origins
}
