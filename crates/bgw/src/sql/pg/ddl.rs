//! Definitions: CREATE TABLE with PostgreSQL's types kept as SQLite declared types (serial and identity keys as
//! SQLite's rowid), CREATE INDEX, CREATE VIEW, CREATE/DROP SCHEMA, DROP, ALTER TABLE, VACUUM and ANALYZE.
//! Anything else is refused with 0A000 naming the statement.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, CreateIndex, CreateTable, CreateTableOptions, DataType, ObjectType,
    ReferentialAction, Statement, TableConstraint,
};

use super::expr::{data_type_of, Translator};
use super::names::{self, literal, quote};
use super::schema::sqlite_name;
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::{ColumnInfo, Kind};
use crate::sql::types::PgType;

type Out = (String, Kind, Vec<ColumnInfo>);

/// A numeric column's declared type: `numeric text`, so that SQLite's affinity keeps its values as the decimal
/// text they are (a bare `numeric` would turn `12.50` into the real 12.5, losing its scale and digits past 15).
pub(super) const NUMERIC_DECLTYPE: &str = crate::sql::types::NUMERIC_DECLTYPE;

fn other(tag: &str) -> Kind {
    Kind::Other(tag.to_owned())
}

pub(super) fn statement(tx: &mut Translator<'_>, st: &Statement) -> Result<Out, SqlError> {
    match st {
        Statement::CreateTable(ct) => create_table(tx, ct),
        Statement::CreateIndex(ci) => create_index(tx, ci),
        Statement::CreateView(cv) => {
            if cv.materialized || cv.or_alter || !cv.columns.is_empty() || !cv.cluster_by.is_empty() {
                return Err(unsupported("this form of CREATE VIEW"));
            }
            let (schema, name) = names::relation(&cv.name)?;
            let out = tx.query(&cv.query)?;
            let pg_text = view_text(tx, &cv.query)?;
            let sqlite = sqlite_name(schema.as_deref(), &name);
            let mut sql = String::from("CREATE ");
            if cv.temporary {
                sql.push_str("TEMP ");
            }
            if cv.or_replace {
                tx.before.push(format!("DROP VIEW IF EXISTS {}", quote(&sqlite)));
            }
            sql.push_str(&format!(
                "VIEW {}{} AS {pg_text}{}",
                if cv.if_not_exists { "IF NOT EXISTS " } else { "" },
                quote(&sqlite),
                out.sql
            ));
            Ok((sql, other("CREATE VIEW"), Vec::new()))
        }
        Statement::Drop { object_type, if_exists, names: list, cascade, purge, temporary, table, .. } => {
            if *purge || *temporary || table.is_some() {
                return Err(unsupported("this form of DROP"));
            }
            drop(tx, object_type, *if_exists, list, *cascade)
        }
        Statement::CreateSchema { schema_name, if_not_exists, or_replace, with, .. } => {
            if *or_replace || with.is_some() {
                return Err(unsupported("this form of CREATE SCHEMA"));
            }
            let name = match schema_name {
                sqlparser::ast::SchemaName::Simple(n) | sqlparser::ast::SchemaName::NamedAuthorization(n, _) => {
                    names::parts(n)?.join(".")
                }
                sqlparser::ast::SchemaName::UnnamedAuthorization(id) => names::ident(id),
            };
            if let sqlparser::ast::SchemaName::NamedAuthorization(_, role)
            | sqlparser::ast::SchemaName::UnnamedAuthorization(role) = schema_name
            {
                // PostgreSQL looks the role up first; the schema's owner is the bootstrap superuser (`nspowner`).
                let role = names::ident(role);
                let found = tx.cx.schema.rows("SELECT oid FROM pg_roles WHERE rolname = ?1", &[&role])?;
                let Some(oid) = found.first().and_then(|r| r[0].as_deref()).and_then(|o| o.parse::<u32>().ok()) else {
                    return Err(SqlError::error("42704", format!("role \"{role}\" does not exist")));
                };
                if oid != crate::sql::pg_catalog::BOOTSTRAP_SUPERUSER {
                    return Err(unsupported("CREATE SCHEMA AUTHORIZATION of another role than the superuser"));
                }
            }
            if name.starts_with("pg_") {
                return Err(SqlError::error("42939", format!("unacceptable schema name \"{name}\""))
                    .with_detail("The prefix \"pg_\" is reserved for system schemas."));
            }
            if tx.cx.schema.schema_exists(&name)? {
                if *if_not_exists {
                    return Ok((String::new(), other("CREATE SCHEMA"), Vec::new()));
                }
                return Err(SqlError::error("42P06", format!("schema \"{name}\" already exists")));
            }
            tx.before
                .push("CREATE TABLE IF NOT EXISTS _pg_schemas (nspname TEXT PRIMARY KEY, nspowner INTEGER)".into());
            Ok((format!("INSERT INTO _pg_schemas VALUES ({}, 10)", literal(&name)), other("CREATE SCHEMA"), Vec::new()))
        }
        Statement::AlterTable(at) => alter_table(tx, at),
        Statement::CreateSequence { temporary, if_not_exists, name, data_type, sequence_options, owned_by } => {
            super::restore::create_sequence(
                tx,
                *temporary,
                *if_not_exists,
                name,
                data_type.as_ref(),
                sequence_options,
                owned_by.as_ref(),
            )
        }
        Statement::AlterSchema(alter) => {
            let name = names::parts(&alter.name)?.join(".");
            let [sqlparser::ast::AlterSchemaOperation::OwnerTo { owner: sqlparser::ast::Owner::Ident(role) }] =
                alter.operations.as_slice()
            else {
                return Err(unsupported("this form of ALTER SCHEMA"));
            };
            if !tx.cx.schema.schema_exists(&name)? {
                return Err(SqlError::error("3F000", format!("schema \"{name}\" does not exist")));
            }
            let owner = match name.as_str() {
                "public" => crate::sql::pg_catalog::PG_DATABASE_OWNER,
                _ => crate::sql::pg_catalog::BOOTSTRAP_SUPERUSER,
            };
            super::restore::check_owner(tx, &names::ident(role), owner, "schema")?;
            Ok((String::new(), other("ALTER SCHEMA"), Vec::new()))
        }
        Statement::Analyze(_) => Ok(("ANALYZE".into(), other("ANALYZE"), Vec::new())),
        Statement::Explain { .. } | Statement::ExplainTable { .. } => Err(unsupported("EXPLAIN")),
        Statement::Truncate { .. } => Err(unsupported("TRUNCATE here")),
        Statement::Lock(lock) => super::restore::lock(tx, lock),
        other_statement => {
            let text = other_statement.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            Err(unsupported(words.join(" ")))
        }
    }
}

