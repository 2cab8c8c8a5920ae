//! The schema of a session's SQLite database, read the way the catalogs show it: schemas, relations (tables and
//! views, with the catalogs themselves), their columns with PostgreSQL types, indexes, primary keys, unique and
//! foreign keys, CHECK constraints, defaults.
//!
//! Sources: `sqlite_schema` (what exists), `pragma_table_xinfo` (columns), `pragma_index_list` and
//! `pragma_index_xinfo` (indexes; SQLite's automatic indexes of PRIMARY KEY and UNIQUE get PostgreSQL's names
//! `t_pkey` and `t_a_key`; a rowid primary key, which has no index in SQLite, gets one here), and
//! `pragma_foreign_key_list`. CHECK constraints, generation expressions and explicit constraint names are not in
//! any pragma: they are read from the `CREATE TABLE` text with sqlparser (a text it cannot parse has none).
//!
//! Runs in: a backend process (from a catalog scan or a catalog function).

use std::collections::HashMap;
use std::rc::Rc;

use rusqlite::Connection;
use sqlparser::ast::{ColumnOption, Expr, Statement, TableConstraint};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::relations::ALL;
use super::{hashed_oid, namespace_oid, relation_oid, BOOTSTRAP_SUPERUSER, PG_DATABASE_OWNER};
use crate::sql::types::PgType;

/// A schema.
#[derive(Debug, Clone)]
pub(super) struct Namespace {
    pub oid: u32,
    pub name: String,
    pub owner: u32,
}

/// A table or view (a user's or a catalog).
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub oid: u32,
    pub sqlite_name: String,
    pub schema: String,
    pub namespace: u32,
    pub name: String,
    /// `r` (table) or `v` (view).
    pub kind: u8,
    /// The `CREATE` text (empty for a catalog).
    pub sql: String,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    pub checks: Vec<Check>,
    /// Whether SQLite triggers are defined on it, or foreign keys reference it (PostgreSQL's foreign keys are
    /// triggers on the referenced table).
    pub has_triggers: bool,
}

/// A column.
#[derive(Debug, Clone)]
pub(super) struct Column {
    /// `attnum`, from 1.
    pub num: i16,
    pub name: String,
    pub ty: PgType,
    /// `atttypmod` (-1: none).
    pub typmod: i32,
    pub not_null: bool,
    /// The default (or generation) expression's text.
    pub default: Option<String>,
    /// Whether the column is generated (`GENERATED ALWAYS AS`).
    pub generated: bool,
}

/// An index key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Key {
    /// A column (`attnum`) and whether it sorts descending.
    Column(i16, bool),
    /// An expression.
    Expression,
}

/// An index.
#[derive(Debug, Clone)]
pub(super) struct Index {
    pub oid: u32,
    pub name: String,
    pub unique: bool,
    pub primary: bool,
    /// Made by a PRIMARY KEY or UNIQUE constraint (`pg_constraint` has a row for it).
    pub constraint: Option<(String, u32)>,
    pub keys: Vec<Key>,
    pub partial: bool,
    /// The `CREATE INDEX` text, for an index made by one.
    pub sql: Option<String>,
}

/// A foreign key.
#[derive(Debug, Clone)]
pub(super) struct ForeignKey {
    pub oid: u32,
    pub name: String,
    pub columns: Vec<i16>,
    /// The referenced table's SQLite name.
    pub referenced: String,
    /// The referenced columns' names (the referenced table's primary key when the key names none).
    pub referenced_columns: Vec<String>,
    /// `confupdtype` / `confdeltype`: `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default.
    pub on_update: u8,
    pub on_delete: u8,
}

/// A CHECK constraint.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub oid: u32,
    pub name: String,
    pub expr: String,
    pub columns: Vec<i16>,
}

/// The schema.
#[derive(Debug, Clone, Default)]
pub(super) struct Model {
    pub namespaces: Vec<Namespace>,
    pub tables: Vec<Table>,
}

thread_local! {
    /// The last schema read on this thread, with the text it was read from (`sqlite_schema`'s rows and the
    /// schemas): the same text is the same schema, whatever the database or transaction.
    static LAST: std::cell::RefCell<Option<(String, Rc<Model>)>> = const { std::cell::RefCell::new(None) };
}

