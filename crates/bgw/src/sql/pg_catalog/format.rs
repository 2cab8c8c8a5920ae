//! Texts the catalog functions print, as PostgreSQL 15 prints them: type names with modifiers (`format_type`),
//! index and constraint definitions (`pg_get_indexdef`, `pg_get_constraintdef`), quoted identifiers
//! (`quote_ident`).
//!
//! Runs in: a backend process.

use sqlparser::ast::Statement;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::model::{ForeignKey, Key, Model, Table};
use crate::sql::types::PgType;

/// `format_type(oid, typmod)`: the type's SQL name with its modifier (`character varying(20)`, `numeric(10,2)`,
/// `timestamp(3) with time zone`, `text[]`); `???` for an OID the host does not know. `typmod` None is SQL's
/// NULL (`character` rather than `bpchar` for a `bpchar` without one).
pub(super) fn format_type(type_oid: u32, typmod: Option<i32>) -> String {
    let Some(ty) = PgType::from_oid(type_oid) else { return "???".into() };
    if ty.is_array() {
        let element = ty.element().map_or_else(|| "???".into(), |e| format_type(e.oid(), typmod));
        return format!("{element}[]");
    }
    let modifier = typmod.filter(|m| *m >= 0);
    match (ty, modifier) {
        (PgType::Bpchar, None) if typmod.is_some() => "bpchar".into(),
        (PgType::Varchar | PgType::Bpchar, Some(m)) => format!("{}({})", ty.sql_name(), m - 4),
        (PgType::Numeric, Some(m)) => format!("numeric({},{})", ((m - 4) >> 16) & 0xffff, (m - 4) & 0xffff),
        (PgType::Time | PgType::Timestamp | PgType::Timestamptz, Some(m)) => {
            let name = ty.sql_name();
            let (head, tail) = name.split_once(' ').unwrap_or((name, ""));
            format!("{head}({m}) {tail}").trim_end().to_owned()
        }
        (PgType::Interval, Some(m)) if m & 0xffff != 0xffff => format!("interval({})", m & 0xffff),
        _ => ty.sql_name().into(),
    }
}

/// PostgreSQL's keywords that are not unreserved: `quote_ident` quotes them.
const KEYWORDS: &str = "all analyse analyze and any array as asc asymmetric authorization between bigint binary bit \
    boolean both case cast char character check coalesce collate collation column concurrently constraint create \
    cross current_catalog current_date current_role current_schema current_time current_timestamp current_user dec \
    decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze \
    from full grant greatest group grouping having ilike in initially inner inout int integer intersect interval \
    into is isnull join lateral leading least left like limit localtime localtimestamp national natural nchar none \
    normalize not notnull null nullif numeric offset on only or order out outer overlaps overlay placing position \
    precision primary real references returning right row select session_user setof similar smallint some \
    substring symmetric table tablesample then time timestamp to trailing treat trim true union unique user using \
    values varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest \
    xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable";

/// `quote_ident(name)`: `name` as is when PostgreSQL would read it back unquoted, else in double quotes.
pub(super) fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !KEYWORDS.split_whitespace().any(|k| k == name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A table's name as a definition prints it: qualified with its schema.
fn qualified(t: &Table) -> String {
    format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name))
}

/// The name of a referenced table as `pg_get_constraintdef` prints it: qualified unless it is in `public`.
fn referenced_name(model: &Model, sqlite_name: &str, public_visible: bool) -> String {
    match model.table_by_sqlite_name(sqlite_name) {
        Some(t) if t.schema != "public" || !public_visible => qualified(t),
        Some(t) => quote_ident(&t.name),
        None => quote_ident(sqlite_name),
    }
}

/// The key texts and the predicate of a `CREATE INDEX` text, if sqlparser reads it.
fn parse_index(sql: &str) -> Option<(Vec<String>, Option<String>)> {
    let statements = Parser::parse_sql(&SQLiteDialect {}, sql).ok()?;
    match statements.into_iter().next()? {
        Statement::CreateIndex(index) => Some((
            index.columns.iter().map(|c| c.column.expr.to_string()).collect(),
            index.predicate.map(|p| p.to_string()),
        )),
        _ => None,
    }
}

/// PostgreSQL's texts (plain, pretty) of a partial index's predicate, kept in a comment of its `CREATE INDEX`
/// text (`WHERE /*pg:plain\npretty*/ ...`).
fn pg_predicate(sql: &str) -> Option<(String, String)> {
    let start = sql.find(&format!("WHERE {PG_VIEW_TEXT}"))? + "WHERE ".len() + PG_VIEW_TEXT.len();
    let end = start + sql[start..].find("*/")?;
    let (plain, pretty) = sql[start..end].split_once('\n')?;
    Some((plain.to_owned(), pretty.to_owned()))
}

/// The `WHERE` condition of a partial index's `CREATE INDEX` text.
pub(super) fn where_clause(sql: &str) -> Option<String> {
    parse_index(sql).and_then(|(_, predicate)| predicate)
}