/// The declared type SQLite keeps for a column of PostgreSQL type `dt` (the typname with its modifier).
fn decltype(dt: &DataType) -> Result<(String, Option<PgType>, bool), SqlError> {
    // serial types: PostgreSQL's integer types with a sequence default.
    if let DataType::Custom(name, _) = dt {
        let n = names::parts(name)?.join(".");
        match n.as_str() {
            "serial" | "serial4" => return Ok(("int4".into(), Some(PgType::Int4), true)),
            "bigserial" | "serial8" => return Ok(("int8".into(), Some(PgType::Int8), true)),
            "smallserial" | "serial2" => return Ok(("int2".into(), Some(PgType::Int2), true)),
            _ => {}
        }
    }
    let (ty, typmod) = data_type_of(dt)?;
    if matches!(ty, PgType::Unknown | PgType::Void | PgType::Record | PgType::Int2Vector | PgType::OidVector) {
        return Err(SqlError::error("42P16", format!("column cannot be of type {}", ty.sql_name())));
    }
    let text = match (ty, typmod) {
        (PgType::Varchar | PgType::Bpchar, m) if m >= 4 => format!("{}({})", ty.typname(), m - 4),
        (PgType::Bpchar, _) => "bpchar(1)".into(),
        (PgType::Numeric, m) if m >= 4 => {
            let m = m - 4;
            format!("{NUMERIC_DECLTYPE}({},{})", m >> 16, m & 0xffff)
        }
        (t, _) if crate::sql::types::TEXT_HELD.contains(&t) => format!("{} text", t.typname()),
        _ => ty.typname().to_owned(),
    };
    Ok((text, Some(ty), false))
}

fn referential(a: &ReferentialAction) -> &'static str {
    match a {
        ReferentialAction::Restrict => "RESTRICT",
        ReferentialAction::Cascade => "CASCADE",
        ReferentialAction::SetNull => "SET NULL",
        ReferentialAction::NoAction => "NO ACTION",
        ReferentialAction::SetDefault => "SET DEFAULT",
    }
}

