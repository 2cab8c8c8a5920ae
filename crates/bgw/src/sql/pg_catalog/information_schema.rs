//! The `information_schema` views (`schemata`, `tables`, `columns`, `table_constraints`, `key_column_usage`), as
//! SQLite tables `information_schema_X`. Their domains are declared as their base types (`sql_identifier` as
//! `name`, `cardinal_number` as `int4`, `character_data` and `yes_or_no` as `varchar`). Every relation is listed
//! (the catalogs too, as PostgreSQL lists them to a superuser): the host has no table privileges.
//!
//! Runs in: a backend process.

use super::host::role_name;
use super::model::{Column, Key, Table};
use super::relations::{int, opt_text, referenced_attnums, referenced_index, text, Env, Rows, NULL};
use crate::sql::types::PgType;
use crate::sql::value::Value;

fn yes_no(v: bool) -> Value {
    text(if v { "YES" } else { "NO" })
}

pub(super) fn schemata_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let db = env.source.current_database();
    let superuser = env.source.is_superuser();
    let me = env.source.current_user();
    Ok(model
        .namespaces
        .iter()
        .filter_map(|n| {
            let owner = role_name(env.source, n.owner);
            (superuser || owner == me)
                .then(|| vec![text(db.clone()), text(n.name.clone()), text(owner), NULL, NULL, NULL, NULL])
        })
        .collect())
}

pub(super) fn tables_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let db = env.source.current_database();
    Ok(model
        .tables
        .iter()
        .map(|t| {
            let table = t.kind == b'r';
            vec![
                text(db.clone()),
                text(t.schema.clone()),
                text(t.name.clone()),
                text(if table { "BASE TABLE" } else { "VIEW" }),
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                yes_no(table),
                yes_no(false),
                NULL,
            ]
        })
        .collect())
}

/// `data_type`: the type's SQL name without modifiers, `ARRAY` for arrays.
fn data_type(ty: PgType) -> String {
    if ty.is_array() {
        "ARRAY".into()
    } else {
        ty.sql_name().into()
    }
}

fn column_row(db: &str, t: &Table, c: &Column) -> Vec<Value> {
    use PgType as T;
    let ty = c.ty;
    let modifier = (c.typmod >= 0).then_some(c.typmod);
    let char_length = match ty {
        T::Varchar | T::Bpchar => modifier.map(|m| i64::from(m - 4)),
        _ => None,
    };
    let octet_length = match ty {
        T::Varchar | T::Bpchar | T::Text => Some(char_length.map_or(1_073_741_824, |n| n * 4)),
        _ => None,
    };
    let (precision, radix, scale) = match ty {
        T::Int2 => (Some(16), Some(2), Some(0)),
        T::Int4 => (Some(32), Some(2), Some(0)),
        T::Int8 => (Some(64), Some(2), Some(0)),
        T::Float4 => (Some(24), Some(2), None),
        T::Float8 => (Some(53), Some(2), None),
        T::Numeric => match modifier {
            Some(m) => (Some(i64::from(((m - 4) >> 16) & 0xffff)), Some(10), Some(i64::from((m - 4) & 0xffff))),
            None => (None, Some(10), None),
        },
        _ => (None, None, None),
    };
    let datetime_precision = match ty {
        T::Date => Some(0),
        T::Time | T::Timestamp | T::Timestamptz | T::Interval => Some(i64::from(modifier.unwrap_or(6))),
        _ => None,
    };
    let opt = |v: Option<i64>| v.map_or(Value::Null, int);
    vec![
        text(db),
        text(t.schema.clone()),
        text(t.name.clone()),
        text(c.name.clone()),
        int(c.num),
        opt_text(c.default.clone().filter(|_| !c.generated)),
        yes_no(!c.not_null),
        text(data_type(ty)),
        opt(char_length),
        opt(octet_length),
        opt(precision),
        opt(radix),
        opt(scale),
        opt(datetime_precision),
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        text(db),
        text("pg_catalog"),
        text(ty.typname()),
        NULL,
        NULL,
        NULL,
        NULL,
        text(c.num.to_string()),
        yes_no(false),
        yes_no(false),
        NULL,
        NULL,
        NULL,
        NULL,
        NULL,
        yes_no(false),
        text(if c.generated { "ALWAYS" } else { "NEVER" }),
        opt_text(c.default.clone().filter(|_| c.generated)),
        yes_no(t.kind == b'r'),
    ]
}