/// The text of a view's query (what follows `AS` in its `CREATE VIEW` text).
pub(super) fn view_body(sql: &str, public_visible: bool) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    let at = upper.find(" AS ").or_else(|| upper.find("\nAS "))?;
    let body = sql[at + 4..].trim();
    // A view created from PostgreSQL's SQL keeps that text in a leading comment (see `sql::pg`'s CREATE VIEW).
    if let Some(rest) = body.strip_prefix(PG_VIEW_TEXT) {
        if let Some(end) = rest.find("*/") {
            let text = rest[..end].trim();
            let text = if public_visible { text.to_owned() } else { requalified(text, true) };
            return Some(format!("{text};"));
        }
    }
    Some(format!("{body};"))
}

/// A query's text with the relations of its FROM items qualified with their schemas (`public.t`,
/// `pg_catalog.pg_class`: `qualify`), as PostgreSQL prints a view when `public` is not on the search path
/// (under `pg_dump`), or with those two schemas' names taken off (the form a view's text is kept in).
/// Relations inside expressions' subqueries stay as written.
pub fn requalified(text: &str, qualify: bool) -> String {
    use sqlparser::ast::{Ident, ObjectNamePart, Query, SetExpr, TableFactor, TableWithJoins};
    use sqlparser::dialect::PostgreSqlDialect;
    fn query(q: &mut Query, ctes: &mut Vec<String>, qualify: bool) {
        if let Some(with) = &mut q.with {
            for cte in &mut with.cte_tables {
                query(&mut cte.query, ctes, qualify);
                ctes.push(cte.alias.name.value.to_lowercase());
            }
        }
        set_expr(&mut q.body, ctes, qualify);
    }
    fn set_expr(e: &mut SetExpr, ctes: &mut Vec<String>, qualify: bool) {
        match e {
            SetExpr::Select(s) => s.from.iter_mut().for_each(|f| from(f, ctes, qualify)),
            SetExpr::Query(q) => query(q, ctes, qualify),
            SetExpr::SetOperation { left, right, .. } => {
                set_expr(left, ctes, qualify);
                set_expr(right, ctes, qualify);
            }
            _ => {}
        }
    }
    fn from(f: &mut TableWithJoins, ctes: &mut Vec<String>, qualify: bool) {
        factor(&mut f.relation, ctes, qualify);
        for j in &mut f.joins {
            factor(&mut j.relation, ctes, qualify);
        }
    }
    fn factor(f: &mut TableFactor, ctes: &mut Vec<String>, qualify: bool) {
        match f {
            TableFactor::Table { name, args: None, .. } if !qualify && name.0.len() == 2 => {
                let schema = name.0[0].as_ident().map(|i| i.value.to_lowercase());
                if matches!(schema.as_deref(), Some("public" | "pg_catalog")) {
                    name.0.remove(0);
                }
            }
            TableFactor::Table { name, args: None, .. } if qualify && name.0.len() == 1 => {
                let Some(ident) = name.0[0].as_ident() else { return };
                let bare = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
                if ctes.contains(&bare) {
                    return;
                }
                let schema = if super::relations::ALL.iter().any(|r| r.name == bare) { "pg_catalog" } else { "public" };
                name.0.insert(0, ObjectNamePart::Identifier(Ident::new(schema)));
            }
            TableFactor::Derived { subquery, .. } => query(subquery, ctes, qualify),
            TableFactor::NestedJoin { table_with_joins, .. } => from(table_with_joins, ctes, qualify),
            _ => {}
        }
    }
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, text) else { return text.to_owned() };
    let [Statement::Query(q)] = statements.as_slice() else { return text.to_owned() };
    let mut q = q.clone();
    query(&mut q, &mut Vec::new(), qualify);
    q.to_string()
}

/// The opening of the comment that holds a view's PostgreSQL text in its SQLite `CREATE VIEW`.
pub const PG_VIEW_TEXT: &str = "/*pg:";

/// The text of key `k` of index `index` of `t`.
fn key_text(t: &Table, parsed: Option<&Vec<String>>, position: usize, key: &Key) -> String {
    match key {
        Key::Column(num, desc) => {
            let name = t.columns.iter().find(|c| c.num == *num).map_or_else(|| "?".into(), |c| quote_ident(&c.name));
            if *desc {
                format!("{name} DESC")
            } else {
                name
            }
        }
        Key::Expression => {
            parsed.and_then(|p| p.get(position)).map_or_else(|| "(?)".into(), |text| format!("({text})"))
        }
    }
}