fn column_def(tx: &mut Translator<'_>, table: &str, col: &ColumnDef, table_pk: &[String]) -> Result<String, SqlError> {
    let name = names::ident(&col.name);
    let (decl, ty, mut serial) = decltype(&col.data_type)?;
    let mut always = false;
    let mut parts = Vec::new();
    let mut primary = table_pk.len() == 1 && table_pk[0] == name;
    let mut explicit_not_null = false;
    for opt in &col.options {
        match &opt.option {
            ColumnOption::Null => {}
            ColumnOption::NotNull => explicit_not_null = true,
            ColumnOption::Default(e) => {
                let t = tx.expr(e)?;
                let v = match ty {
                    Some(ty) => tx.coerce(t, ty).map_err(|_| {
                        SqlError::error(
                            "42804",
                            format!(
                                "column \"{name}\" is of type {} but default expression is of another type",
                                ty.sql_name()
                            ),
                        )
                    })?,
                    None => t.sql,
                };
                parts.push(format!("DEFAULT ({v})"));
            }
            ColumnOption::PrimaryKey(_) => primary = true,
            ColumnOption::Unique(_) => parts.push("UNIQUE".into()),
            ColumnOption::ForeignKey(fk) => {
                let (schema, rel) = names::relation(&fk.foreign_table)?;
                let mut s = format!("REFERENCES {}", quote(&sqlite_name(schema.as_deref(), &rel)));
                if !fk.referred_columns.is_empty() {
                    let cols: Vec<String> = fk.referred_columns.iter().map(|c| quote(&names::ident(c))).collect();
                    s.push_str(&format!(" ({})", cols.join(", ")));
                }
                if let Some(a) = &fk.on_delete {
                    s.push_str(&format!(" ON DELETE {}", referential(a)));
                }
                if let Some(a) = &fk.on_update {
                    s.push_str(&format!(" ON UPDATE {}", referential(a)));
                }
                parts.push(s);
            }
            ColumnOption::Check(c) => {
                let e = check_expr(tx, table, &c.expr)?;
                // Named as PostgreSQL names it, so that SQLite's error names it too (see diagnose).
                let given = opt.name.as_ref().or(c.name.as_ref()).map(names::ident);
                let constraint = given.unwrap_or_else(|| format!("{table}_{name}_check"));
                parts.push(format!("CONSTRAINT {} CHECK ({e})", quote(&constraint)));
            }
            ColumnOption::Generated { generated_as, generation_expr: None, .. } => {
                match generated_as {
                    sqlparser::ast::GeneratedAs::ExpStored => return Err(unsupported("generated columns")),
                    sqlparser::ast::GeneratedAs::Always => always = true,
                    sqlparser::ast::GeneratedAs::ByDefault => {}
                }
                serial = true;
            }
            ColumnOption::Generated { .. } => return Err(unsupported("generated columns")),
            ColumnOption::Collation(c) => {
                let n = names::parts(c)?.join(".");
                if !matches!(n.as_str(), "C" | "c" | "POSIX" | "default" | "pg_catalog.default" | "pg_catalog.C") {
                    return Err(unsupported(format!("collation \"{n}\"")));
                }
            }
            other_opt => return Err(unsupported(format!("column option {other_opt}"))),
        }
    }
    if serial {
        if !primary {
            return Err(unsupported("serial and identity columns that are not the table's one-column primary key"));
        }
        let ty = match ty {
            Some(t) if t.is_integer() => t,
            _ => return Err(SqlError::error("22023", "identity column type must be smallint, integer, or bigint")),
        };
        // SQLite's rowid: never NULL, never reused (AUTOINCREMENT), as a sequence's values.
        let clause = super::schema::serial_clause(ty, always);
        return Ok(format!("{} {clause}{}", quote(&name), join_parts(&parts)));
    }
    let mut s = format!("{} {decl}", quote(&name));
    if primary && table_pk.is_empty() {
        s.push_str(" PRIMARY KEY");
        explicit_not_null = true;
    } else if primary {
        explicit_not_null = true;
    }
    if explicit_not_null {
        s.push_str(" NOT NULL");
    }
    s.push_str(&join_parts(&parts));
    Ok(s)
}