impl Model {
    /// The table or index with relation OID `oid`: the table, and the index's position in it.
    pub fn relation(&self, oid: u32) -> Option<(&Table, Option<usize>)> {
        self.tables.iter().find_map(|t| {
            if t.oid == oid {
                Some((t, None))
            } else {
                t.indexes.iter().position(|i| i.oid == oid).map(|i| (t, Some(i)))
            }
        })
    }

    pub fn table_by_sqlite_name(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.sqlite_name.eq_ignore_ascii_case(name))
    }
}

/// Whether a SQLite object is internal (never shown).
pub(super) fn is_internal(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("sqlite_") || lower.starts_with("_pg_")
}

/// The schemas (`_pg_schemas` rows, if the table exists, besides the built-in ones).
pub(super) fn namespaces(conn: &Connection) -> rusqlite::Result<Vec<Namespace>> {
    let mut out = vec![
        Namespace { oid: namespace_oid("pg_catalog"), name: "pg_catalog".into(), owner: BOOTSTRAP_SUPERUSER },
        Namespace { oid: namespace_oid("pg_toast"), name: "pg_toast".into(), owner: BOOTSTRAP_SUPERUSER },
        Namespace { oid: namespace_oid("public"), name: "public".into(), owner: PG_DATABASE_OWNER },
        Namespace {
            oid: namespace_oid("information_schema"),
            name: "information_schema".into(),
            owner: BOOTSTRAP_SUPERUSER,
        },
    ];
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type = 'table' AND name = '_pg_schemas'",
        [],
        |r| r.get(0),
    )?;
    if exists {
        let mut stmt = conn.prepare("SELECT nspname, nspowner FROM main._pg_schemas ORDER BY nspname")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))?;
        for row in rows {
            let (name, owner) = row?;
            if out.iter().any(|n| n.name == name) {
                continue;
            }
            let owner = owner.and_then(|o| u32::try_from(o).ok()).unwrap_or(BOOTSTRAP_SUPERUSER);
            out.push(Namespace { oid: namespace_oid(&name), name, owner });
        }
    }
    Ok(out)
}

/// Splits a SQLite table name into (schema, name): `s.t` is `t` of schema `s` when `s` is a schema.
pub(super) fn split_name(sqlite_name: &str, namespaces: &[Namespace]) -> (String, String) {
    if let Some((schema, name)) = sqlite_name.split_once('.') {
        if namespaces.iter().any(|n| n.name == schema) && !name.is_empty() {
            return (schema.to_owned(), name.to_owned());
        }
    }
    ("public".to_owned(), sqlite_name.to_owned())
}

/// The OID of the index a rowid primary key of `table` stands for (SQLite has none).
fn rowid_key_oid(sqlite_table: &str) -> u32 {
    hashed_oid(format!("pkey\0{sqlite_table}").as_bytes())
}

/// The OID of the sequence of an AUTOINCREMENT table (its row of `sqlite_sequence`).
pub(super) fn sequence_oid(sqlite_table: &str) -> u32 {
    hashed_oid(format!("sequence\0{sqlite_table}").as_bytes())
}

fn constraint_oid(sqlite_table: &str, name: &str) -> u32 {
    hashed_oid(format!("constraint\0{sqlite_table}\0{name}").as_bytes())
}

/// The PostgreSQL type and `atttypmod` of a column declared `decltype`. `integer` (lower case, a serial or
/// identity key) is int4 by the translator's convention; a column without a declared type is text.
pub(super) fn column_type(decltype: &str) -> (PgType, i32) {
    let trimmed = decltype.trim();
    if trimmed.is_empty() {
        return (PgType::Text, -1);
    }
    let ty = if trimmed == "integer" { PgType::Int4 } else { PgType::from_decltype(trimmed).unwrap_or(PgType::Text) };
    let args: Vec<i64> = trimmed
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| inner.split(',').filter_map(|a| a.trim().parse().ok()).collect())
        .unwrap_or_default();
    let base = ty.element().filter(|_| ty.is_array()).unwrap_or(ty);
    let typmod = match (base, args.as_slice()) {
        (PgType::Varchar | PgType::Bpchar, [n]) => i32::try_from(n + 4).unwrap_or(-1),
        (PgType::Numeric, [p]) => i32::try_from((p << 16) + 4).unwrap_or(-1),
        (PgType::Numeric, [p, s]) => i32::try_from(((p << 16) | (s & 0xffff)) + 4).unwrap_or(-1),
        (PgType::Time | PgType::Timestamp | PgType::Timestamptz, [p]) => i32::try_from(*p).unwrap_or(-1),
        // Every field (INTERVAL_FULL_RANGE) with a precision.
        (PgType::Interval, [p]) => i32::try_from((0x7fff << 16) | (p & 0xffff)).unwrap_or(-1),
        _ => -1,
    };
    (ty, typmod)
}