pub(super) fn columns_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let db = env.source.current_database();
    Ok(model.tables.iter().flat_map(|t| t.columns.iter().map(|c| column_row(&db, t, c))).collect())
}

/// A constraint as `information_schema` lists it: name, type, columns, the referenced table and columns of a
/// foreign key.
type Constraint = (String, &'static str, Vec<i16>, Option<(String, Vec<String>)>);

/// A table's constraints.
fn constraints(t: &Table) -> Vec<Constraint> {
    let mut out = Vec::new();
    for i in &t.indexes {
        if let Some((name, _)) = &i.constraint {
            let columns = i
                .keys
                .iter()
                .filter_map(|k| match k {
                    Key::Column(n, _) => Some(*n),
                    Key::Expression => None,
                })
                .collect();
            out.push((name.clone(), if i.primary { "PRIMARY KEY" } else { "UNIQUE" }, columns, None));
        }
    }
    for fk in &t.foreign_keys {
        out.push((
            fk.name.clone(),
            "FOREIGN KEY",
            fk.columns.clone(),
            Some((fk.referenced.clone(), fk.referenced_columns.clone())),
        ));
    }
    for check in &t.checks {
        out.push((check.name.clone(), "CHECK", check.columns.clone(), None));
    }
    out
}

pub(super) fn table_constraints_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let db = env.source.current_database();
    let mut rows = Vec::new();
    for t in model.tables.iter().filter(|t| t.kind == b'r') {
        let row = |name: String, kind: &str| {
            let nulls_distinct = matches!(kind, "PRIMARY KEY" | "UNIQUE");
            vec![
                text(db.clone()),
                text(t.schema.clone()),
                text(name),
                text(db.clone()),
                text(t.schema.clone()),
                text(t.name.clone()),
                text(kind),
                yes_no(false),
                yes_no(false),
                yes_no(true),
                if nulls_distinct { yes_no(true) } else { NULL },
            ]
        };
        for (name, kind, _, _) in constraints(t) {
            rows.push(row(name, kind));
        }
        for c in t.columns.iter().filter(|c| c.not_null) {
            rows.push(row(format!("{}_{}_{}_not_null", t.namespace, t.oid, c.num), "CHECK"));
        }
    }
    Ok(rows)
}

pub(super) fn key_column_usage_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let db = env.source.current_database();
    let mut rows = Vec::new();
    for t in model.tables.iter().filter(|t| t.kind == b'r') {
        for (name, kind, columns, referenced) in constraints(t) {
            if kind == "CHECK" {
                continue;
            }
            // A foreign key's columns' positions in the referenced unique constraint.
            let unique_positions: Vec<Option<i64>> = match &referenced {
                Some((table, ref_columns)) => {
                    let nums = referenced_attnums(&model, table, ref_columns);
                    let index = referenced_index(&model, table, &nums);
                    nums.iter()
                        .map(|n| {
                            let position = index?.keys.iter().position(|k| matches!(k, Key::Column(x, _) if x == n))?;
                            i64::try_from(position + 1).ok()
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            for (position, num) in columns.iter().enumerate() {
                let Some(column) = t.columns.iter().find(|c| c.num == *num) else { continue };
                rows.push(vec![
                    text(db.clone()),
                    text(t.schema.clone()),
                    text(name.clone()),
                    text(db.clone()),
                    text(t.schema.clone()),
                    text(t.name.clone()),
                    text(column.name.clone()),
                    int(i64::try_from(position + 1).unwrap_or(0)),
                    unique_positions.get(position).copied().flatten().map_or(NULL, int),
                ]);
            }
        }
    }
    Ok(rows)
}