fn join_parts(parts: &[String]) -> String {
    parts.iter().map(|p| format!(" {p}")).collect()
}

/// PostgreSQL's name for a table's CHECK constraint: `t_col_check` when its expression names one column,
/// `t_check` otherwise, numbered when the table's definitions `defs` already hold that name.
fn check_name(table: &str, e: &sqlparser::ast::Expr, defs: &[String]) -> String {
    let mut columns: Vec<String> = Vec::new();
    let _ = sqlparser::ast::visit_expressions(e, |x| {
        if let sqlparser::ast::Expr::Identifier(id) = x {
            let column = names::ident(id);
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let base = match columns.as_slice() {
        [column] => format!("{table}_{column}_check"),
        _ => format!("{table}_check"),
    };
    let taken = |n: &str| defs.iter().any(|d| d.contains(&format!("CONSTRAINT {} ", quote(n))));
    let mut candidate = base.clone();
    let mut n = 0;
    while taken(&candidate) {
        n += 1;
        candidate = format!("{base}{n}");
    }
    candidate
}

fn check_expr(tx: &mut Translator<'_>, _table: &str, e: &sqlparser::ast::Expr) -> Result<String, SqlError> {
    let t = tx.expr(e)?;
    tx.coerce(t, PgType::Bool)
}

fn create_table(tx: &mut Translator<'_>, ct: &CreateTable) -> Result<Out, SqlError> {
    if ct.or_replace
        || ct.external
        || ct.query.is_some()
        || ct.like.is_some()
        || ct.clone.is_some()
        || ct.inherits.is_some()
        || ct.partition_of.is_some()
        || ct.partition_by.is_some()
        || ct.on_commit.is_some()
        || ct.without_rowid
        || ct.strict
    {
        return Err(unsupported("this form of CREATE TABLE"));
    }
    match &ct.table_options {
        CreateTableOptions::None => {}
        CreateTableOptions::With(options) => {
            for o in options {
                let text = o.to_string().to_lowercase();
                if !text.starts_with("fillfactor") && !text.starts_with("autovacuum") {
                    return Err(unsupported(format!("storage parameter {text}")));
                }
            }
        }
        _ => return Err(unsupported("these table options")),
    }
    let (schema, name) = names::relation(&ct.name)?;
    if let Some(s) = &schema {
        if s == "pg_catalog" || s == "information_schema" {
            return Err(SqlError::error("42501", format!("permission denied to create \"{s}.{name}\"")));
        }
        if !tx.cx.schema.schema_exists(s)? {
            return Err(SqlError::error("3F000", format!("schema \"{s}\" does not exist")));
        }
    }
    let sqlite = sqlite_name(schema.as_deref(), &name);
    if !ct.if_not_exists && tx.cx.schema.columns(&sqlite)?.is_some() {
        return Err(SqlError::error("42P07", format!("relation \"{name}\" already exists")));
    }
    // A table-level PRIMARY KEY of one column may make a serial column the rowid.
    let mut table_pk: Vec<String> = Vec::new();
    for c in &ct.constraints {
        if let TableConstraint::PrimaryKey(pk) = c {
            for ic in &pk.columns {
                table_pk.push(index_column_name(&ic.column.expr)?);
            }
        }
    }
    // The columns are in scope for CHECK constraints.
    let rel = super::expr::Rel {
        exprs: None,
        // SQLite's name: a CHECK's column references are qualified with it (a table of another schema is `"s.t"`).
        alias: sqlite.clone(),
        columns: ct
            .columns
            .iter()
            .map(|c| (names::ident(&c.name), decltype(&c.data_type).ok().and_then(|d| d.1)))
            .collect(),
    };
    tx.scopes.push(vec![rel]);
    let result = (|| {
        let mut defs = Vec::new();
        let mut serial_pk = false;
        for c in &ct.columns {
            let d = column_def(tx, &name, c, &table_pk)?;
            serial_pk |= d.contains("AUTOINCREMENT");
            defs.push(d);
        }
        for c in &ct.constraints {
            match c {
                TableConstraint::PrimaryKey(pk) => {
                    if serial_pk && table_pk.len() == 1 {
                        continue;
                    }
                    let cols: Vec<String> = pk
                        .columns
                        .iter()
                        .map(|ic| index_column_name(&ic.column.expr).map(|n| quote(&n)))
                        .collect::<Result<_, _>>()?;
                    defs.push(format!("PRIMARY KEY ({})", cols.join(", ")));
                }
                TableConstraint::Unique(u) => {
                    let cols: Vec<String> = u
                        .columns
                        .iter()
                        .map(|ic| index_column_name(&ic.column.expr).map(|n| quote(&n)))
                        .collect::<Result<_, _>>()?;
                    defs.push(format!("UNIQUE ({})", cols.join(", ")));
                }
                TableConstraint::ForeignKey(fk) => {
                    let cols: Vec<String> = fk.columns.iter().map(|c| quote(&names::ident(c))).collect();
                    let (schema, rel) = names::relation(&fk.foreign_table)?;
                    let mut s = format!(
                        "FOREIGN KEY ({}) REFERENCES {}",
                        cols.join(", "),
                        quote(&sqlite_name(schema.as_deref(), &rel))
                    );
                    if !fk.referred_columns.is_empty() {
                        let rc: Vec<String> = fk.referred_columns.iter().map(|c| quote(&names::ident(c))).collect();
                        s.push_str(&format!(" ({})", rc.join(", ")));
                    }
                    if let Some(a) = &fk.on_delete {
                        s.push_str(&format!(" ON DELETE {}", referential(a)));
                    }
                    if let Some(a) = &fk.on_update {
                        s.push_str(&format!(" ON UPDATE {}", referential(a)));
                    }
                    defs.push(s);
                }
                TableConstraint::Check(ch) => {
                    let e = check_expr(tx, &name, &ch.expr)?;
                    let constraint = match &ch.name {
                        Some(given) => names::ident(given),
                        None => check_name(&name, &ch.expr, &defs),
                    };
                    defs.push(format!("CONSTRAINT {} CHECK ({e})", quote(&constraint)));
                }
                _ => return Err(unsupported("this table constraint")),
            }
        }
        let mut sql = String::from("CREATE ");
        if ct.temporary {
            sql.push_str("TEMP ");
        }
        sql.push_str("TABLE ");
        if ct.if_not_exists {
            sql.push_str("IF NOT EXISTS ");
        }
        sql.push_str(&format!("{} ({})", quote(&sqlite), defs.join(", ")));
        Ok((sql, other("CREATE TABLE"), Vec::new()))
    })();
    tx.scopes.pop();
    result
}

fn index_column_name(e: &sqlparser::ast::Expr) -> Result<String, SqlError> {
    match e {
        sqlparser::ast::Expr::Identifier(id) => Ok(names::ident(id)),
        _ => Err(unsupported("an expression in a key")),
    }
}

fn create_index(tx: &mut Translator<'_>, ci: &CreateIndex) -> Result<Out, SqlError> {
    if ci.concurrently
        || !ci.include.is_empty()
        || ci.nulls_distinct.is_some()
        || !ci.with.is_empty()
        || !ci.index_options.is_empty()
        || !ci.alter_options.is_empty()
    {
        return Err(unsupported("this form of CREATE INDEX"));
    }
    if let Some(u) = &ci.using {
        if !u.to_string().eq_ignore_ascii_case("btree") {
            return Err(unsupported(format!("index access method \"{u}\"")));
        }
    }
    let (schema, table) = names::relation(&ci.table_name)?;
    let (mut rel, sqlite_table) = tx.table(schema.as_deref(), &table, None)?;
    // SQLite allows no qualified column names in index expressions.
    rel.exprs = Some(rel.columns.iter().map(|(c, _)| quote(c)).collect());
    let pg_columns = rel.columns.clone();
    tx.scopes.push(vec![rel]);
    let result = (|| {
        let mut cols = Vec::new();
        let mut first_col = String::new();
        for ic in &ci.columns {
            if ic.operator_class.is_some() {
                return Err(unsupported("operator classes"));
            }
            let t = tx.expr(&ic.column.expr)?;
            if first_col.is_empty() {
                first_col = t.name.clone().unwrap_or_else(|| "expr".into());
            }
            let desc = ic.column.options.sort == Some(sqlparser::ast::OrderBySort::Desc);
            cols.push(format!("{}{}", t.sql, if desc { " DESC" } else { "" }));
        }
        let name = match &ci.name {
            Some(n) => names::parts(n)?.last().cloned().unwrap_or_default(),
            None => format!("{table}_{first_col}_idx"),
        };
        let index_sqlite = sqlite_name(schema.as_deref(), &name);
        let mut sql = format!(
            "CREATE {}INDEX {}{} ON {} ({})",
            if ci.unique { "UNIQUE " } else { "" },
            if ci.if_not_exists { "IF NOT EXISTS " } else { "" },
            quote(&index_sqlite),
            sqlite_table,
            cols.join(", ")
        );
        if let Some(p) = &ci.predicate {
            let t = tx.expr(p)?;
            // PostgreSQL's text of the predicate, for the catalogs (see deparse), where it can be told.
            let pg_text = super::deparse::predicate(p, &pg_columns)
                .map(|(plain, pretty)| format!("{}{plain}\n{pretty}*/ ", crate::sql::pg_catalog::PG_VIEW_TEXT))
                .unwrap_or_default();
            sql.push_str(&format!(" WHERE {pg_text}{}", tx.coerce(t, PgType::Bool)?));
        }
        Ok((sql, other("CREATE INDEX"), Vec::new()))
    })();
    tx.scopes.pop();
    result
}

fn drop(
    tx: &mut Translator<'_>,
    object_type: &ObjectType,
    if_exists: bool,
    list: &[sqlparser::ast::ObjectName],
    cascade: bool,
) -> Result<Out, SqlError> {
    let (word, tag) = match object_type {
        ObjectType::Table => ("TABLE", "DROP TABLE"),
        ObjectType::View => ("VIEW", "DROP VIEW"),
        ObjectType::Index => ("INDEX", "DROP INDEX"),
        ObjectType::Schema => {
            if cascade {
                return Err(unsupported("DROP SCHEMA ... CASCADE"));
            }
            let mut stmts = Vec::new();
            for n in list {
                let name = names::parts(n)?.join(".");
                if !tx.cx.schema.schema_exists(&name)? {
                    if if_exists {
                        continue;
                    }
                    return Err(SqlError::error("3F000", format!("schema \"{name}\" does not exist")));
                }
                if matches!(name.as_str(), "public" | "pg_catalog" | "information_schema") {
                    return Err(unsupported(format!("dropping schema \"{name}\"")));
                }
                stmts.push(format!("DELETE FROM _pg_schemas WHERE nspname = {}", literal(&name)));
            }
            return finish(tx, stmts, "DROP SCHEMA");
        }
        other_type => return Err(unsupported(format!("DROP {other_type}"))),
    };
    if cascade {
        return Err(unsupported(format!("DROP {word} ... CASCADE")));
    }
    let mut stmts = Vec::new();
    for n in list {
        let (schema, name) = names::relation(n)?;
        let sqlite = sqlite_name(schema.as_deref(), &name);
        if !if_exists && *object_type != ObjectType::Index && tx.cx.schema.columns(&sqlite)?.is_none() {
            let what = if *object_type == ObjectType::View { "view" } else { "table" };
            return Err(SqlError::error("42P01", format!("{what} \"{name}\" does not exist")));
        }
        stmts.push(format!("DROP {word} {}{}", if if_exists { "IF EXISTS " } else { "" }, quote(&sqlite)));
    }
    finish(tx, stmts, tag)
}

/// The last of `stmts` as the statement, the others run before it.
fn finish(tx: &mut Translator<'_>, mut stmts: Vec<String>, tag: &str) -> Result<Out, SqlError> {
    let last = stmts.pop().unwrap_or_default();
    tx.before.extend(stmts);
    Ok((last, other(tag), Vec::new()))
}

fn alter_table(tx: &mut Translator<'_>, at: &sqlparser::ast::AlterTable) -> Result<Out, SqlError> {
    let (schema, name) = names::relation(&at.name)?;
    let sqlite = sqlite_name(schema.as_deref(), &name);
    if let [AlterTableOperation::OwnerTo { new_owner: sqlparser::ast::Owner::Ident(role) }] = at.operations.as_slice() {
        // The owner of a table, view or sequence (pg_dump writes ALTER TABLE for all three).
        let text = format!("ALTER SEQUENCE {} OWNER TO {}", at.name, role);
        if tx.cx.schema.columns(&sqlite)?.is_none() {
            if let Some(done) = super::restore::by_text(&text, tx) {
                return done.map(|(sql, _, cols)| (sql, other("ALTER TABLE"), cols));
            }
        }
        let owner = crate::sql::pg_catalog::BOOTSTRAP_SUPERUSER;
        if tx.cx.schema.columns(&sqlite)?.is_some() {
            super::restore::check_owner(tx, &names::ident(role), owner, "relation")?;
            return Ok((String::new(), other("ALTER TABLE"), Vec::new()));
        }
    }
    if tx.cx.schema.columns(&sqlite)?.is_none() {
        if at.if_exists {
            return Ok((String::new(), other("ALTER TABLE"), Vec::new()));
        }
        return Err(SqlError::error("42P01", format!("relation \"{name}\" does not exist")));
    }
    let [op] = at.operations.as_slice() else {
        return Err(unsupported("ALTER TABLE with several actions"));
    };
    let (rel, _) = tx.table(schema.as_deref(), &name, None)?;
    tx.scopes.push(vec![rel]);
    let result = (|| {
        let sql = match op {
            AlterTableOperation::AddColumn { column_def, if_not_exists, column_position, .. } => {
                if column_position.is_some() {
                    return Err(unsupported("column positions"));
                }
                let col = names::ident(&column_def.name);
                if *if_not_exists && tx.cx.schema.columns(&sqlite)?.is_some_and(|c| c.iter().any(|c| c.name == col)) {
                    return Ok((String::new(), other("ALTER TABLE"), Vec::new()));
                }
                // The new column is in scope for its own CHECK, qualified with SQLite's name of the table.
                if let Some(rel) = tx.scopes.last_mut().and_then(|scope| scope.first_mut()) {
                    rel.alias = sqlite.clone();
                    rel.columns.push((col.clone(), decltype(&column_def.data_type).ok().and_then(|d| d.1)));
                }
                let def = column_def_for_add(tx, &name, column_def)?;
                format!("ALTER TABLE {} ADD COLUMN {def}", quote(&sqlite))
            }
            AlterTableOperation::DropColumn { column_names, if_exists, drop_behavior, .. } => {
                if matches!(drop_behavior, Some(sqlparser::ast::DropBehavior::Cascade)) {
                    return Err(unsupported("DROP COLUMN ... CASCADE"));
                }
                let [c] = column_names.as_slice() else { return Err(unsupported("dropping several columns")) };
                let col = names::ident(c);
                if !tx.cx.schema.columns(&sqlite)?.is_some_and(|cols| cols.iter().any(|x| x.name == col)) {
                    if *if_exists {
                        return Ok((String::new(), other("ALTER TABLE"), Vec::new()));
                    }
                    return Err(SqlError::error(
                        "42703",
                        format!("column \"{col}\" of relation \"{name}\" does not exist"),
                    ));
                }
                format!("ALTER TABLE {} DROP COLUMN {}", quote(&sqlite), quote(&col))
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                quote(&sqlite),
                quote(&names::ident(old_column_name)),
                quote(&names::ident(new_column_name))
            ),
            AlterTableOperation::RenameTable { table_name } => {
                let target = match table_name {
                    sqlparser::ast::RenameTableNameKind::To(n) | sqlparser::ast::RenameTableNameKind::As(n) => {
                        names::relation(n)?.1
                    }
                };
                format!("ALTER TABLE {} RENAME TO {}", quote(&sqlite), quote(&sqlite_name(schema.as_deref(), &target)))
            }
            AlterTableOperation::AddConstraint { constraint: TableConstraint::PrimaryKey(pk), .. } => {
                if !pk.include.is_empty() || !pk.index_options.is_empty() || pk.characteristics.is_some() {
                    return Err(unsupported("this form of PRIMARY KEY"));
                }
                let cols: Vec<String> =
                    pk.columns.iter().map(|ic| index_column_name(&ic.column.expr)).collect::<Result<_, _>>()?;
                let constraint = pk.name.as_ref().map(names::ident);
                let added = super::restore::Added::Key { primary: true, columns: cols };
                return super::restore::add_constraint(tx, &sqlite, &name, constraint.as_deref(), added);
            }
            AlterTableOperation::AddConstraint { constraint: TableConstraint::Unique(u), .. } => {
                if !u.include.is_empty()
                    || !u.index_options.is_empty()
                    || u.characteristics.is_some()
                    || u.nulls_distinct != sqlparser::ast::NullsDistinctOption::None
                {
                    return Err(unsupported("this form of UNIQUE"));
                }
                let cols: Vec<String> =
                    u.columns.iter().map(|ic| index_column_name(&ic.column.expr)).collect::<Result<_, _>>()?;
                let constraint = u.name.as_ref().map(names::ident);
                let added = super::restore::Added::Key { primary: false, columns: cols };
                return super::restore::add_constraint(tx, &sqlite, &name, constraint.as_deref(), added);
            }
            AlterTableOperation::AddConstraint { constraint: TableConstraint::ForeignKey(fk), .. } => {
                if fk.match_kind.is_some() || fk.characteristics.is_some() {
                    return Err(unsupported("this form of FOREIGN KEY"));
                }
                let cols: Vec<String> = fk.columns.iter().map(names::ident).collect();
                let (ref_schema, rel) = names::relation(&fk.foreign_table)?;
                let referenced = sqlite_name(ref_schema.as_deref(), &rel);
                if tx.cx.schema.columns(&referenced)?.is_none() {
                    return Err(SqlError::error("42P01", format!("relation \"{rel}\" does not exist")));
                }
                let mut references = format!("REFERENCES {}", quote(&referenced));
                if !fk.referred_columns.is_empty() {
                    let rc: Vec<String> = fk.referred_columns.iter().map(|c| quote(&names::ident(c))).collect();
                    references.push_str(&format!(" ({})", rc.join(", ")));
                }
                if let Some(a) = &fk.on_delete {
                    references.push_str(&format!(" ON DELETE {}", referential(a)));
                }
                if let Some(a) = &fk.on_update {
                    references.push_str(&format!(" ON UPDATE {}", referential(a)));
                }
                let constraint = fk.name.as_ref().map(names::ident);
                let added = super::restore::Added::Foreign { columns: cols, references };
                return super::restore::add_constraint(tx, &sqlite, &name, constraint.as_deref(), added);
            }
            AlterTableOperation::AlterColumn {
                column_name,
                op: sqlparser::ast::AlterColumnOperation::SetDefault { value },
            } => {
                let Some(sequence) = nextval_of(value) else {
                    return Err(unsupported("ALTER COLUMN ... SET DEFAULT of anything but a sequence's nextval()"));
                };
                let column = names::ident(column_name);
                return super::restore::set_default_nextval(tx, &sqlite, &column, &sequence);
            }
            _ => return Err(unsupported(format!("ALTER TABLE {op}").split(' ').take(4).collect::<Vec<_>>().join(" "))),
        };
        Ok((sql, other("ALTER TABLE"), Vec::new()))
    })();
    tx.scopes.pop();
    result
}

fn column_def_for_add(tx: &mut Translator<'_>, table: &str, col: &ColumnDef) -> Result<String, SqlError> {
    let d = column_def(tx, table, col, &[])?;
    if d.contains("PRIMARY KEY") {
        return Err(unsupported("adding a primary key column"));
    }
    Ok(d)
}

/// The sequence name of a `nextval('name'[::regclass])` default.
fn nextval_of(e: &sqlparser::ast::Expr) -> Option<String> {
    use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value};
    let Expr::Function(f) = e else { return None };
    if !f.name.0.last().is_some_and(|p| p.to_string().eq_ignore_ascii_case("nextval")) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else { return None };
    let arg = match arg {
        Expr::Cast { expr, .. } => expr.as_ref(),
        other => other,
    };
    match arg {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.to_ascii_lowercase()),
            _ => None,
        },
        _ => None,
    }
}

/// A view's query in PostgreSQL's SQL, as a leading comment of its SQLite text (what `pg_get_viewdef` and
/// `pg_views` show, its relations qualified when `public` is not on the search path). Empty when the text
/// cannot be kept in a comment.
fn view_text(_tx: &Translator<'_>, query: &sqlparser::ast::Query) -> Result<String, SqlError> {
    // Kept without the `public` / `pg_catalog` qualifiers, however it was written (a view restored from a dump
    // names `public.t`), so that it reads the same whichever way it was created.
    let text = crate::sql::pg_catalog::requalified(&query.to_string(), false);
    if text.contains("*/") || text.contains("/*") {
        return Ok(String::new());
    }
    Ok(format!("{}{text}*/ ", crate::sql::pg_catalog::PG_VIEW_TEXT))
}