/// What the `CREATE TABLE` text says beyond the pragmas.
#[derive(Default)]
struct Parsed {
    primary_key_name: Option<String>,
    /// Unique constraints' names by their columns (lower case).
    unique_names: HashMap<Vec<String>, String>,
    /// Foreign keys' names by their columns (lower case).
    foreign_key_names: HashMap<Vec<String>, String>,
    /// CHECK constraints: name, expression, the column it was written on.
    checks: Vec<(Option<String>, String, Option<String>)>,
    /// Generation expressions by column (lower case).
    generated: HashMap<String, String>,
}

fn parse_create(sql: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let Ok(statements) = Parser::parse_sql(&SQLiteDialect {}, sql) else { return parsed };
    let Some(Statement::CreateTable(create)) = statements.into_iter().next() else { return parsed };
    let ident_list = |columns: &[sqlparser::ast::IndexColumn]| -> Vec<String> {
        columns
            .iter()
            .map(|c| match &c.column.expr {
                Expr::Identifier(ident) => ident.value.to_ascii_lowercase(),
                other => other.to_string().to_ascii_lowercase(),
            })
            .collect()
    };
    for column in &create.columns {
        let column_name = column.name.value.to_ascii_lowercase();
        for def in &column.options {
            let name = def.name.as_ref().map(|n| n.value.clone());
            match &def.option {
                ColumnOption::PrimaryKey(pk) => {
                    parsed.primary_key_name = name.or_else(|| pk.name.as_ref().map(|n| n.value.clone()));
                }
                ColumnOption::Unique(unique) => {
                    if let Some(name) = name.or_else(|| unique.name.as_ref().map(|n| n.value.clone())) {
                        parsed.unique_names.insert(vec![column_name.clone()], name);
                    }
                }
                ColumnOption::ForeignKey(fk) => {
                    if let Some(name) = name.or_else(|| fk.name.as_ref().map(|n| n.value.clone())) {
                        parsed.foreign_key_names.insert(vec![column_name.clone()], name);
                    }
                }
                ColumnOption::Check(check) => {
                    let name = name.or_else(|| check.name.as_ref().map(|n| n.value.clone()));
                    parsed.checks.push((name, check.expr.to_string(), Some(column_name.clone())));
                }
                ColumnOption::Generated { generation_expr: Some(expr), .. } => {
                    parsed.generated.insert(column_name.clone(), expr.to_string());
                }
                _ => {}
            }
        }
    }
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                parsed.primary_key_name = pk.name.as_ref().map(|n| n.value.clone());
            }
            TableConstraint::Unique(unique) => {
                if let Some(name) = &unique.name {
                    parsed.unique_names.insert(ident_list(&unique.columns), name.value.clone());
                }
            }
            TableConstraint::ForeignKey(fk) => {
                if let Some(name) = &fk.name {
                    let columns = fk.columns.iter().map(|c| c.value.to_ascii_lowercase()).collect();
                    parsed.foreign_key_names.insert(columns, name.value.clone());
                }
            }
            TableConstraint::Check(check) => {
                parsed.checks.push((check.name.as_ref().map(|n| n.value.clone()), check.expr.to_string(), None));
            }
            _ => {}
        }
    }
    parsed
}

