//! INSERT (VALUES, SELECT, ON CONFLICT, RETURNING), UPDATE (SET, FROM, RETURNING) and DELETE (RETURNING), with
//! every value converted to its column's type as PostgreSQL's assignment does.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{
    Assignment, AssignmentTarget, ConflictTarget, Delete, FromTable, Insert, OnConflictAction, OnInsert, SelectItem,
    SetExpr, TableFactor, TableObject, Update, UpdateTableFromKind,
};

use super::diagnose::{Diagnostics, Writes};
use super::expr::{Rel, Translator, Typed};
use super::names::{self, quote};
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::{ColumnInfo, Kind};
use crate::sql::types::PgType;

type Out = (String, Kind, Vec<ColumnInfo>);

/// A target column's type and modifier (from its declared type: `varchar(20)` → 24).
fn column_typmod(decltype: &str) -> i32 {
    let Some(open) = decltype.find('(') else { return -1 };
    let inner = decltype[open + 1..].trim_end_matches(')');
    let nums: Vec<i32> = inner.split(',').filter_map(|p| p.trim().parse().ok()).collect();
    let base = decltype[..open].trim().to_ascii_lowercase();
    match (base.as_str(), nums.as_slice()) {
        ("varchar" | "bpchar", [n]) => n + 4,
        ("numeric" | "numeric text", [p]) => (p << 16) + 4,
        ("numeric" | "numeric text", [p, s]) => ((p << 16) | s) + 4,
        _ => -1,
    }
}

struct Target {
    sqlite: String,
    /// The SQLite name, unquoted.
    raw: String,
    rel: Rel,
    decltypes: Vec<String>,
    identity_always: Vec<bool>,
    /// The serial or identity key's column, if the table has one.
    serial: Option<usize>,
}

impl Target {
    /// ` AS alias` for the statement's target: the alias given, else the relation's name where SQLite's differs
    /// (a table of another schema, `"s.t"`), so that `t.col` and `excluded` resolve as PostgreSQL resolves them.
    fn alias_clause(&self, alias: Option<&str>) -> String {
        match alias {
            Some(a) => format!(" AS {}", quote(a)),
            None if self.sqlite != quote(&self.rel.alias) => format!(" AS {}", quote(&self.rel.alias)),
            None => String::new(),
        }
    }
}

/// UPDATE's or DELETE's target, under its alias if it has one, pushed as the statement's scope (the caller pops
/// it); with the alias.
fn enter_target(
    tx: &mut Translator<'_>,
    name: &sqlparser::ast::ObjectName,
    alias: Option<&sqlparser::ast::TableAlias>,
) -> Result<(Target, Option<String>), SqlError> {
    let t = target(tx, name)?;
    let mut rel = t.rel.clone();
    let alias_name = alias.map(|a| names::ident(&a.name));
    if let Some(a) = &alias_name {
        rel.alias = a.clone();
    }
    tx.scopes.push(vec![rel]);
    Ok((t, alias_name))
}

fn target(tx: &mut Translator<'_>, name: &sqlparser::ast::ObjectName) -> Result<Target, SqlError> {
    let (schema, rel_name) = names::relation(name)?;
    if schema.as_deref() == Some("pg_catalog") || schema.as_deref() == Some("information_schema") {
        return Err(SqlError::error("42809", format!("cannot change relation \"{rel_name}\"")));
    }
    let sqlite = super::schema::sqlite_name(schema.as_deref(), &rel_name);
    let columns = tx.cx.schema.columns(&sqlite)?.filter(|_| !sqlite.starts_with("_pg_")).ok_or_else(|| {
        SqlError::error(
            "42P01",
            format!("relation \"{}\" does not exist", names::parts(name).unwrap_or_default().join(".")),
        )
    })?;
    Ok(Target {
        raw: sqlite.clone(),
        sqlite: quote(&sqlite),
        rel: Rel { exprs: None, alias: rel_name, columns: columns.iter().map(|c| (c.name.clone(), c.ty)).collect() },
        decltypes: columns.iter().map(|c| c.decltype.clone()).collect(),
        identity_always: columns.iter().map(|c| c.identity_always).collect(),
        serial: columns.iter().position(|c| c.serial),
    })
}