/// `pg_get_indexdef(index, column, pretty)`: the index's `CREATE INDEX` statement, or (column > 0) its column-th
/// key. The table is qualified with its schema unless `pretty` and the table is in `public`.
pub(super) fn index_def(t: &Table, index: usize, column: i64, pretty: bool) -> String {
    let Some(i) = t.indexes.get(index) else { return String::new() };
    let parsed = i.sql.as_deref().and_then(parse_index);
    let keys: Vec<String> = i
        .keys
        .iter()
        .enumerate()
        .map(|(position, key)| key_text(t, parsed.as_ref().map(|p| &p.0), position, key))
        .collect();
    if column > 0 {
        let key = usize::try_from(column - 1).ok().and_then(|c| keys.get(c));
        return key.map(|k| k.trim_end_matches(" DESC").to_owned()).unwrap_or_default();
    }
    let predicate = match i.sql.as_deref().and_then(pg_predicate) {
        // PostgreSQL's own text, kept by the translator where it could tell it.
        Some((plain, nice)) => format!(" WHERE {}", if pretty { nice } else { plain }),
        None => parsed.and_then(|p| p.1).map(|p| format!(" WHERE ({p})")).unwrap_or_default(),
    };
    format!(
        "CREATE {}INDEX {} ON {} USING btree ({}){predicate}",
        if i.unique { "UNIQUE " } else { "" },
        quote_ident(&i.name),
        if pretty && t.schema == "public" { quote_ident(&t.name) } else { qualified(t) },
        keys.join(", ")
    )
}

fn column_list(t: &Table, nums: impl IntoIterator<Item = i16>) -> String {
    let names: Vec<String> = nums
        .into_iter()
        .map(|n| t.columns.iter().find(|c| c.num == n).map_or_else(|| "?".into(), |c| quote_ident(&c.name)))
        .collect();
    names.join(", ")
}

fn action(code: u8) -> Option<&'static str> {
    match code {
        b'r' => Some("RESTRICT"),
        b'c' => Some("CASCADE"),
        b'n' => Some("SET NULL"),
        b'd' => Some("SET DEFAULT"),
        _ => None,
    }
}

fn foreign_key_def(model: &Model, t: &Table, fk: &ForeignKey, public_visible: bool) -> String {
    let referenced: Vec<String> = fk.referenced_columns.iter().map(|c| quote_ident(c)).collect();
    let mut def = format!(
        "FOREIGN KEY ({}) REFERENCES {}({})",
        column_list(t, fk.columns.iter().copied()),
        referenced_name(model, &fk.referenced, public_visible),
        referenced.join(", ")
    );
    if let Some(a) = action(fk.on_update) {
        def.push_str(&format!(" ON UPDATE {a}"));
    }
    if let Some(a) = action(fk.on_delete) {
        def.push_str(&format!(" ON DELETE {a}"));
    }
    def
}

/// `pg_get_constraintdef(oid)`: `PRIMARY KEY (id)`, `UNIQUE (code)`, `FOREIGN KEY (t_id) REFERENCES t(id)`,
/// `CHECK ((price > 0))`; None for an OID that is no constraint. A referenced table is qualified with its schema
/// unless it is in `public` and `public_visible` (`public` is on the search path), as PostgreSQL does.
pub(super) fn constraint_def(model: &Model, constraint: u32, public_visible: bool) -> Option<String> {
    for t in &model.tables {
        for i in &t.indexes {
            if i.constraint.as_ref().is_some_and(|(_, o)| *o == constraint) {
                let nums = i.keys.iter().filter_map(|k| match k {
                    Key::Column(n, _) => Some(*n),
                    Key::Expression => None,
                });
                let kind = if i.primary { "PRIMARY KEY" } else { "UNIQUE" };
                return Some(format!("{kind} ({})", column_list(t, nums)));
            }
        }
        if let Some(fk) = t.foreign_keys.iter().find(|f| f.oid == constraint) {
            return Some(foreign_key_def(model, t, fk, public_visible));
        }
        if let Some(check) = t.checks.iter().find(|c| c.oid == constraint) {
            return Some(format!("CHECK (({}))", check.expr));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_print_as_postgresql_prints_them() {
        assert_eq!(format_type(1042, Some(-1)), "bpchar");
        assert_eq!(format_type(1042, None), "character");
        assert_eq!(format_type(1043, Some(24)), "character varying(20)");
        assert_eq!(format_type(1184, Some(3)), "timestamp(3) with time zone");
        assert_eq!(format_type(1083, Some(2)), "time(2) without time zone");
        assert_eq!(format_type(1015, Some(24)), "character varying(20)[]");
        assert_eq!(format_type(99999, Some(-1)), "???");
        assert_eq!(format_type(1700, Some(655366)), "numeric(10,2)");
        assert_eq!(format_type(18, Some(-1)), "\"char\"");
        assert_eq!(format_type(1186, Some(2147418114)), "interval(2)");
        assert_eq!(format_type(1700, Some(-1)), "numeric");
        assert_eq!(format_type(1014, Some(9)), "character(5)[]");
        assert_eq!(format_type(23, Some(5)), "integer");
    }

    #[test]
    fn identifiers_are_quoted_when_they_must_be() {
        assert_eq!(quote_ident("abc"), "abc");
        assert_eq!(quote_ident("Abc"), "\"Abc\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(quote_ident("name"), "name");
    }
}