/// Whether column `column` of a `CREATE TABLE` text is declared `integer` in lower case (a serial or identity
/// key, int4), as opposed to `INTEGER` (int8): SQLite's pragmas upper-case the type of a rowid key.
/// The type of a serial or identity key the translator wrote (`"id" INTEGER PRIMARY KEY AUTOINCREMENT [COLLATE
/// RTRIM | NOCASE]`, as the translator's serial_clause writes it): int4, int2 or int8; None for another column.
fn serial_key(sql: &str, column: &str) -> Option<PgType> {
    let quoted = format!("\"{}\"", column.replace('"', "\"\""));
    let at = sql.find(&format!("{quoted} INTEGER PRIMARY KEY AUTOINCREMENT"))?;
    let rest = &sql[at + quoted.len()..];
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    let def = &rest[..end];
    Some(if def.contains("COLLATE RTRIM") {
        PgType::Int4
    } else if def.contains("COLLATE NOCASE") {
        PgType::Int2
    } else {
        PgType::Int8
    })
}

/// A column default as PostgreSQL's `pg_get_expr` prints it: without the translator's parentheses, a string
/// constant with its type (`'none'::text`), a boolean as `true` / `false`.
fn default_text(default: &str, ty: PgType) -> String {
    let mut text = default.trim();
    while text.starts_with('(') && text.ends_with(')') && balanced(&text[1..text.len() - 1]) {
        text = text[1..text.len() - 1].trim();
    }
    if ty == PgType::Bool && (text == "1" || text == "0") {
        return if text == "1" { "true" } else { "false" }.to_owned();
    }
    let is_string = text.len() >= 2
        && text.starts_with('\'')
        && text.ends_with('\'')
        && !text[1..text.len() - 1].replace("''", "").contains('\'');
    if is_string && !ty.is_numeric() {
        return format!("{text}::{}", ty.sql_name());
    }
    text.to_owned()
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

fn declared_lower_integer(sql: &str, column: &str) -> bool {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&SQLiteDialect {}, sql).tokenize() else { return false };
    let mut depth = 0;
    let mut at_start = false;
    let mut name: Option<String> = None;
    for token in tokens {
        match token {
            Token::LParen => {
                depth += 1;
                at_start = depth == 1;
                name = None;
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 1 => {
                at_start = true;
                name = None;
            }
            Token::Whitespace(_) => {}
            Token::Word(word) if depth == 1 && at_start => match &name {
                None => name = Some(word.value),
                Some(n) => {
                    if n.eq_ignore_ascii_case(column) {
                        return word.value == "integer";
                    }
                    at_start = false;
                }
            },
            _ => at_start = false,
        }
    }
    false
}

/// Reads the schema: every relation with its columns, indexes, keys and checks. A schema read before on this
/// thread from the same `sqlite_schema` text and schemas is not read again (a scan or a catalog function reads
/// it once per schema change, not once per call).
pub(super) fn read(conn: &Connection) -> rusqlite::Result<Rc<Model>> {
    let namespaces = namespaces(conn)?;
    let mut objects: Vec<(String, String, String, Option<String>)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, sql FROM main.sqlite_schema \
             WHERE type IN ('table', 'view', 'index', 'trigger') ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for row in rows {
            objects.push(row?);
        }
    }
    let mut key = String::new();
    for n in &namespaces {
        key.push_str(&format!("{}\0{}\0{}\u{1}", n.name, n.owner, n.oid));
    }
    for (kind, name, table, sql) in &objects {
        key.push_str(&format!("{kind}\0{name}\0{table}\0{}\u{1}", sql.as_deref().unwrap_or("\u{2}")));
    }
    if let Some(model) =
        LAST.with(|last| last.borrow().as_ref().filter(|(text, _)| *text == key).map(|(_, model)| model.clone()))
    {
        return Ok(model);
    }
    let mut tables = Vec::new();
    for (kind, sqlite_name, _, sql) in objects.iter().filter(|o| o.0 == "table" || o.0 == "view") {
        if is_internal(sqlite_name) {
            continue;
        }
        let (schema, name) = split_name(sqlite_name, &namespaces);
        let mut table = Table {
            oid: relation_oid(sqlite_name),
            sqlite_name: sqlite_name.clone(),
            namespace: namespace_oid(&schema),
            schema,
            name,
            kind: if kind == "view" { b'v' } else { b'r' },
            sql: sql.clone().unwrap_or_default(),
            columns: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            has_triggers: objects.iter().any(|o| o.0 == "trigger" && o.2.eq_ignore_ascii_case(sqlite_name)),
        };
        describe(conn, &mut table, &objects)?;
        tables.push(table);
    }
    for relation in ALL {
        let schema = relation.schema();
        let columns = relation
            .column_list()
            .enumerate()
            .map(|(i, (name, ty))| {
                let (ty, typmod) = column_type(ty);
                Column {
                    num: i16::try_from(i + 1).unwrap_or(i16::MAX),
                    name: name.to_owned(),
                    ty,
                    typmod,
                    not_null: false,
                    default: None,
                    generated: false,
                }
            })
            .collect();
        tables.push(Table {
            oid: relation_oid(relation.name),
            sqlite_name: relation.name.to_owned(),
            namespace: namespace_oid(schema),
            schema: schema.to_owned(),
            name: relation.pg_name().to_owned(),
            kind: relation.kind,
            sql: String::new(),
            columns,
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            has_triggers: false,
        });
    }
    let model = Rc::new(Model { namespaces, tables });
    LAST.with(|last| *last.borrow_mut() = Some((key, model.clone())));
    Ok(model)
}