/// `value` converted for assignment to a column of type `ty` (declared `decltype`).
fn assign(
    tx: &mut Translator<'_>,
    value: Typed,
    ty: Option<PgType>,
    decltype: &str,
    column: &str,
) -> Result<String, SqlError> {
    let Some(ty) = ty else { return Ok(value.sql) };
    let typmod = column_typmod(decltype);
    let from = value.ty;
    let assignable = match from {
        None => true,
        Some(f) => {
            // PostgreSQL's assignment casts: among numbers, among strings, among dates and times.
            let datetime = |t: PgType| matches!(t, PgType::Date | PgType::Timestamp | PgType::Timestamptz);
            f == ty
                || super::expr::implicit(f, ty)
                || (f.is_numeric() && ty.is_numeric())
                || (f.is_string() && ty.is_string())
                || (datetime(f) && datetime(ty))
        }
    };
    if !assignable {
        return Err(SqlError::error(
            "42804",
            format!(
                "column \"{column}\" is of type {} but expression is of type {}",
                ty.sql_name(),
                from.map_or("unknown", PgType::sql_name)
            ),
        )
        .with_hint("You will need to rewrite or cast the expression."));
    }
    if typmod >= 0 {
        // A modifier (varchar(n), numeric(p,s)) applies to every value stored: PostgreSQL's assignment cast
        // (22001 past varchar's length, numeric rounded to its scale).
        return match (&value.lit, value.ty) {
            (super::expr::Lit::Str(_), None) => tx.cast(&value, ty, typmod, false),
            (super::expr::Lit::Null, _) => Ok("NULL".into()),
            _ => {
                let sql = tx.cast(&value, ty, -1, false)?;
                Ok(format!("pg_cast_assign({sql}, '{0}', '{0}', {typmod})", ty.typname()))
            }
        };
    }
    match from {
        Some(f)
            if f != ty && !(f.is_integer() && ty.is_integer() && super::expr::width(f) <= super::expr::width(ty)) =>
        {
            tx.cast(&value, ty, -1, false)
        }
        _ => tx.coerce(value, ty),
    }
}

fn returning(tx: &mut Translator<'_>, items: Option<&Vec<SelectItem>>) -> Result<(String, Vec<ColumnInfo>), SqlError> {
    let Some(items) = items else { return Ok((String::new(), Vec::new())) };
    // SQLite's RETURNING sees the target's columns unqualified (not through an alias).
    let saved = tx.scopes.last().cloned();
    if let Some(target) = tx.scopes.last_mut().and_then(|scope| scope.first_mut()) {
        target.exprs = Some(target.columns.iter().map(|(c, _)| quote(c)).collect());
    }
    let result = returning_items(tx, items);
    if let (Some(scope), Some(saved)) = (tx.scopes.last_mut(), saved) {
        *scope = saved;
    }
    result
}

fn returning_items(tx: &mut Translator<'_>, items: &[SelectItem]) -> Result<(String, Vec<ColumnInfo>), SqlError> {
    let mut parts = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let t = tx.expr(e)?;
                let name = t.name.clone().unwrap_or_else(|| "?column?".into());
                parts.push(format!("{} AS {}", t.sql, quote(&name)));
                columns.push(ColumnInfo { name, ty: t.ty.or(Some(PgType::Text)) });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let t = tx.expr(expr)?;
                let name = names::ident(alias);
                parts.push(format!("{} AS {}", t.sql, quote(&name)));
                columns.push(ColumnInfo { name, ty: t.ty.or(Some(PgType::Text)) });
            }
            SelectItem::Wildcard(_) => {
                let rels = tx.scopes.last().cloned().unwrap_or_default();
                for rel in rels.iter().take(1) {
                    for (c, ty) in &rel.columns {
                        parts.push(quote(c));
                        columns.push(ColumnInfo { name: c.clone(), ty: ty.or(Some(PgType::Text)) });
                    }
                }
            }
            _ => return Err(unsupported("this RETURNING item")),
        }
    }
    Ok((format!(" RETURNING {}", parts.join(", ")), columns))
}