/// The serial keys (each with its sequence, as PostgreSQL's serial columns have one): the table and the column.
pub(super) fn serial_sequences(model: &Model) -> Vec<(&Table, &Column)> {
    model
        .tables
        .iter()
        .filter(|t| t.kind == b'r' && !t.sql.is_empty())
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.default.as_deref().is_some_and(|d| d.starts_with("nextval(")))
                .map(move |c| (t, c))
        })
        .collect()
}

/// The name of a serial key's sequence, as PostgreSQL names a serial column's: `t_id_seq`.
pub(super) fn sequence_name(t: &Table, c: &Column) -> String {
    format!("{}_{}_seq", t.name, c.name)
}

/// The largest value of a sequence of type `ty` (its default MAXVALUE).
pub(super) fn sequence_max(ty: PgType) -> i64 {
    match ty {
        PgType::Int2 => i64::from(i16::MAX),
        PgType::Int4 => i64::from(i32::MAX),
        _ => i64::MAX,
    }
}

/// The SQLite names of the relations a view's SQLite query reads (its FROM items, subqueries and CTEs
/// included; those of subqueries inside expressions are not seen).
pub(super) fn view_reads(sql: &str) -> Vec<String> {
    use sqlparser::ast::{Query, SetExpr, TableFactor, TableWithJoins};
    fn query(q: &Query, out: &mut Vec<String>) {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                query(&cte.query, out);
            }
        }
        set_expr(&q.body, out);
    }
    fn set_expr(e: &SetExpr, out: &mut Vec<String>) {
        match e {
            SetExpr::Select(s) => s.from.iter().for_each(|f| from(f, out)),
            SetExpr::Query(q) => query(q, out),
            SetExpr::SetOperation { left, right, .. } => {
                set_expr(left, out);
                set_expr(right, out);
            }
            _ => {}
        }
    }
    fn from(f: &TableWithJoins, out: &mut Vec<String>) {
        factor(&f.relation, out);
        f.joins.iter().for_each(|j| factor(&j.relation, out));
    }
    fn factor(f: &TableFactor, out: &mut Vec<String>) {
        match f {
            TableFactor::Table { name, .. } => {
                if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                    out.push(last.value.clone());
                }
            }
            TableFactor::Derived { subquery, .. } => query(subquery, out),
            TableFactor::NestedJoin { table_with_joins, .. } => from(table_with_joins, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(statements) = Parser::parse_sql(&SQLiteDialect {}, sql) {
        if let Some(Statement::CreateView(view)) = statements.first() {
            query(&view.query, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Reads a table's columns, indexes, keys and checks.
fn describe(
    conn: &Connection,
    table: &mut Table,
    objects: &[(String, String, String, Option<String>)],
) -> rusqlite::Result<()> {
    let parsed = if table.kind == b'r' { parse_create(&table.sql) } else { Parsed::default() };
    let mut pk_columns: Vec<(i64, i16)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
        )?;
        let rows = stmt.query_map([&table.sqlite_name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut num: i16 = 0;
        for row in rows {
            let (name, decltype, not_null, default, pk, hidden) = row?;
            if hidden == 1 {
                // A virtual table's hidden column.
                continue;
            }
            num += 1;
            let decltype = decltype.unwrap_or_default();
            // A serial key: the translator's spelling, or any AUTOINCREMENT rowid (a table made in SQLite's SQL).
            let serial = pk > 0
                && decltype.eq_ignore_ascii_case("INTEGER")
                && (serial_key(&table.sql, &name).is_some()
                    || table.sql.to_ascii_uppercase().contains("AUTOINCREMENT"));
            let (ty, typmod) = if pk > 0 && decltype == "INTEGER" && declared_lower_integer(&table.sql, &name) {
                (PgType::Int4, -1)
            } else if let Some(ty) = serial_key(&table.sql, &name).filter(|_| pk > 0) {
                (ty, -1)
            } else {
                column_type(&decltype)
            };
            let generated = hidden == 2 || hidden == 3;
            let default = if generated {
                parsed.generated.get(&name.to_ascii_lowercase()).cloned()
            } else if serial {
                // A serial key's default, as PostgreSQL shows it: its sequence's next value.
                let schema = if table.schema == "public" { String::new() } else { format!("{}.", table.schema) };
                Some(format!("nextval('{schema}{}_{}_seq'::regclass)", table.name, name))
            } else {
                default.map(|d| default_text(&d, ty))
            };
            if pk > 0 {
                pk_columns.push((pk, num));
            }
            table.columns.push(Column { num, name, ty, typmod, not_null: not_null || pk > 0, default, generated });
        }
    }
    pk_columns.sort();
    let attnum = |name: &str| table.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)).map(|c| c.num);
    let column_names = |nums: &[i16]| -> Vec<String> {
        nums.iter()
            .filter_map(|n| table.columns.iter().find(|c| c.num == *n))
            .map(|c| c.name.to_ascii_lowercase())
            .collect()
    };
    // Indexes.
    let mut indexes = Vec::new();
    let mut list: Vec<(String, bool, String, bool)> = Vec::new();
    if table.kind == b'r' {
        let mut stmt =
            conn.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1, 'main') ORDER BY seq")?;
        let rows = stmt.query_map([&table.sqlite_name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for row in rows {
            list.push(row?);
        }
    }
    let mut has_pk_index = false;
    for (sqlite_index, unique, origin, partial) in list.into_iter().rev() {
        let mut keys = Vec::new();
        let mut stmt = conn
            .prepare("SELECT cid, name, \"desc\" FROM pragma_index_xinfo(?1, 'main') WHERE key = 1 ORDER BY seqno")?;
        let rows = stmt.query_map([&sqlite_index], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, bool>(2)?))
        })?;
        for row in rows {
            let (cid, name, desc) = row?;
            keys.push(match name.as_deref().and_then(attnum) {
                Some(num) if cid >= 0 => Key::Column(num, desc),
                _ => Key::Expression,
            });
        }
        let nums: Vec<i16> = keys
            .iter()
            .filter_map(|k| match k {
                Key::Column(n, _) => Some(*n),
                Key::Expression => None,
            })
            .collect();
        let primary = origin == "pk";
        let (name, constraint) = if primary {
            has_pk_index = true;
            let name = parsed.primary_key_name.clone().unwrap_or_else(|| format!("{}_pkey", table.name));
            (name.clone(), Some((name.clone(), constraint_oid(&table.sqlite_name, &name))))
        } else if origin == "u" {
            let cols = column_names(&nums);
            let name = parsed
                .unique_names
                .get(&cols)
                .cloned()
                .unwrap_or_else(|| format!("{}_{}_key", table.name, cols.join("_")));
            (name.clone(), Some((name.clone(), constraint_oid(&table.sqlite_name, &name))))
        } else {
            // An index of a table of schema `s` is SQLite's `"s.i"`: PostgreSQL's name is `i`.
            let prefix = format!("{}.", table.schema);
            let name = match sqlite_index.strip_prefix(&prefix) {
                Some(name) if table.schema != "public" && !name.is_empty() => name.to_owned(),
                _ => split_name(&sqlite_index, &[]).1,
            };
            (name, None)
        };
        let sql = objects.iter().find(|o| o.0 == "index" && o.1 == sqlite_index).and_then(|o| o.3.clone());
        indexes.push(Index { oid: relation_oid(&sqlite_index), name, unique, primary, constraint, keys, partial, sql });
    }
    if !has_pk_index && !pk_columns.is_empty() && table.kind == b'r' {
        // A rowid primary key: SQLite keeps no index, PostgreSQL shows one.
        let name = parsed.primary_key_name.clone().unwrap_or_else(|| format!("{}_pkey", table.name));
        indexes.insert(
            0,
            Index {
                oid: rowid_key_oid(&table.sqlite_name),
                name: name.clone(),
                unique: true,
                primary: true,
                constraint: Some((name.clone(), constraint_oid(&table.sqlite_name, &name))),
                keys: pk_columns.iter().map(|(_, n)| Key::Column(*n, false)).collect(),
                partial: false,
                sql: None,
            },
        );
    }
    indexes.sort_by_key(|i| !i.primary);
    table.indexes = indexes;
    // Foreign keys.
    let mut fks: Vec<(i64, ForeignKey, Vec<Option<String>>)> = Vec::new();
    if table.kind == b'r' {
        let mut stmt = conn.prepare(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1, 'main') \
             ORDER BY id, seq",
        )?;
        let rows = stmt.query_map([&table.sqlite_name], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let action = |a: &str| match a.to_ascii_uppercase().as_str() {
            "RESTRICT" => b'r',
            "CASCADE" => b'c',
            "SET NULL" => b'n',
            "SET DEFAULT" => b'd',
            _ => b'a',
        };
        for row in rows {
            let (id, referenced, from, to, on_update, on_delete) = row?;
            let from = attnum(&from).unwrap_or(0);
            match fks.iter_mut().find(|f| f.0 == id) {
                Some((_, fk, tos)) => {
                    fk.columns.push(from);
                    tos.push(to);
                }
                None => fks.push((
                    id,
                    ForeignKey {
                        oid: 0,
                        name: String::new(),
                        columns: vec![from],
                        referenced,
                        referenced_columns: Vec::new(),
                        on_update: action(&on_update),
                        on_delete: action(&on_delete),
                    },
                    vec![to],
                )),
            }
        }
    }
    for (_, mut fk, tos) in fks.into_iter().rev() {
        fk.referenced_columns = if tos.iter().all(Option::is_some) {
            tos.into_iter().flatten().collect()
        } else {
            primary_key_names(conn, &fk.referenced)?
        };
        let cols = column_names(&fk.columns);
        fk.name = parsed
            .foreign_key_names
            .get(&cols)
            .cloned()
            .unwrap_or_else(|| format!("{}_{}_fkey", table.name, cols.join("_")));
        fk.oid = constraint_oid(&table.sqlite_name, &fk.name);
        table.foreign_keys.push(fk);
    }
    if table.kind == b'r' && !table.has_triggers {
        table.has_triggers = conn.query_row(
            "SELECT count(*) > 0 FROM main.sqlite_schema s, pragma_foreign_key_list(s.name, 'main') f \
             WHERE s.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE",
            [&table.sqlite_name],
            |r| r.get(0),
        )?;
    }
    // CHECK constraints.
    let mut taken: Vec<String> = Vec::new();
    for (name, expr, column) in parsed.checks {
        let columns: Vec<i16> = match &column {
            Some(c) => attnum(c).into_iter().collect(),
            None => table
                .columns
                .iter()
                .filter(|c| expr.to_ascii_lowercase().contains(&c.name.to_ascii_lowercase()))
                .map(|c| c.num)
                .collect(),
        };
        let name = name.unwrap_or_else(|| {
            let base = match &column {
                Some(c) => format!("{}_{c}_check", table.name),
                None => format!("{}_check", table.name),
            };
            let mut candidate = base.clone();
            let mut n = 0;
            while taken.contains(&candidate) {
                n += 1;
                candidate = format!("{base}{n}");
            }
            candidate
        });
        taken.push(name.clone());
        table.checks.push(Check { oid: constraint_oid(&table.sqlite_name, &name), name, expr, columns });
    }
    Ok(())
}

/// The primary key columns of the table SQLite knows as `table`.
fn primary_key_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_xinfo(?1, 'main') WHERE pk > 0 ORDER BY pk")?;
    let rows = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    rows.collect()
}