pub(super) fn insert(tx: &mut Translator<'_>, ins: &Insert) -> Result<Out, SqlError> {
    if ins.or.is_some()
        || ins.ignore
        || ins.overwrite
        || ins.partitioned.is_some()
        || !ins.after_columns.is_empty()
        || ins.replace_into
        || ins.priority.is_some()
        || ins.insert_alias.is_some()
        || ins.settings.is_some()
        || ins.format_clause.is_some()
        || ins.output.is_some()
        || !ins.assignments.is_empty()
    {
        return Err(unsupported("this form of INSERT"));
    }
    let TableObject::TableName(name) = &ins.table else {
        return Err(unsupported("INSERT into a function"));
    };
    let t = target(tx, name)?;
    let alias = ins.table_alias.as_ref().map(|a| names::ident(&a.alias));
    // The columns given, else all of them.
    let cols: Vec<usize> = if ins.columns.is_empty() {
        (0..t.rel.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in &ins.columns {
            let n = names::parts(c)?.join(".");
            let i = t.rel.columns.iter().position(|(cn, _)| *cn == n).ok_or_else(|| {
                SqlError::error("42703", format!("column \"{n}\" of relation \"{}\" does not exist", t.rel.alias))
            })?;
            if v.contains(&i) {
                return Err(SqlError::error("42701", format!("column \"{n}\" specified more than once")));
            }
            v.push(i);
        }
        v
    };
    for &i in &cols {
        if t.identity_always[i] {
            let column = &t.rel.columns[i].0;
            return Err(SqlError::error(
                "428C9",
                format!("cannot insert a non-DEFAULT value into column \"{column}\""),
            )
            .with_detail(format!("Column \"{column}\" is an identity column defined as GENERATED ALWAYS."))
            .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
        }
    }
    let mut sql = format!("INSERT INTO {}{}", t.sqlite, t.alias_clause(alias.as_deref()));
    // Without a column list, VALUES rows may be shorter than the table: the rest take their defaults.
    let cols: Vec<usize> = match ins.source.as_deref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(values)) if ins.columns.is_empty() => {
            let width = values.rows.iter().map(|r| r.len()).max().unwrap_or(0);
            cols.into_iter().take(width.max(1)).collect()
        }
        _ => cols,
    };
    // A serial key takes its values from the table's sequence as PostgreSQL's nextval() gives them: the next
    // numbers after the sequence's last value, whatever keys were given explicitly; an explicit key leaves the
    // sequence where it was (so a later default may meet it: 23505, as in PostgreSQL).
    let seq = t.serial.map(|_| {
        format!("coalesce((SELECT seq FROM sqlite_sequence WHERE name = {}), 0)", super::names::literal(&t.raw))
    });
    let serial_default = match (t.serial, &seq) {
        (Some(si), Some(seq)) if !cols.contains(&si) => Some((si, seq.clone())),
        (Some(_), Some(seq)) => {
            let name = super::names::literal(&t.raw);
            tx.before
                .push("CREATE TEMP TABLE IF NOT EXISTS _pg_sequence_kept (name TEXT PRIMARY KEY, seq INTEGER)".into());
            tx.before.push(format!("INSERT OR REPLACE INTO temp._pg_sequence_kept VALUES ({name}, {seq})"));
            tx.after.push(format!(
                "UPDATE sqlite_sequence SET seq = (SELECT seq FROM temp._pg_sequence_kept WHERE name = {name}) WHERE name = {name}"
            ));
            None
        }
        _ => None,
    };
    let mut col_list: Vec<String> = cols.iter().map(|&i| quote(&t.rel.columns[i].0)).collect();
    if let Some((si, _)) = &serial_default {
        col_list.push(quote(&t.rel.columns[*si].0));
    }
    match ins.source.as_deref() {
        None => match &serial_default {
            Some((_, seq)) => sql.push_str(&format!(" ({}) VALUES ({seq} + 1)", col_list.join(", "))),
            None => sql.push_str(" DEFAULT VALUES"),
        },
        Some(q) => {
            sql.push_str(&format!(" ({})", col_list.join(", ")));
            match q.body.as_ref() {
                SetExpr::Values(values) if q.with.is_none() && q.order_by.is_none() && q.limit_clause.is_none() => {
                    tx.scopes.push(Vec::new());
                    let mut rows = Vec::new();
                    let mut row_exprs = Vec::new();
                    for row in &values.rows {
                        if row.len() > cols.len() {
                            tx.scopes.pop();
                            return Err(SqlError::error("42601", "INSERT has more expressions than target columns"));
                        }
                        let mut items = Vec::new();
                        for (k, e) in row.iter().enumerate() {
                            if matches!(e, sqlparser::ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
                            {
                                tx.scopes.pop();
                                return Err(unsupported("DEFAULT in a VALUES list"));
                            }
                            let i = cols[k];
                            let v = tx.expr(e)?;
                            let (cname, ty) = t.rel.columns[i].clone();
                            items.push(assign(tx, v, ty, &t.decltypes[i], &cname)?);
                        }
                        if row.len() < cols.len() && !ins.columns.is_empty() {
                            tx.scopes.pop();
                            return Err(SqlError::error("42601", "INSERT has more target columns than expressions"));
                        }
                        if let Some((_, seq)) = &serial_default {
                            items.push(format!("{seq} + {}", rows.len() + 1));
                        }
                        rows.push(format!("({})", items.join(", ")));
                        row_exprs.push(items);
                    }
                    tx.scopes.pop();
                    sql.push_str(&format!(" VALUES {}", rows.join(", ")));
                    tx.diagnostics = Some(Diagnostics {
                        table: t.rel.alias.clone(),
                        sqlite_table: t.raw.clone(),
                        writes: Writes::Rows {
                            columns: cols.iter().map(|&i| t.rel.columns[i].0.clone()).collect(),
                            rows: row_exprs,
                        },
                    });
                }
                _ => {
                    let out = tx.query(q)?;
                    if out.columns.len() > cols.len() {
                        return Err(SqlError::error("42601", "INSERT has more expressions than target columns"));
                    }
                    let mut items = Vec::new();
                    for (k, c) in out.columns.iter().enumerate() {
                        let i = cols[k];
                        let v = Typed {
                            sql: format!("_s.{}", quote(&c.name)),
                            ty: c.ty,
                            name: None,
                            lit: super::expr::Lit::No,
                        };
                        let (cname, ty) = t.rel.columns[i].clone();
                        items.push(assign(tx, v, ty, &t.decltypes[i], &cname)?);
                    }
                    if out.columns.len() < cols.len() {
                        // Fewer columns than targets: the rest take their defaults.
                        let mut used: Vec<String> =
                            cols.iter().take(out.columns.len()).map(|&i| quote(&t.rel.columns[i].0)).collect();
                        if let Some((si, _)) = &serial_default {
                            used.push(quote(&t.rel.columns[*si].0));
                        }
                        sql = format!(
                            "INSERT INTO {}{} ({})",
                            t.sqlite,
                            t.alias_clause(alias.as_deref()),
                            used.join(", ")
                        );
                    }
                    if let Some((_, seq)) = &serial_default {
                        items.push(format!("{seq} + row_number() OVER ()"));
                    }
                    // `WHERE true` keeps SQLite from reading a following ON CONFLICT as a join constraint.
                    sql.push_str(&format!(" SELECT {} FROM ({}) AS _s WHERE true", items.join(", "), out.sql));
                }
            }
        }
    }
    // ON CONFLICT and RETURNING see the target table (and `excluded`).
    let mut rel = t.rel.clone();
    if let Some(a) = &alias {
        rel.alias = a.clone();
    }
    tx.scopes.push(vec![rel.clone()]);
    let result = (|| {
        match &ins.on {
            None => {}
            Some(OnInsert::OnConflict(oc)) => {
                sql.push_str(" ON CONFLICT");
                match &oc.conflict_target {
                    None => {}
                    Some(ConflictTarget::Columns(cs)) => {
                        let list: Vec<String> = cs.iter().map(|c| quote(&names::ident(c))).collect();
                        sql.push_str(&format!(" ({})", list.join(", ")));
                    }
                    Some(ConflictTarget::OnConstraint(_)) => return Err(unsupported("ON CONFLICT ON CONSTRAINT")),
                }
                match &oc.action {
                    OnConflictAction::DoNothing => sql.push_str(" DO NOTHING"),
                    OnConflictAction::DoUpdate(du) => {
                        if oc.conflict_target.is_none() {
                            return Err(SqlError::error(
                                "42601",
                                "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                            )
                            .with_hint("For example, ON CONFLICT (column_name)."));
                        }
                        let mut excluded = t.rel.clone();
                        excluded.alias = "excluded".into();
                        tx.scopes.last_mut().expect("scope").push(excluded);
                        sql.push_str(" DO UPDATE SET ");
                        sql.push_str(&assignments(tx, &t, &du.assignments)?);
                        if let Some(w) = &du.selection {
                            let c = tx.expr(w)?;
                            sql.push_str(&format!(" WHERE {}", tx.coerce(c, PgType::Bool)?));
                        }
                        tx.scopes.last_mut().expect("scope").pop();
                    }
                }
            }
            Some(_) => return Err(unsupported("ON DUPLICATE KEY")),
        }
        let (ret, columns) = returning(tx, ins.returning.as_ref())?;
        sql.push_str(&ret);
        Ok(columns)
    })();
    tx.scopes.pop();
    let columns = result?;
    Ok((sql, Kind::Insert, columns))
}

fn assignments(tx: &mut Translator<'_>, t: &Target, list: &[Assignment]) -> Result<String, SqlError> {
    Ok(assignment_list(tx, t, list)?.iter().map(|(c, v)| format!("{} = {v}", quote(c))).collect::<Vec<_>>().join(", "))
}

/// Each assignment: the column and the SQLite expression assigned to it.
fn assignment_list(
    tx: &mut Translator<'_>,
    t: &Target,
    list: &[Assignment],
) -> Result<Vec<(String, String)>, SqlError> {
    let mut parts = Vec::new();
    for a in list {
        let AssignmentTarget::ColumnName(c) = &a.target else {
            return Err(unsupported("multiple-column assignment"));
        };
        let n = names::parts(c)?.last().cloned().unwrap_or_default();
        let i = t.rel.columns.iter().position(|(cn, _)| *cn == n).ok_or_else(|| {
            SqlError::error("42703", format!("column \"{n}\" of relation \"{}\" does not exist", t.rel.alias))
        })?;
        if matches!(&a.value, sqlparser::ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
        {
            return Err(unsupported("SET column = DEFAULT"));
        }
        let v = tx.expr(&a.value)?;
        let (cname, ty) = t.rel.columns[i].clone();
        let value = assign(tx, v, ty, &t.decltypes[i], &cname)?;
        parts.push((cname, value));
    }
    Ok(parts)
}

pub(super) fn update(tx: &mut Translator<'_>, up: &Update) -> Result<Out, SqlError> {
    if up.or.is_some()
        || !up.order_by.is_empty()
        || up.limit.is_some()
        || up.output.is_some()
        || !up.table.joins.is_empty()
    {
        return Err(unsupported("this form of UPDATE"));
    }
    let TableFactor::Table { name, alias, .. } = &up.table.relation else {
        return Err(unsupported("UPDATE of this relation"));
    };
    let (t, alias_name) = enter_target(tx, name, alias.as_ref())?;
    let result = (|| {
        let mut from_sql = String::new();
        if let Some(from) = &up.from {
            // UPDATE ... FROM: the other relations join the target's scope (SQLite's UPDATE FROM).
            let (UpdateTableFromKind::BeforeSet(items) | UpdateTableFromKind::AfterSet(items)) = from;
            let mut parts = Vec::new();
            for twj in items {
                let item = tx.table_with_joins(twj)?;
                if !item.is_empty() {
                    parts.push(item);
                }
            }
            if !parts.is_empty() {
                from_sql = format!(" FROM {}", parts.join(", "));
            }
        }
        let sets = assignment_list(tx, &t, &up.assignments)?;
        let set = sets.iter().map(|(c, v)| format!("{} = {v}", quote(c))).collect::<Vec<_>>().join(", ");
        let mut sql = format!("UPDATE {}{}", t.sqlite, t.alias_clause(alias_name.as_deref()));
        sql.push_str(&format!(" SET {set}"));
        sql.push_str(&from_sql);
        from_sql.clear();
        if let Some(w) = &up.selection {
            let c = tx.expr(w)?;
            sql.push_str(&format!(" WHERE {}", tx.coerce(c, PgType::Bool)?));
        }
        tx.diagnostics = Some(Diagnostics {
            table: t.rel.alias.clone(),
            sqlite_table: t.raw.clone(),
            writes: Writes::Update {
                alias: alias_name.clone().unwrap_or_else(|| t.rel.alias.clone()),
                sets,
                filter: sql.split_once(" WHERE ").map(|(_, w)| w.to_owned()),
            },
        });
        let (ret, columns) = returning(tx, up.returning.as_ref())?;
        sql.push_str(&ret);
        Ok((sql, Kind::Update, columns))
    })();
    tx.scopes.pop();
    result
}

pub(super) fn delete(tx: &mut Translator<'_>, del: &Delete) -> Result<Out, SqlError> {
    if !del.tables.is_empty() || !del.order_by.is_empty() || del.limit.is_some() || del.output.is_some() {
        return Err(unsupported("this form of DELETE"));
    }
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &del.from;
    let [twj] = from.as_slice() else {
        return Err(unsupported("DELETE from several tables"));
    };
    if !twj.joins.is_empty() {
        return Err(unsupported("DELETE with a join"));
    }
    let TableFactor::Table { name, alias, .. } = &twj.relation else {
        return Err(unsupported("DELETE from this relation"));
    };
    let (t, alias_name) = enter_target(tx, name, alias.as_ref())?;
    let result = (|| {
        let mut sql = format!("DELETE FROM {}{}", t.sqlite, t.alias_clause(alias_name.as_deref()));
        match &del.using {
            // DELETE ... USING: the rows of the target for which some row of the other relations meets the
            // condition (SQLite has no USING: a correlated EXISTS over them, the same rows).
            Some(using) => {
                tx.scopes.push(Vec::new());
                let inner = (|| {
                    let mut items = Vec::new();
                    for twj in using {
                        let item = tx.table_with_joins(twj)?;
                        if !item.is_empty() {
                            items.push(item);
                        }
                    }
                    let condition = match &del.selection {
                        Some(w) => {
                            let c = tx.expr(w)?;
                            format!(" WHERE {}", tx.coerce(c, PgType::Bool)?)
                        }
                        None => String::new(),
                    };
                    Ok::<_, SqlError>(format!(" WHERE EXISTS (SELECT 1 FROM {}{condition})", items.join(", ")))
                })();
                tx.scopes.pop();
                sql.push_str(&inner?);
            }
            None => {
                if let Some(w) = &del.selection {
                    let c = tx.expr(w)?;
                    sql.push_str(&format!(" WHERE {}", tx.coerce(c, PgType::Bool)?));
                }
            }
        }
        tx.diagnostics = Some(Diagnostics {
            table: t.rel.alias.clone(),
            sqlite_table: t.raw.clone(),
            writes: Writes::Delete {
                alias: alias_name.clone().unwrap_or_else(|| t.rel.alias.clone()),
                filter: sql.split_once(" WHERE ").map(|(_, w)| w.to_owned()),
            },
        });
        let (ret, columns) = returning(tx, del.returning.as_ref())?;
        sql.push_str(&ret);
        Ok((sql, Kind::Delete, columns))
    })();
    tx.scopes.pop();
    result
}
