//! PostgreSQL's functions and operators on SQLite: each one the translator accepts, with its result type and the
//! SQLite text that computes PostgreSQL's answer, and the SQL functions of the host's own that some need
//! ([`register`]: integer arithmetic with PostgreSQL's overflow and division errors, LIKE and regular
//! expressions with PostgreSQL's rules, Unicode case mapping, `gen_random_uuid`, `pg_sleep`, jsonb access).
//!
//! An error raised inside one of these SQL functions reaches the client whole ([`fail`]).
//!
//! Runs in: any process that runs SQL through the translator.

use rusqlite::functions::{Context as FnContext, FunctionFlags};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause,
    FunctionArguments, WindowType,
};

use super::expr::{common_type, width, Lit, Translator, Typed};
use super::names::{self, literal, quote};
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::types::PgType;

/// Fails the running statement with `err`, SQLSTATE and all (see [`crate::sql::sqlite::function_failed`]).
pub fn fail(err: SqlError) -> rusqlite::Error {
    crate::sql::sqlite::function_failed(err)
}

fn no_function(name: &str, args: &[Typed]) -> SqlError {
    let types: Vec<&str> = args.iter().map(|a| a.ty.map_or("unknown", PgType::sql_name)).collect();
    SqlError::error("42883", format!("function {name}({}) does not exist", types.join(", ")))
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// Words PostgreSQL reads as function calls without parentheses (`current_user`, `current_date`, ...).
pub(super) fn keyword_value(tx: &mut Translator<'_>, word: &str) -> Result<Option<Typed>, SqlError> {
    Ok(Some(match word {
        "current_user" | "session_user" | "user" | "current_role" => {
            Typed::new(literal(&tx.cx.user), PgType::Name).named(word)
        }
        "current_catalog" => Typed::new(literal(&tx.cx.database), PgType::Name).named(word),
        "current_schema" => Typed::new("'public'", PgType::Name).named(word),
        "current_timestamp" | "localtimestamp" => {
            let ty = if word == "current_timestamp" { PgType::Timestamptz } else { PgType::Timestamp };
            Typed::new(now_sql(ty), ty).named(word)
        }
        "current_date" => Typed::new("substr(pg_now(), 1, 10)", PgType::Date).named(word),
        _ => return Ok(None),
    }))
}

fn now_sql(ty: PgType) -> String {
    match ty {
        PgType::Timestamp => "substr(pg_now(), 1, length(pg_now()) - 3)".into(),
        _ => "pg_now()".into(),
    }
}

/// A function call.
pub(super) fn call(tx: &mut Translator<'_>, f: &Function) -> Result<Typed, SqlError> {
    if f.name.0.last().is_some_and(|p| p.to_string().eq_ignore_ascii_case("_pg_expandarray")) {
        // Read as a join of the array's elements (see the select list's handling).
        let key = match &f.args {
            FunctionArguments::List(list) => match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => a.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        return match tx.expansions.iter().find(|(k, _)| *k == key) {
            Some((_, alias)) => Ok(Typed::new(quote(alias), PgType::Record).named("_pg_expandarray")),
            None => Err(unsupported("_pg_expandarray outside a select list")),
        };
    }
    let name = names::function(&f.name)?
        .ok_or_else(|| SqlError::error("42883", format!("function {} does not exist", f.name)))?;
    if name == "setval" {
        let FunctionArguments::List(list) = &f.args else { return Err(unsupported("this form of setval()")) };
        let args: Vec<sqlparser::ast::Expr> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                _ => Err(unsupported("this form of setval()")),
            })
            .collect::<Result<_, _>>()?;
        return super::restore::setval(tx, &args);
    }
    if !f.within_group.is_empty() || f.null_treatment.is_some() || !matches!(f.parameters, FunctionArguments::None) {
        return Err(unsupported(format!("this form of {name}()")));
    }
    let (args, distinct, order_by, star) = match &f.args {
        FunctionArguments::None => {
            if let Some(t) = keyword_value(tx, &name)? {
                return Ok(t);
            }
            (Vec::new(), false, Vec::new(), false)
        }
        FunctionArguments::Subquery(q) if name == "array" => {
            // ARRAY(subquery): its rows as an array of its one column's type.
            let sub = tx.subquery(q)?;
            let [column] = sub.columns.as_slice() else {
                return Err(SqlError::error("42601", "subquery must return only one column"));
            };
            let ty = column.ty.unwrap_or(PgType::Text);
            let array = ty.array().ok_or_else(|| unsupported(format!("ARRAY() of {}", ty.sql_name())))?;
            let sql = format!(
                "(SELECT coalesce(pg_array_agg(_a.{}, '{}'), '{{}}') FROM ({}) AS _a)",
                quote(&column.name),
                ty.typname(),
                sub.sql
            );
            return Ok(Typed::new(sql, array).named("array"));
        }
        FunctionArguments::Subquery(_) => return Err(unsupported("a subquery as function arguments")),
        FunctionArguments::List(list) => {
            let mut order_by = Vec::new();
            for c in &list.clauses {
                match c {
                    FunctionArgumentClause::OrderBy(o) => order_by = o.clone(),
                    _ => return Err(unsupported(format!("this clause in {name}()"))),
                }
            }
            let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
            let mut args = Vec::new();
            let mut star = false;
            // PostgreSQL's named notation (`name => value`), for the host's functions that name their parameters:
            // each argument goes to its parameter's position; parameters left out in between are NULL, which
            // these functions take as "the default".
            let params = (tx.cx.host_function_params)(&name);
            let mut named: Vec<(usize, Typed)> = Vec::new();
            for a in &list.args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if named.is_empty() => args.push(tx.expr(e)?),
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(_)) => {
                        return Err(SqlError::error("42601", "positional argument cannot follow named argument"))
                    }
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                    FunctionArg::Named { name: param, arg: FunctionArgExpr::Expr(e), .. }
                    | FunctionArg::ExprNamed {
                        name: sqlparser::ast::Expr::Identifier(param),
                        arg: FunctionArgExpr::Expr(e),
                        ..
                    } if params.is_some() => {
                        let wanted =
                            if param.quote_style.is_some() { param.value.clone() } else { param.value.to_lowercase() };
                        let Some(at) = params.as_ref().and_then(|p| p.iter().position(|n| *n == wanted)) else {
                            return Err(no_function(&name, &args));
                        };
                        if at < args.len() || named.iter().any(|(i, _)| *i == at) {
                            return Err(SqlError::error(
                                "42601",
                                format!("argument name \"{wanted}\" used more than once"),
                            ));
                        }
                        named.push((at, tx.expr(e)?));
                    }
                    _ => return Err(unsupported(format!("named arguments in {name}()"))),
                }
            }
            named.sort_by_key(|(i, _)| *i);
            for (at, value) in named {
                while args.len() < at {
                    args.push(Typed { sql: "NULL".into(), ty: None, name: None, lit: super::expr::Lit::Null });
                }
                args.push(value);
            }
            (args, distinct, order_by, star)
        }
    };
    let filter = match &f.filter {
        Some(e) => {
            let t = tx.expr(e)?;
            Some(tx.coerce(t, PgType::Bool)?)
        }
        None => None,
    };
    let aggregate = is_aggregate(&name);
    if (distinct || !order_by.is_empty() || filter.is_some()) && !aggregate {
        return Err(SqlError::error(
            "42809",
            format!("DISTINCT, ORDER BY or FILTER specified, but {name} is not an aggregate function"),
        ));
    }
    let mut t = if aggregate {
        aggregate_call(tx, &name, args, distinct, &order_by, star, filter)?
    } else if star {
        return Err(SqlError::error("42809", format!("{name}(*) specified, but {name} is not an aggregate function")));
    } else if is_window_only(&name) {
        if f.over.is_none() {
            return Err(SqlError::error("42809", format!("window function {name} requires an OVER clause")));
        }
        window_only(&name, args)?
    } else {
        call_named(tx, &name, args)?
    };
    if let Some(over) = &f.over {
        if t.sql.starts_with("pg_numeric_") {
            return Err(unsupported(format!("{name}() of numeric as a window function")));
        }
        if !aggregate && !is_window_only(&name) {
            return Err(SqlError::error(
                "42809",
                format!("OVER specified, but {name} is not a window function nor an aggregate function"),
            ));
        }
        t.sql = format!("{} OVER ({})", t.sql, window(tx, over)?);
    }
    Ok(t)
}

fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count" | "sum" | "avg" | "min" | "max" | "string_agg" | "bool_and" | "bool_or" | "every" | "array_agg"
    )
}

fn is_window_only(name: &str) -> bool {
    matches!(
        name,
        "row_number"
            | "rank"
            | "dense_rank"
            | "percent_rank"
            | "cume_dist"
            | "ntile"
            | "lag"
            | "lead"
            | "first_value"
            | "last_value"
    )
}

fn window_only(name: &str, args: Vec<Typed>) -> Result<Typed, SqlError> {
    Ok(match name {
        "row_number" | "rank" | "dense_rank" if args.is_empty() => {
            Typed::new(format!("{name}()"), PgType::Int8).named(name)
        }
        "percent_rank" | "cume_dist" if args.is_empty() => Typed::new(format!("{name}()"), PgType::Float8).named(name),
        "first_value" | "last_value" if args.len() == 1 => {
            let ty = args[0].ty.unwrap_or(PgType::Text);
            Typed::new(format!("{name}({})", args[0].sql), ty).named(name)
        }
        "lag" | "lead" if args.len() == 1 => {
            let ty = args[0].ty.unwrap_or(PgType::Text);
            Typed::new(format!("{name}({})", args[0].sql), ty).named(name)
        }
        _ => return Err(unsupported(format!("window function {name} with these arguments"))),
    })
}

fn window(tx: &mut Translator<'_>, over: &WindowType) -> Result<String, SqlError> {
    let WindowType::WindowSpec(spec) = over else {
        return Err(unsupported("named windows"));
    };
    if spec.window_frame.is_some() || spec.window_name.is_some() {
        return Err(unsupported("window frames"));
    }
    let mut parts = Vec::new();
    if !spec.partition_by.is_empty() {
        let mut keys = Vec::new();
        for e in &spec.partition_by {
            keys.push(tx.expr(e)?.sql);
        }
        parts.push(format!("PARTITION BY {}", keys.join(", ")));
    }
    if !spec.order_by.is_empty() {
        let mut keys = Vec::new();
        for o in &spec.order_by {
            let t = tx.expr(&o.expr)?;
            if let Some(ty) = t.ty {
                tx.check_comparable(ty)?;
            }
            let desc = o.options.sort == Some(sqlparser::ast::OrderBySort::Desc);
            let nulls_first = o.options.nulls_first.unwrap_or(desc);
            keys.push(format!(
                "{}{}{}",
                t.sql,
                if desc { " DESC" } else { "" },
                if nulls_first { " NULLS FIRST" } else { " NULLS LAST" }
            ));
        }
        parts.push(format!("ORDER BY {}", keys.join(", ")));
    }
    Ok(parts.join(" "))
}

fn aggregate_call(
    tx: &mut Translator<'_>,
    name: &str,
    args: Vec<Typed>,
    distinct: bool,
    order_by: &[sqlparser::ast::OrderByExpr],
    star: bool,
    filter: Option<String>,
) -> Result<Typed, SqlError> {
    let d = if distinct { "DISTINCT " } else { "" };
    let filter_sql = filter.map(|f| format!(" FILTER (WHERE {f})")).unwrap_or_default();
    if !order_by.is_empty() && name != "string_agg" && name != "array_agg" {
        return Err(unsupported(format!("ORDER BY in {name}()")));
    }
    let one = |args: &[Typed]| -> Result<Typed, SqlError> {
        match args {
            [a] => Ok(a.clone()),
            _ => Err(no_function(name, args)),
        }
    };
    let t = match name {
        "count" if star => Typed::new(format!("count(*){filter_sql}"), PgType::Int8),
        "count" => {
            let a = one(&args)?;
            Typed::new(format!("count({d}{}){filter_sql}", a.sql), PgType::Int8)
        }
        "sum" => {
            let a = one(&args)?;
            match a.ty {
                Some(PgType::Int2 | PgType::Int4) => Typed::new(format!("sum({d}{}){filter_sql}", a.sql), PgType::Int8),
                Some(PgType::Int8) => Typed::new(format!("sum({d}{}){filter_sql}", a.sql), PgType::Numeric),
                Some(PgType::Float8 | PgType::Float4) => {
                    Typed::new(format!("sum({d}{}){filter_sql}", a.sql), a.ty.unwrap_or(PgType::Float8))
                }
                Some(PgType::Numeric) => {
                    Typed::new(format!("pg_numeric_sum({d}{}){filter_sql}", a.sql), PgType::Numeric)
                }
                Some(PgType::Interval) => return Err(unsupported("sum(interval)")),
                _ => return Err(no_function("sum", &args)),
            }
        }
        "avg" => {
            let a = one(&args)?;
            match a.ty {
                Some(t) if t.is_integer() || t == PgType::Numeric => {
                    Typed::new(format!("pg_numeric_avg({d}{}){filter_sql}", a.sql), PgType::Numeric)
                }
                Some(PgType::Float8 | PgType::Float4) => {
                    Typed::new(format!("avg({d}{}){filter_sql}", a.sql), PgType::Float8)
                }
                _ => return Err(no_function("avg", &args)),
            }
        }
        "min" | "max" => {
            let a = one(&args)?;
            let ty = a.ty.unwrap_or(PgType::Text);
            if ty != PgType::Numeric {
                tx.check_comparable(ty)?;
            }
            if ty == PgType::Bool {
                return Err(no_function(name, &args));
            }
            // min(text) serves every string type.
            let ty = if ty.is_string() { PgType::Text } else { ty };
            if ty == PgType::Numeric {
                // Numeric is held as text: compared by value, not by its text.
                return Ok(Typed::new(format!("pg_numeric_{name}({}){filter_sql}", a.sql), ty).named(name));
            }
            Typed::new(format!("{name}({d}{}){filter_sql}", a.sql), ty)
        }
        "bool_and" | "every" | "bool_or" => {
            let a = one(&args)?;
            let s = tx.coerce(a, PgType::Bool)?;
            let f = if name == "bool_or" { "max" } else { "min" };
            Typed::new(format!("{f}({d}{s}){filter_sql}"), PgType::Bool)
        }
        "string_agg" => {
            let [a, sep] = <[Typed; 2]>::try_from(args.clone()).map_err(|_| no_function(name, &args))?;
            let a = tx.coerce(a, PgType::Text)?;
            let sep = tx.coerce(sep, PgType::Text)?;
            let order = aggregate_order(tx, order_by)?;
            if distinct {
                return Err(unsupported("string_agg(DISTINCT ...)"));
            }
            Typed::new(format!("group_concat({a}, {sep}{order}){filter_sql}"), PgType::Text)
        }
        "array_agg" => {
            let a = one(&args)?;
            let ty = a.ty.unwrap_or(PgType::Text);
            let array = ty.array().ok_or_else(|| unsupported(format!("array_agg of {}", ty.sql_name())))?;
            if distinct {
                return Err(unsupported("array_agg(DISTINCT ...)"));
            }
            let order = aggregate_order(tx, order_by)?;
            Typed::new(format!("pg_array_agg({}, '{}'{order}){filter_sql}", a.sql, ty.typname()), array)
        }
        _ => return Err(no_function(name, &args)),
    };
    Ok(t.named(name))
}

/// An aggregate's ORDER BY clause (SQLite's, inside the call), NULLs placed as PostgreSQL places them.
fn aggregate_order(tx: &mut Translator<'_>, order_by: &[sqlparser::ast::OrderByExpr]) -> Result<String, SqlError> {
    if order_by.is_empty() {
        return Ok(String::new());
    }
    let mut keys = Vec::new();
    for o in order_by {
        let t = tx.expr(&o.expr)?;
        let sql = match t.ty {
            Some(ty) => tx.key(ty, t.sql.clone())?,
            None => t.sql.clone(),
        };
        let desc = o.options.sort == Some(sqlparser::ast::OrderBySort::Desc);
        let nulls_first = o.options.nulls_first.unwrap_or(desc);
        keys.push(format!(
            "{sql}{}{}",
            if desc { " DESC" } else { "" },
            if nulls_first { " NULLS FIRST" } else { " NULLS LAST" }
        ));
    }
    Ok(format!(" ORDER BY {}", keys.join(", ")))
}

/// A scalar function by name with translated arguments.
pub(super) fn call_named(tx: &mut Translator<'_>, name: &str, mut args: Vec<Typed>) -> Result<Typed, SqlError> {
    let n = args.len();
    let text1 = |tx: &mut Translator<'_>, args: &mut Vec<Typed>| -> Result<String, SqlError> {
        let a = args.remove(0);
        tx.text_of(a)
    };
    let t = match (name, n) {
        ("lower" | "upper", 1) => {
            let s = text1(tx, &mut args)?;
            Typed::new(format!("pg_{name}({s})"), PgType::Text)
        }
        ("length" | "octet_length", 1) if args[0].ty == Some(PgType::Bytea) => {
            Typed::new(format!("length({})", args[0].sql), PgType::Int4)
        }
        ("length" | "char_length" | "character_length", 1) => {
            let s = text1(tx, &mut args)?;
            Typed::new(format!("length({s})"), PgType::Int4)
        }
        ("octet_length", 1) => {
            let s = text1(tx, &mut args)?;
            Typed::new(format!("length(CAST({s} AS BLOB))"), PgType::Int4)
        }
        ("substr" | "substring", 2 | 3) => {
            let s = text1(tx, &mut args)?;
            let mut rest = Vec::new();
            for a in args {
                rest.push(tx.coerce(a, PgType::Int4)?);
            }
            Typed::new(format!("pg_substr({s}, {})", rest.join(", ")), PgType::Text)
        }
        ("replace", 3) => {
            let mut parts = Vec::new();
            for a in args {
                parts.push(tx.coerce(a, PgType::Text)?);
            }
            Typed::new(format!("replace({})", parts.join(", ")), PgType::Text)
        }
        ("btrim" | "ltrim" | "rtrim" | "trim", 1 | 2) => {
            let s = text1(tx, &mut args)?;
            let chars = match args.pop() {
                Some(c) => tx.coerce(c, PgType::Text)?,
                None => "' '".into(),
            };
            let f = if name == "btrim" { "trim" } else { name };
            Typed::new(format!("{f}({s}, {chars})"), PgType::Text)
        }
        ("concat", _) => {
            let mut parts = Vec::new();
            for a in args {
                parts.push(format!("coalesce({}, '')", tx.text_of(a)?));
            }
            let sql = if parts.is_empty() { "''".to_owned() } else { format!("({})", parts.join(" || ")) };
            Typed::new(sql, PgType::Text)
        }
        ("left" | "right", 2) => {
            let s = text1(tx, &mut args)?;
            let k = tx.coerce(args.remove(0), PgType::Int4)?;
            Typed::new(format!("pg_{name}({s}, {k})"), PgType::Text)
        }
        ("repeat", 2) => {
            let s = text1(tx, &mut args)?;
            let k = tx.coerce(args.remove(0), PgType::Int4)?;
            Typed::new(format!("pg_repeat({s}, {k})"), PgType::Text)
        }
        ("strpos", 2) => {
            let s = text1(tx, &mut args)?;
            let k = tx.coerce(args.remove(0), PgType::Text)?;
            Typed::new(format!("instr({s}, {k})"), PgType::Int4)
        }
        ("md5", 1) => {
            let s = text1(tx, &mut args)?;
            Typed::new(format!("pg_text_fn('md5', {s})"), PgType::Text)
        }
        ("initcap" | "reverse" | "ascii", 1) => {
            let s = text1(tx, &mut args)?;
            let ty = if name == "ascii" { PgType::Int4 } else { PgType::Text };
            Typed::new(format!("pg_text_fn('{name}', {s})"), ty)
        }
        ("chr", 1) => {
            let c = tx.coerce(args.remove(0), PgType::Int4)?;
            Typed::new(format!("pg_text_fn('chr', {c})"), PgType::Text)
        }
        ("starts_with", 2) => {
            let s = text1(tx, &mut args)?;
            let p = tx.coerce(args.remove(0), PgType::Text)?;
            Typed::new(format!("(substr({s}, 1, length({p})) = {p})"), PgType::Bool)
        }
        ("lpad" | "rpad", 2 | 3) => {
            let s = text1(tx, &mut args)?;
            let len = tx.coerce(args.remove(0), PgType::Int4)?;
            let fill = match args.pop() {
                Some(f) => tx.coerce(f, PgType::Text)?,
                None => "' '".into(),
            };
            Typed::new(format!("pg_text_fn('{name}', {s}, {len}, {fill})"), PgType::Text)
        }
        ("split_part", 3) => {
            let s = text1(tx, &mut args)?;
            let d = tx.coerce(args.remove(0), PgType::Text)?;
            let i = tx.coerce(args.remove(0), PgType::Int4)?;
            Typed::new(format!("pg_text_fn('split_part', {s}, {d}, {i})"), PgType::Text)
        }
        ("concat_ws", _) if n >= 1 => {
            let sep = text1(tx, &mut args)?;
            let mut parts = Vec::new();
            for a in args {
                parts.push(tx.text_of(a)?);
            }
            Typed::new(format!("pg_text_fn('concat_ws', {sep}, {})", parts.join(", ")), PgType::Text)
        }
        ("mod", 2) => {
            let b = args.pop().expect("two");
            let a = args.pop().expect("two");
            return arithmetic(tx, a, &BinaryOperator::Modulo, b).map(|t| t.named("mod"));
        }
        ("sign", 1) => {
            let a = args.remove(0);
            match a.ty {
                Some(t @ (PgType::Float8 | PgType::Float4)) => Typed::new(format!("CAST(sign({}) AS REAL)", a.sql), t),
                Some(t) if t.is_integer() => {
                    return Err(unsupported(format!("sign({}) (numeric result)", t.sql_name())))
                }
                _ => return Err(unsupported("sign() of this type")),
            }
        }
        ("trunc", 1) => {
            let a = args.remove(0);
            match a.ty {
                Some(PgType::Float8 | PgType::Float4) => {
                    Typed::new(format!("pg_math('trunc', {})", a.sql), PgType::Float8)
                }
                _ => return Err(unsupported("trunc() of this type")),
            }
        }
        ("coalesce", _) if n > 0 => {
            let all: Vec<&Typed> = args.iter().collect();
            let ty = common_type(&all)?;
            let mut parts = Vec::new();
            for a in args {
                parts.push(tx.coerce(a, ty)?);
            }
            let sql = if parts.len() == 1 { parts.remove(0) } else { format!("coalesce({})", parts.join(", ")) };
            Typed::new(sql, ty)
        }
        ("nullif", 2) => {
            let all: Vec<&Typed> = args.iter().collect();
            let ty = common_type(&all)?;
            let b = tx.coerce(args.pop().expect("two"), ty)?;
            let a = tx.coerce(args.pop().expect("two"), ty)?;
            Typed::new(format!("nullif({a}, {b})"), ty)
        }
        ("greatest" | "least", _) if n > 0 => {
            let all: Vec<&Typed> = args.iter().collect();
            let ty = common_type(&all)?;
            tx.check_comparable(ty)?;
            let mut parts = Vec::new();
            for a in args {
                parts.push(tx.coerce(a, ty)?);
            }
            Typed::new(format!("pg_{name}({})", parts.join(", ")), ty)
        }
        ("abs", 1) => {
            let a = args.remove(0);
            match a.ty {
                Some(t) if t.is_integer() => Typed::new(format!("pg_iop('@', 0, {}, {})", a.sql, width(t)), t),
                Some(PgType::Numeric) => Typed::new(
                    format!(
                        "CASE WHEN pg_numeric_key({0}) < pg_numeric_key(0) THEN pg_numeric_sub(0, {0}) ELSE {0} END",
                        a.sql
                    ),
                    PgType::Numeric,
                ),
                Some(t @ (PgType::Float8 | PgType::Float4)) => Typed::new(format!("abs({})", a.sql), t),
                _ => return Err(no_function(name, &[a])),
            }
        }
        ("ceil" | "ceiling" | "floor", 1) => {
            let a = args.remove(0);
            match a.ty {
                Some(PgType::Float8 | PgType::Float4) | None => {
                    let s = tx.coerce(a, PgType::Float8)?;
                    let f = if name == "floor" { "floor" } else { "ceil" };
                    Typed::new(format!("pg_{f}({s})"), PgType::Float8)
                }
                _ => return Err(unsupported(format!("{name}() of this type"))),
            }
        }
        ("round", 1) => {
            let a = args.remove(0);
            match a.ty {
                Some(PgType::Float8 | PgType::Float4) => Typed::new(format!("pg_rint({})", a.sql), PgType::Float8),
                Some(t) if t.is_integer() => return Err(unsupported("round() of an integer (numeric result)")),
                _ => return Err(unsupported("round() of this type")),
            }
        }
        ("sqrt" | "exp" | "ln" | "log10" | "sin" | "cos" | "tan" | "atan", 1) => {
            let s = tx.coerce(args.remove(0), PgType::Float8)?;
            Typed::new(format!("pg_math('{name}', {s})"), PgType::Float8)
        }
        ("power" | "pow", 2) => {
            let a = tx.coerce(args.remove(0), PgType::Float8)?;
            let b = tx.coerce(args.remove(0), PgType::Float8)?;
            Typed::new(format!("pg_math('power', {a}, {b})"), PgType::Float8)
        }
        ("random", 0) => Typed::new("pg_random()", PgType::Float8),
        ("pi", 0) => Typed::new("3.141592653589793", PgType::Float8),
        ("now" | "transaction_timestamp" | "statement_timestamp", 0) => {
            Typed::new(now_sql(PgType::Timestamptz), PgType::Timestamptz)
        }
        ("clock_timestamp", 0) => Typed::new("pg_clock_timestamp()", PgType::Timestamptz),
        ("current_database", 0) => Typed::new(literal(&tx.cx.database), PgType::Name),
        ("current_schema", 0) => Typed::new("'public'", PgType::Name),
        ("current_schemas", 1) => {
            let b = tx.coerce(args.remove(0), PgType::Bool)?;
            // The catalog function: the session's search path as it is now (empty under pg_dump's).
            Typed::new(format!("current_schemas({b})"), PgType::NameArray)
        }
        ("array_position", 2) => {
            let arr = args.remove(0);
            let Some(element) = arr.ty.and_then(PgType::element) else {
                return Err(no_function(name, &[arr, args.remove(0)]));
            };
            let e = tx.coerce(args.remove(0), element)?;
            let e = tx.cast(&Typed::new(e, element), PgType::Text, -1, true)?;
            Typed::new(format!("pg_array_position({}, {e})", arr.sql), PgType::Int4)
        }
        ("array_to_string", 2 | 3) => {
            let arr = args.remove(0);
            // An array, or text holding one (catalog columns of types the host does not have, like aclitem[]).
            if !(arr.ty.is_some_and(PgType::is_array) || arr.ty == Some(PgType::Text)) {
                return Err(no_function(name, &[arr]));
            }
            let mut rest = Vec::new();
            for a in args {
                rest.push(tx.coerce(a, PgType::Text)?);
            }
            Typed::new(format!("pg_array_to_string({}, {})", arr.sql, rest.join(", ")), PgType::Text)
        }
        ("array_remove", 2) => {
            let arr = args.remove(0);
            let Some(element) = arr.ty.and_then(PgType::element) else {
                return Err(no_function(name, &[arr, args.remove(0)]));
            };
            let e = tx.coerce(args.remove(0), element)?;
            let ty = arr.ty.unwrap_or(PgType::TextArray);
            Typed::new(
                format!(
                    "CASE WHEN {a} IS NOT NULL THEN (SELECT coalesce(pg_array_agg(_r.value, '{t}'), '{{}}') FROM \
                     (SELECT value FROM json_each(pg_array_json({a}, '{t}')) WHERE value IS NOT ({e}) ORDER BY key) AS _r) END",
                    a = arr.sql,
                    t = element.typname()
                ),
                ty,
            )
        }
        ("array_upper" | "array_lower", 2) => {
            let arr = args.remove(0);
            if !arr.ty.is_some_and(|t| t.is_array() || matches!(t, PgType::Int2Vector | PgType::OidVector)) {
                return Err(no_function(name, &[arr]));
            }
            let d = tx.coerce(args.remove(0), PgType::Int4)?;
            let value = if name == "array_upper" { format!("pg_array_length({})", arr.sql) } else { "1".to_owned() };
            Typed::new(format!("CASE WHEN {d} = 1 AND pg_array_length({}) > 0 THEN {value} END", arr.sql), PgType::Int4)
        }
        // A relation's partition ancestors: itself (the host has no partitioned tables).
        ("pg_partition_ancestors", 1) => {
            let r = tx.coerce(args.remove(0), PgType::Regclass)?;
            Typed::new(r, PgType::Regclass)
        }
        // Definitions of objects the host never has (triggers, rules, extended statistics, partitions): asked only
        // of rows the empty catalogs never return.
        (
            "pg_get_triggerdef"
            | "pg_get_ruledef"
            | "pg_get_statisticsobjdef_columns"
            | "pg_get_partkeydef"
            | "pg_get_partition_constraintdef",
            _,
        ) => Typed::new("CAST(NULL AS TEXT)", PgType::Text),
        ("array_length", 2) | ("cardinality", 1) => {
            let arr = args.remove(0);
            if !arr.ty.is_some_and(PgType::is_array) {
                return Err(no_function(name, &[arr]));
            }
            if let Some(dim) = args.pop() {
                let d = tx.coerce(dim, PgType::Int4)?;
                Typed::new(format!("CASE WHEN {d} = 1 THEN nullif(pg_array_length({}), 0) END", arr.sql), PgType::Int4)
            } else {
                Typed::new(format!("pg_array_length({})", arr.sql), PgType::Int4)
            }
        }
        ("generate_series", 2 | 3) => return Err(unsupported("set-returning functions in the select list")),
        ("pg_is_in_recovery", 0) => Typed::new(if tx.cx.in_recovery { "1" } else { "0" }, PgType::Bool),
        ("gen_random_uuid", 0) => Typed::new("pg_gen_random_uuid()", PgType::Uuid),
        ("pg_sleep", 1) => {
            let s = tx.coerce(args.remove(0), PgType::Float8)?;
            Typed::new(format!("pg_sleep({s})"), PgType::Void)
        }
        ("date_trunc", 2) => {
            let field = tx.coerce(args.remove(0), PgType::Text)?;
            let v = args.remove(0);
            let ty = match v.ty {
                Some(t @ (PgType::Timestamp | PgType::Timestamptz)) => t,
                None => PgType::Timestamptz,
                Some(PgType::Date) => PgType::Timestamptz,
                Some(_) => return Err(no_function(name, &[v])),
            };
            let s = tx.coerce(v, ty)?;
            Typed::new(format!("pg_date_trunc({field}, {s}, '{}')", ty.typname()), ty)
        }
        ("date_part", 2) => {
            let field = match &args[0].lit {
                Lit::Str(s) => s.to_lowercase(),
                _ => return Err(unsupported("date_part with a computed field")),
            };
            let v = args.remove(1);
            let mut e = extract(tx, &field, v)?;
            e.ty = Some(PgType::Float8);
            e.sql = format!("CAST({} AS REAL)", e.sql);
            e
        }
        ("pg_typeof", 1) => {
            let a = args.remove(0);
            Typed::new(literal(a.ty.map_or("unknown", PgType::sql_name)), PgType::Regtype)
        }
        ("jsonb_typeof" | "json_typeof", 1) => {
            let s = tx.coerce(args.remove(0), PgType::Jsonb)?;
            Typed::new(format!("pg_json_typeof({s})"), PgType::Text)
        }
        _ => {
            // The host's functions (bgw_*, pg_backend_pid, set_config, ...), typed by the host.
            if let Some(ty) = (tx.cx.host_function)(name) {
                let arg_types = (tx.cx.host_function_args)(name);
                let mut parts = Vec::new();
                for (i, a) in args.into_iter().enumerate() {
                    let want = arg_types.as_ref().and_then(|t| t.get(i).copied());
                    parts.push(match (want, a.ty) {
                        (Some(w), _) => tx.coerce(a, w)?,
                        (None, None) => tx.coerce(a, PgType::Text)?,
                        (None, Some(_)) => a.sql,
                    });
                }
                return Ok(Typed::new(format!("{}({})", quote(name), parts.join(", ")), ty).named(name));
            }
            if is_postgres_function(name) {
                return Err(unsupported(format!("function {name}()")));
            }
            return Err(no_function(name, &args));
        }
    };
    Ok(t.named(name))
}

/// PostgreSQL's built-in functions the translator does not offer (yet): calling one is refused with 0A000,
/// never answered as if it did not exist (42883) or differently.
pub(super) fn is_postgres_function(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "abs",
        "round",
        "ceil",
        "ceiling",
        "floor",
        "trunc",
        "sign",
        "format",
        "to_char",
        "to_date",
        "to_timestamp",
        "to_number",
        "make_date",
        "make_time",
        "make_timestamp",
        "make_timestamptz",
        "make_interval",
        "age",
        "justify_days",
        "justify_hours",
        "justify_interval",
        "encode",
        "decode",
        "string_to_array",
        "regexp_replace",
        "regexp_matches",
        "regexp_match",
        "regexp_split_to_array",
        "regexp_split_to_table",
        "translate",
        "overlay",
        "quote_ident",
        "quote_literal",
        "quote_nullable",
        "unnest",
        "array_cat",
        "array_append",
        "array_prepend",
        "array_remove",
        "array_replace",
        "array_dims",
        "array_ndims",
        "array_fill",
        "width_bucket",
        "div",
        "gcd",
        "lcm",
        "factorial",
        "cbrt",
        "degrees",
        "radians",
        "log",
        "scale",
        "num_nulls",
        "num_nonnulls",
        "to_json",
        "to_jsonb",
        "row_to_json",
        "array_to_json",
        "json_build_object",
        "json_build_array",
        "jsonb_build_object",
        "jsonb_build_array",
        "json_object",
        "jsonb_object",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "jsonb_set",
        "jsonb_insert",
        "jsonb_pretty",
        "jsonb_strip_nulls",
        "json_strip_nulls",
        "jsonb_array_length",
        "json_array_length",
        "jsonb_each",
        "jsonb_each_text",
        "json_each",
        "json_each_text",
        "jsonb_object_keys",
        "json_object_keys",
        "jsonb_array_elements",
        "jsonb_array_elements_text",
        "json_array_elements",
        "json_array_elements_text",
        "jsonb_path_query",
        "jsonb_path_exists",
        "jsonb_extract_path",
        "jsonb_extract_path_text",
        "json_extract_path",
        "json_extract_path_text",
        "jsonb_populate_record",
        "json_populate_record",
        "jsonb_to_record",
        "json_to_record",
        "bit_length",
        "char_length",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "convert_from",
        "convert_to",
        "get_byte",
        "set_byte",
        "substring",
        "timeofday",
        "date_bin",
        "isfinite",
        "percentile_cont",
        "percentile_disc",
        "mode",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "variance",
        "var_pop",
        "var_samp",
        "corr",
        "covar_pop",
        "covar_samp",
        "regr_slope",
        "bit_and",
        "bit_or",
        "xmlagg",
        "nextval",
        "currval",
        "setval",
        "lastval",
        "txid_current",
        "pg_current_xact_id",
        "inet_client_addr",
        "inet_server_addr",
        "pg_size_pretty",
        "pg_database_size",
        "has_function_privilege",
        "row_number",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
    ];
    NAMES.contains(&name)
}

/// EXTRACT(field FROM value).
pub(super) fn extract(tx: &mut Translator<'_>, field: &str, v: Typed) -> Result<Typed, SqlError> {
    let ty = match v.ty {
        Some(t @ (PgType::Timestamp | PgType::Timestamptz | PgType::Date | PgType::Interval | PgType::Time)) => t,
        None => PgType::Timestamptz,
        Some(_) => return Err(no_function("extract", &[v])),
    };
    let s = tx.coerce(v, ty)?;
    Ok(Typed::new(format!("pg_extract({}, {s}, '{}')", literal(field), ty.typname()), PgType::Numeric).named("extract"))
}

/// `->`, `->>`, `@>`, `<@`, `?` on json and jsonb.
pub(super) fn json_operator(
    tx: &mut Translator<'_>,
    left: &Expr,
    op: &BinaryOperator,
    right: &Expr,
) -> Result<Typed, SqlError> {
    let (a, b) = (tx.expr(left)?, tx.expr(right)?);
    let doc_ty = match a.ty {
        Some(t @ (PgType::Json | PgType::Jsonb)) => t,
        None => PgType::Jsonb,
        Some(other) => {
            return Err(SqlError::error("42883", format!("operator does not exist: {} {op} unknown", other.sql_name())))
        }
    };
    let doc = tx.coerce(a, doc_ty)?;
    Ok(match op {
        BinaryOperator::Arrow | BinaryOperator::LongArrow => {
            let key = match b.ty {
                Some(t) if t.is_integer() => b.sql.clone(),
                _ => tx.coerce(b, PgType::Text)?,
            };
            if *op == BinaryOperator::Arrow {
                Typed::new(format!("pg_json_get({doc}, {key}, {})", i32::from(doc_ty == PgType::Jsonb)), doc_ty)
                    .named("?column?")
            } else {
                Typed::new(format!("pg_json_get_text({doc}, {key})"), PgType::Text)
            }
        }
        BinaryOperator::AtArrow | BinaryOperator::ArrowAt if doc_ty == PgType::Jsonb => {
            let other = tx.coerce(b, PgType::Jsonb)?;
            let (x, y) = if *op == BinaryOperator::AtArrow { (doc, other) } else { (other, doc) };
            Typed::new(format!("pg_jsonb_contains({x}, {y})"), PgType::Bool)
        }
        BinaryOperator::Question if doc_ty == PgType::Jsonb => {
            let key = tx.coerce(b, PgType::Text)?;
            Typed::new(format!("pg_jsonb_exists({doc}, {key})"), PgType::Bool)
        }
        _ => return Err(unsupported(format!("operator {op} on {}", doc_ty.sql_name()))),
    })
}

/// `a op b` for + - * / %.
pub(super) fn arithmetic(tx: &mut Translator<'_>, a: Typed, op: &BinaryOperator, b: Typed) -> Result<Typed, SqlError> {
    let sym = match op {
        BinaryOperator::Plus => '+',
        BinaryOperator::Minus => '-',
        BinaryOperator::Multiply => '*',
        BinaryOperator::Divide => '/',
        _ => '%',
    };
    let (ta, tb) = match (a.ty, b.ty) {
        (None, None) => {
            if a.lit == Lit::Null || b.lit == Lit::Null {
                return Ok(Typed::new("NULL", PgType::Int4));
            }
            return Err(SqlError::error("42725", format!("operator is not unique: unknown {sym} unknown")));
        }
        (Some(x), None) => (x, if x == PgType::Date && sym != '-' { PgType::Int4 } else { x }),
        (None, Some(y)) => (y, y),
        (Some(x), Some(y)) => (x, y),
    };
    let missing = || {
        SqlError::error("42883", format!("operator does not exist: {} {sym} {}", ta.sql_name(), tb.sql_name()))
            .with_hint(
                "No operator matches the given name and argument types. You might need to add explicit type casts.",
            )
    };
    use PgType::*;
    match (ta, tb) {
        (x, y) if x.is_integer() && y.is_integer() => {
            let ty = if width(x) >= width(y) { x } else { y };
            let ty = if ty == Int2 { Int2 } else { ty };
            let (sa, sb) = (tx.coerce(a, ty)?, tx.coerce(b, ty)?);
            // Division and remainder are sql::datum's (22012, and -min / -1 out of range); the rest pg_iop's.
            let sql = match sym {
                '/' => format!("pg_int_div({sa}, {sb}, '{}')", ty.typname()),
                '%' => format!("pg_int_mod({sa}, {sb}, '{}')", ty.typname()),
                _ => format!("pg_iop('{sym}', {sa}, {sb}, {})", width(ty)),
            };
            Ok(Typed::new(sql, ty))
        }
        (x, y)
            if x.is_numeric() && y.is_numeric() && (matches!(x, Float8 | Float4) || matches!(y, Float8 | Float4)) =>
        {
            if sym == '%' {
                return Err(missing());
            }
            let ty = if x == Float4 && y == Float4 { Float4 } else { Float8 };
            let (sa, sb) = (tx.coerce(a, ty)?, tx.coerce(b, ty)?);
            if sym == '/' {
                Ok(Typed::new(format!("pg_float_div({sa}, {sb})"), ty))
            } else {
                Ok(Typed::new(format!("pg_fop('{sym}', {sa}, {sb})"), ty))
            }
        }
        (x, y) if x.is_numeric() && y.is_numeric() => {
            let (sa, sb) = (tx.coerce(a, Numeric)?, tx.coerce(b, Numeric)?);
            let f = match sym {
                '+' => "add",
                '-' => "sub",
                '*' => "mul",
                '/' => "div",
                _ => "mod",
            };
            Ok(Typed::new(format!("pg_numeric_{f}({sa}, {sb})"), Numeric))
        }
        (Date, y) if y.is_integer() && (sym == '+' || sym == '-') => {
            let sa = tx.coerce(a, Date)?;
            let sb = tx.coerce(b, Int4)?;
            let sb = if sym == '-' { format!("-({sb})") } else { sb };
            Ok(Typed::new(format!("pg_date_add_int({sa}, {sb})"), Date))
        }
        (x, Date) if x.is_integer() && sym == '+' => {
            let sa = tx.coerce(a, Int4)?;
            let sb = tx.coerce(b, Date)?;
            Ok(Typed::new(format!("pg_date_add_int({sb}, {sa})"), Date))
        }
        (Date, Date) if sym == '-' => {
            let (sa, sb) = (tx.coerce(a, Date)?, tx.coerce(b, Date)?);
            Ok(Typed::new(format!("CAST(julianday({sa}) - julianday({sb}) AS INTEGER)"), Int4))
        }
        (Timestamp | Timestamptz | Date, Interval) if sym == '+' || sym == '-' => {
            let ty = if ta == Date { Timestamp } else { ta };
            let sa = tx.coerce(a, ty)?;
            let sb = tx.coerce(b, Interval)?;
            let f = if sym == '+' { "pg_ts_add_interval" } else { "pg_ts_sub_interval" };
            Ok(Typed::new(format!("{f}({sa}, {sb}, '{}')", ty.typname()), ty))
        }
        (Interval, Timestamp | Timestamptz) if sym == '+' => {
            let sa = tx.coerce(a, Interval)?;
            let sb = tx.coerce(b, tb)?;
            Ok(Typed::new(format!("pg_ts_add_interval({sb}, {sa}, '{}')", tb.typname()), tb))
        }
        (Jsonb, _) | (_, Jsonb) => Err(unsupported(format!("operator {sym} on jsonb"))),
        (Timestamp, Timestamp) | (Timestamptz, Timestamptz) if sym == '-' => {
            let (sa, sb) = (tx.coerce(a, ta)?, tx.coerce(b, ta)?);
            Ok(Typed::new(format!("pg_ts_diff({sa}, {sb}, '{}')", ta.typname()), Interval))
        }
        _ => Err(missing()),
    }
}

/// A string literal converted to `to` at translation time where the conversion is simple; through the host's
/// `pg_cast` otherwise.
pub(super) fn constant_input(text: &str, to: PgType, typmod: i32, explicit: bool) -> Result<String, SqlError> {
    use PgType::*;
    let bad =
        |ty: PgType| SqlError::error("22P02", format!("invalid input syntax for type {}: \"{text}\"", ty.sql_name()));
    Ok(match to {
        Int2 | Int4 | Int8 | Oid => {
            let v: i64 = text.trim().parse().map_err(|_| bad(to))?;
            let ok = match to {
                Int2 => i16::try_from(v).is_ok(),
                Int4 => i32::try_from(v).is_ok(),
                Oid => u32::try_from(v).is_ok() || i32::try_from(v).is_ok(),
                _ => true,
            };
            if !ok {
                return Err(SqlError::error(
                    "22003",
                    format!("value \"{text}\" is out of range for type {}", to.sql_name()),
                ));
            }
            v.to_string()
        }
        Float8 | Float4 => {
            let t = text.trim().to_ascii_lowercase();
            let v: f64 = match t.as_str() {
                "nan" => return Ok("pg_cast('NaN', 'text', 'float8', -1)".into()),
                "infinity" | "+infinity" | "inf" => return Ok("9e999".into()),
                "-infinity" | "-inf" => return Ok("-9e999".into()),
                _ => t.parse().map_err(|_| bad(to))?,
            };
            let v = if to == Float4 { f64::from(v as f32) } else { v };
            format!("{v:?}")
        }
        Bool => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" | "tr" | "tru" | "ye" => "1".into(),
            "f" | "false" | "n" | "no" | "off" | "0" | "fa" | "fal" | "fals" | "of" => "0".into(),
            _ => return Err(bad(Bool)),
        },
        Text | Name => literal(text),
        Varchar | Bpchar if typmod < 4 => literal(text),
        Varchar | Bpchar => {
            let max = (typmod - 4) as usize;
            let chars = text.chars().count();
            let mut value: String = text.to_owned();
            if chars > max {
                let trimmed_fits = text.trim_end_matches(' ').chars().count() <= max;
                if explicit || trimmed_fits {
                    value = text.chars().take(max).collect();
                } else {
                    return Err(SqlError::error("22001", format!("value too long for type {}({max})", to.sql_name())));
                }
            }
            if to == Bpchar {
                let pad = max.saturating_sub(value.chars().count());
                value.extend(std::iter::repeat_n(' ', pad));
            }
            literal(&value)
        }
        Regclass => format!("pg_regclass({})", literal(text)),
        _ => format!("pg_cast({}, 'text', '{}', {typmod})", literal(text), to.typname()),
    })
}

/// A numeric literal's canonical text (the digits as written, the exponent applied).
pub(super) fn numeric_literal(text: &str) -> Result<String, SqlError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (
            &body[..i],
            body[i + 1..]
                .parse::<i32>()
                .map_err(|_| SqlError::error("42601", format!("syntax error at or near \"{text}\"")))?,
        ),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut scale = frac_part.len() as i32 - exponent;
    if scale < 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let scale = scale as usize;
    while digits.len() <= scale {
        digits.insert(0, '0');
    }
    let (i, f) = digits.split_at(digits.len() - scale);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let sign = if negative && (i != "0" || f.chars().any(|c| c != '0')) { "-" } else { "" };
    Ok(if f.is_empty() { format!("{sign}{i}") } else { format!("{sign}{i}.{f}") })
}

// ---- the SQL functions ----

fn flags(deterministic: bool) -> FunctionFlags {
    let mut f = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_INNOCUOUS;
    if deterministic {
        f |= FunctionFlags::SQLITE_DETERMINISTIC;
    }
    f
}

fn text_arg<'a>(ctx: &'a FnContext<'_>, i: usize) -> rusqlite::Result<Option<std::borrow::Cow<'a, str>>> {
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b)),
        ValueRef::Integer(v) => Some(v.to_string().into()),
        ValueRef::Real(v) => Some(v.to_string().into()),
    })
}

fn int_of(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.fract() == 0.0 => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn float_of(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn out_of_range(bits: i64) -> SqlError {
    let name = match bits {
        16 => "smallint",
        32 => "integer",
        _ => "bigint",
    };
    SqlError::error("22003", format!("{name} out of range"))
}

/// Adds the translator's SQL functions to `conn` (every client connection).
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    // pg_iop(op, a, b, bits): integer +, -, * and @ (absolute value) with PostgreSQL's overflow errors (division
    // and remainder are sql::datum's pg_int_div / pg_int_mod).
    conn.create_scalar_function("pg_iop", 4, flags(true), |ctx| {
        let (a, b) = (ctx.get_raw(1), ctx.get_raw(2));
        if matches!(a, ValueRef::Null) || matches!(b, ValueRef::Null) {
            return Ok(SqlValue::Null);
        }
        let op = text_arg(ctx, 0)?.unwrap_or_default().into_owned();
        let bits = int_of(ctx.get_raw(3)).unwrap_or(64);
        let (Some(x), Some(y)) = (int_of(a), int_of(b)) else {
            return Err(fail(SqlError::error("22P02", "invalid input for integer arithmetic")));
        };
        let r = match op.as_str() {
            "+" => x.checked_add(y),
            "-" => x.checked_sub(y),
            "*" => x.checked_mul(y),
            "@" => y.checked_abs(),
            _ => None,
        };
        let r = r.ok_or_else(|| fail(out_of_range(bits)))?;
        let fits = match bits {
            16 => i16::try_from(r).is_ok(),
            32 => i32::try_from(r).is_ok(),
            _ => true,
        };
        if !fits {
            return Err(fail(out_of_range(bits)));
        }
        Ok(SqlValue::Integer(r))
    })?;
    conn.create_scalar_function("pg_fop", 3, flags(true), |ctx| {
        let (Some(a), Some(b)) = (float_of(ctx.get_raw(1)), float_of(ctx.get_raw(2))) else {
            return Ok(SqlValue::Null);
        };
        let op = text_arg(ctx, 0)?.unwrap_or_default().into_owned();
        let r = match op.as_str() {
            "+" => a + b,
            "-" => a - b,
            _ => a * b,
        };
        if r.is_infinite() && a.is_finite() && b.is_finite() {
            return Err(fail(SqlError::error("22003", "value out of range: overflow")));
        }
        Ok(SqlValue::Real(r))
    })?;
    conn.create_scalar_function("pg_like", 4, flags(true), |ctx| {
        let (Some(s), Some(p)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        let escape = text_arg(ctx, 2)?.and_then(|e| e.chars().next());
        let insensitive = int_of(ctx.get_raw(3)) == Some(1);
        let (s, p) = if insensitive { (s.to_lowercase(), p.to_lowercase()) } else { (s.into_owned(), p.into_owned()) };
        let m = like(&s.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>(), escape).map_err(fail)?;
        Ok(SqlValue::Integer(m.into()))
    })?;
    conn.create_scalar_function("pg_regex_match", 3, flags(true), |ctx| {
        let (Some(s), Some(p)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        let insensitive = int_of(ctx.get_raw(2)) == Some(1);
        let re = regex_lite::RegexBuilder::new(&p)
            .case_insensitive(insensitive)
            .build()
            .map_err(|e| fail(SqlError::error("2201B", format!("invalid regular expression: {e}"))))?;
        Ok(SqlValue::Integer(re.is_match(&s).into()))
    })?;
    conn.create_scalar_function("pg_substr", -1, flags(true), |ctx| {
        let Some(s) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let Some(start) = int_of(ctx.get_raw(1)) else { return Ok(SqlValue::Null) };
        let chars: Vec<char> = s.chars().collect();
        let end = if ctx.len() > 2 {
            let Some(count) = int_of(ctx.get_raw(2)) else { return Ok(SqlValue::Null) };
            if count < 0 {
                return Err(fail(SqlError::error("22011", "negative substring length not allowed")));
            }
            start.saturating_add(count)
        } else {
            i64::MAX
        };
        let from = (start.max(1) - 1) as usize;
        let to = (end.max(1) - 1).min(chars.len() as i64) as usize;
        let out: String =
            if from < to && from < chars.len() { chars[from..to].iter().collect() } else { String::new() };
        Ok(SqlValue::Text(out))
    })?;
    for (name, upper) in [("pg_lower", false), ("pg_upper", true)] {
        conn.create_scalar_function(name, 1, flags(true), move |ctx| {
            let Some(s) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
            Ok(SqlValue::Text(if upper { s.to_uppercase() } else { s.to_lowercase() }))
        })?;
    }
    for (name, left) in [("pg_left", true), ("pg_right", false)] {
        conn.create_scalar_function(name, 2, flags(true), move |ctx| {
            let Some(s) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
            let Some(n) = int_of(ctx.get_raw(1)) else { return Ok(SqlValue::Null) };
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            let out: String =
                if left { chars[..keep].iter().collect() } else { chars[chars.len() - keep..].iter().collect() };
            Ok(SqlValue::Text(out))
        })?;
    }
    conn.create_scalar_function("pg_repeat", 2, flags(true), |ctx| {
        let Some(s) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let Some(n) = int_of(ctx.get_raw(1)) else { return Ok(SqlValue::Null) };
        let n = n.max(0) as usize;
        let bytes = s.len().saturating_mul(n);
        if bytes > (1 << 30) - 1 {
            return Err(fail(SqlError::error("54000", "requested length too large")));
        }
        crate::sql::sqlite::check_heap_room(bytes).map_err(fail)?;
        let mut out = String::new();
        {
            // Out of memory here is 53200 for this statement, not the end of the session.
            let _fallible = crate::sys::alloc::Fallible::enter();
            out.try_reserve_exact(bytes).map_err(|_| fail(SqlError::error("53200", "out of memory")))?;
        }
        for _ in 0..n {
            out.push_str(&s);
        }
        Ok(SqlValue::Text(out))
    })?;
    for (name, greatest) in [("pg_greatest", true), ("pg_least", false)] {
        conn.create_scalar_function(name, -1, flags(true), move |ctx| {
            let mut best: Option<SqlValue> = None;
            for i in 0..ctx.len() {
                let v: SqlValue = ctx.get(i)?;
                if v == SqlValue::Null {
                    continue;
                }
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let ord = compare(&v, &b);
                        if (greatest && ord == std::cmp::Ordering::Greater)
                            || (!greatest && ord == std::cmp::Ordering::Less)
                        {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            Ok(best.unwrap_or(SqlValue::Null))
        })?;
    }
    for (name, f) in
        [("pg_floor", f64::floor as fn(f64) -> f64), ("pg_ceil", f64::ceil), ("pg_rint", f64::round_ties_even)]
    {
        conn.create_scalar_function(name, 1, flags(true), move |ctx| {
            Ok(float_of(ctx.get_raw(0)).map_or(SqlValue::Null, |x| SqlValue::Real(f(x))))
        })?;
    }
    conn.create_scalar_function("pg_math", -1, flags(true), |ctx| {
        let name = text_arg(ctx, 0)?.unwrap_or_default().into_owned();
        let Some(x) = float_of(ctx.get_raw(1)) else { return Ok(SqlValue::Null) };
        let r = match name.as_str() {
            "sqrt" if x < 0.0 => {
                return Err(fail(SqlError::error("2201F", "cannot take square root of a negative number")))
            }
            "ln" | "log10" if x == 0.0 => return Err(fail(SqlError::error("2201E", "cannot take logarithm of zero"))),
            "ln" | "log10" if x < 0.0 => {
                return Err(fail(SqlError::error("2201E", "cannot take logarithm of a negative number")))
            }
            "sqrt" => x.sqrt(),
            "exp" => x.exp(),
            "ln" => x.ln(),
            "log10" => x.log10(),
            "sin" => x.sin(),
            "cos" => x.cos(),
            "tan" => x.tan(),
            "atan" => x.atan(),
            "trunc" => x.trunc(),
            "power" => {
                let Some(y) = float_of(ctx.get_raw(2)) else { return Ok(SqlValue::Null) };
                x.powf(y)
            }
            _ => return Err(fail(SqlError::error("42883", format!("function {name} does not exist")))),
        };
        Ok(SqlValue::Real(r))
    })?;
    conn.create_scalar_function("pg_random", 0, flags(false), |_| {
        let mut bytes = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| fail(SqlError::error("XX000", "no randomness")))?;
        Ok(SqlValue::Real((u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64))
    })?;
    conn.create_scalar_function("pg_gen_random_uuid", 0, flags(false), |_| {
        let mut b = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
            .map_err(|_| fail(SqlError::error("XX000", "no randomness")))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(SqlValue::Text(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])))
    })?;
    register_sleep(conn, None)?;
    // pg_error(sqlstate, message): fails the statement (the translator's own checks at run time).
    conn.create_scalar_function("pg_error", 2, flags(true), |ctx| -> rusqlite::Result<SqlValue> {
        let code = text_arg(ctx, 0)?.unwrap_or_default().into_owned();
        let message = text_arg(ctx, 1)?.unwrap_or_default().into_owned();
        let code: &'static str = match code.as_str() {
            "22023" => "22023",
            "22012" => "22012",
            "22003" => "22003",
            _ => "XX000",
        };
        Err(fail(SqlError::error(code, message)))
    })?;
    conn.create_scalar_function("pg_text_fn", -1, flags(true), |ctx| {
        let name = text_arg(ctx, 0)?.unwrap_or_default().into_owned();
        if name != "concat_ws" && (1..ctx.len()).any(|i| matches!(ctx.get_raw(i), ValueRef::Null)) {
            return Ok(SqlValue::Null);
        }
        let arg = |i: usize| -> rusqlite::Result<String> {
            Ok(text_arg(ctx, i)?.map(|c| c.into_owned()).unwrap_or_default())
        };
        Ok(match name.as_str() {
            "md5" => {
                let digest = md5::compute(arg(1)?.as_bytes());
                SqlValue::Text(format!("{digest:x}"))
            }
            "initcap" => {
                let mut out = String::new();
                let mut start = true;
                for c in arg(1)?.chars() {
                    if c.is_alphanumeric() {
                        if start {
                            out.extend(c.to_uppercase())
                        } else {
                            out.extend(c.to_lowercase())
                        }
                        start = false;
                    } else {
                        out.push(c);
                        start = true;
                    }
                }
                SqlValue::Text(out)
            }
            "reverse" => SqlValue::Text(arg(1)?.chars().rev().collect()),
            "ascii" => SqlValue::Integer(arg(1)?.chars().next().map_or(0, |c| c as i64)),
            "chr" => {
                let code = int_of(ctx.get_raw(1)).unwrap_or(0);
                let c = u32::try_from(code).ok().filter(|&c| c != 0).and_then(char::from_u32).ok_or_else(|| {
                    fail(SqlError::error("54000", format!("requested character too large for encoding: {code}")))
                })?;
                SqlValue::Text(c.to_string())
            }
            "lpad" | "rpad" => {
                let s: Vec<char> = arg(1)?.chars().collect();
                let len = int_of(ctx.get_raw(2)).unwrap_or(0).max(0) as usize;
                let fill: Vec<char> = arg(3)?.chars().collect();
                if s.len() >= len || fill.is_empty() {
                    SqlValue::Text(s[..len.min(s.len())].iter().collect())
                } else {
                    let pad: String = fill.iter().cycle().take(len - s.len()).collect();
                    let s: String = s.iter().collect();
                    SqlValue::Text(if name == "lpad" { pad + &s } else { s + &pad })
                }
            }
            "split_part" => {
                let (s, d) = (arg(1)?, arg(2)?);
                let i = int_of(ctx.get_raw(3)).unwrap_or(0);
                if i == 0 {
                    return Err(fail(SqlError::error("22023", "field position must not be zero")));
                }
                let parts: Vec<&str> = if d.is_empty() { vec![s.as_str()] } else { s.split(d.as_str()).collect() };
                let idx = if i > 0 { i - 1 } else { parts.len() as i64 + i };
                SqlValue::Text(usize::try_from(idx).ok().and_then(|k| parts.get(k)).map_or("", |v| v).to_owned())
            }
            "concat_ws" => {
                let Some(sep) = text_arg(ctx, 1)? else { return Ok(SqlValue::Null) };
                let mut parts = Vec::new();
                for i in 2..ctx.len() {
                    if let Some(v) = text_arg(ctx, i)? {
                        parts.push(v.into_owned());
                    }
                }
                SqlValue::Text(parts.join(&sep))
            }
            other => return Err(fail(SqlError::error("42883", format!("function {other} does not exist")))),
        })
    })?;
    // pg_regclass(name): a relation's OID by its (possibly qualified) name, as the catalogs number it.
    conn.create_scalar_function("pg_regclass", 1, flags(true), |ctx| {
        let Some(text) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let (schema, name) = match text.split_once('.') {
            Some((s, n)) => (Some(s.trim_matches('"').to_owned()), n.trim_matches('"').to_owned()),
            None => (None, text.trim_matches('"').to_owned()),
        };
        let sqlite = super::schema::sqlite_name(schema.as_deref(), &name);
        Ok(SqlValue::Integer(i64::from(crate::sql::pg_catalog::relation_oid(&sqlite))))
    })?;
    conn.create_scalar_function("pg_array_to_string", -1, flags(true), |ctx| {
        let (Some(arr), Some(sep)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        let null = if ctx.len() > 2 { text_arg(ctx, 2)?.map(|c| c.into_owned()) } else { None };
        let items = array_items(&arr).map_err(fail)?;
        let parts: Vec<String> = items.into_iter().filter_map(|i| i.or_else(|| null.clone())).collect();
        Ok(SqlValue::Text(parts.join(&sep)))
    })?;
    conn.create_aggregate_function("pg_array_agg", 2, flags(true), ArrayAgg)?;
    conn.create_aggregate_function("pg_numeric_max", 1, flags(true), NumericExtreme { max: true })?;
    conn.create_aggregate_function("pg_numeric_min", 1, flags(true), NumericExtreme { max: false })?;
    // pg_array_build(element_typname, v1, v2, ...): ARRAY[v1, v2, ...] as PostgreSQL's array literal.
    conn.create_scalar_function("pg_array_build", -1, flags(true), |ctx| {
        let ty = text_arg(ctx, 0)?.and_then(|t| PgType::from_name(&t)).unwrap_or(PgType::Text);
        let mut items = Vec::new();
        for i in 1..ctx.len() {
            let value = crate::sql::value::Value::from(ctx.get_raw(i));
            items.push(match crate::sql::datum::output(ty, &value) {
                None => "NULL".to_owned(),
                Some(text) => quote_element(&text),
            });
        }
        Ok(SqlValue::Text(format!("{{{}}}", items.join(","))))
    })?;
    // pg_array_json(array, element_typname): the elements as a JSON array of their stored values (json_each
    // reads it), for ANY/ALL.
    conn.create_scalar_function("pg_array_json", 2, flags(true), |ctx| {
        let Some(arr) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let ty = text_arg(ctx, 1)?.and_then(|t| PgType::from_name(&t)).unwrap_or(PgType::Text);
        let items = if matches!(ty, PgType::Int2 | PgType::Oid) && !arr.starts_with('{') {
            // int2vector / oidvector: numbers separated by blanks.
            arr.split_whitespace().map(|i| Some(i.to_owned())).collect()
        } else {
            array_items(&arr).map_err(fail)?
        };
        let mut values = Vec::new();
        for item in items {
            values.push(match item {
                None => serde_json::Value::Null,
                Some(text) => match crate::sql::datum::input(ty, &text, -1).map_err(fail)? {
                    crate::sql::value::Value::Integer(i) => serde_json::Value::from(i),
                    crate::sql::value::Value::Real(f) => serde_json::Value::from(f),
                    crate::sql::value::Value::Text(t) => serde_json::Value::from(t),
                    crate::sql::value::Value::Null => serde_json::Value::Null,
                    crate::sql::value::Value::Blob(_) => return Err(fail(unsupported("arrays of bytea in ANY"))),
                },
            });
        }
        Ok(SqlValue::Text(serde_json::Value::Array(values).to_string()))
    })?;
    conn.create_scalar_function("pg_regnamespace", 1, flags(true), |ctx| {
        let Some(name) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        Ok(SqlValue::Integer(i64::from(crate::sql::pg_catalog::namespace_oid(name.trim_matches('"')))))
    })?;
    conn.create_scalar_function("pg_array_position", 2, flags(true), |ctx| {
        let (Some(arr), Some(e)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        let items = array_items(&arr).map_err(fail)?;
        Ok(items
            .iter()
            .position(|i| i.as_deref() == Some(e.as_ref()))
            .map_or(SqlValue::Null, |p| SqlValue::Integer(p as i64 + 1)))
    })?;
    conn.create_scalar_function("pg_array_length", 1, flags(true), |ctx| {
        let Some(arr) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        Ok(SqlValue::Integer(array_items(&arr).map_err(fail)?.len() as i64))
    })?;
    conn.create_scalar_function("pg_numeric_key", 1, flags(true), |ctx| {
        let text = match ctx.get_raw(0) {
            ValueRef::Null => return Ok(SqlValue::Null),
            ValueRef::Integer(i) => i.to_string(),
            ValueRef::Real(f) => format!("{f:?}"),
            ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        };
        numeric_key(&text)
            .map(SqlValue::Blob)
            .ok_or_else(|| fail(SqlError::error("22P02", format!("invalid input syntax for type numeric: \"{text}\""))))
    })?;
    conn.create_scalar_function("pg_json_get", 3, flags(true), |ctx| {
        let Some(doc) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let v = json_parse(&doc)?;
        let jsonb = int_of(ctx.get_raw(2)) == Some(1);
        Ok(match json_step(&v, ctx.get_raw(1)) {
            Some(x) => SqlValue::Text(if jsonb { jsonb_text(x) } else { x.to_string() }),
            None => SqlValue::Null,
        })
    })?;
    conn.create_scalar_function("pg_json_get_text", 2, flags(true), |ctx| {
        let Some(doc) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        let v = json_parse(&doc)?;
        Ok(match json_step(&v, ctx.get_raw(1)) {
            Some(serde_json::Value::Null) | None => SqlValue::Null,
            Some(serde_json::Value::String(s)) => SqlValue::Text(s.clone()),
            Some(x) => SqlValue::Text(jsonb_text(x)),
        })
    })?;
    conn.create_scalar_function("pg_jsonb_contains", 2, flags(true), |ctx| {
        let (Some(a), Some(b)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        Ok(SqlValue::Integer(contains(&json_parse(&a)?, &json_parse(&b)?, true).into()))
    })?;
    conn.create_scalar_function("pg_jsonb_exists", 2, flags(true), |ctx| {
        let (Some(a), Some(k)) = (text_arg(ctx, 0)?, text_arg(ctx, 1)?) else { return Ok(SqlValue::Null) };
        let v = json_parse(&a)?;
        let found = match &v {
            serde_json::Value::Object(m) => m.contains_key(k.as_ref()),
            serde_json::Value::Array(items) => items.iter().any(|i| i.as_str() == Some(k.as_ref())),
            serde_json::Value::String(s) => s == k.as_ref(),
            _ => false,
        };
        Ok(SqlValue::Integer(found.into()))
    })?;
    conn.create_scalar_function("pg_json_typeof", 1, flags(true), |ctx| {
        let Some(a) = text_arg(ctx, 0)? else { return Ok(SqlValue::Null) };
        Ok(SqlValue::Text(
            match json_parse(&a)? {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "boolean",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
            }
            .into(),
        ))
    })?;
    rusqlite::vtab::series::load_module(conn)?;
    Ok(())
}

/// (Re)defines `pg_sleep`, asking `check` (the session's interrupt check) every few milliseconds.
pub fn register_sleep(
    conn: &Connection,
    check: Option<crate::sql::interrupt::CheckInterrupts>,
) -> rusqlite::Result<()> {
    conn.create_scalar_function("pg_sleep", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let Some(secs) = float_of(ctx.get_raw(0)) else { return Ok(SqlValue::Null) };
        let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs.clamp(0.0, 1e9));
        loop {
            if let Some(check) = check {
                check(crate::sql::interrupt::Wait::Running).map_err(fail)?;
            }
            let now = std::time::Instant::now();
            if now >= until {
                break;
            }
            std::thread::sleep((until - now).min(std::time::Duration::from_millis(10)));
        }
        Ok(SqlValue::Text(String::new()))
    })
}

/// A byte string whose order (memcmp) is the order of the numeric value `text` (NaN last, as PostgreSQL sorts
/// it): a sign class, the decimal exponent, then the significant digits (inverted for negative values).
fn numeric_key(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("nan") {
        return Some(vec![0xff]);
    }
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int_part.chars().chain(frac_part.chars()).all(|c| c.is_ascii_digit())
        || (int_part.is_empty() && frac_part.is_empty())
    {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let lead = digits.bytes().take_while(|&b| b == b'0').count();
    let significant = digits[lead..].trim_end_matches('0');
    if significant.is_empty() {
        return Some(vec![0x80]);
    }
    // The value is 0.d1d2... * 10^e.
    let e = int_part.len() as i64 - lead as i64 + exp;
    let e = (e + 0x4000_0000).clamp(0, 0x7fff_ffff) as u32;
    let mut key = Vec::with_capacity(6 + significant.len());
    if negative {
        key.push(0x40);
        key.extend_from_slice(&(!e).to_be_bytes());
        key.extend(significant.bytes().map(|b| !b));
        key.push(0xff);
    } else {
        key.push(0xc0);
        key.extend_from_slice(&e.to_be_bytes());
        key.extend(significant.bytes());
    }
    Some(key)
}

/// The elements of a one-dimensional array literal in PostgreSQL's text form (`{a,"b c",NULL}`), as text.
fn array_items(text: &str) -> Result<Vec<Option<String>>, SqlError> {
    let bad = || SqlError::error("22P02", format!("malformed array literal: \"{text}\""));
    let inner = text.trim().strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(bad)?;
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    if inner.trim().is_empty() {
        return Ok(items);
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next().ok_or_else(bad)? {
                    '\\' => item.push(chars.next().ok_or_else(bad)?),
                    '"' => break,
                    c => item.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' || c == '"' {
                    return Err(unsupported("multidimensional arrays"));
                }
                item.push(c);
                chars.next();
            }
            item = item.trim_end().to_owned();
        }
        items.push(if !quoted && item.eq_ignore_ascii_case("null") { None } else { Some(item) });
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(bad()),
        }
    }
    Ok(items)
}

/// `pg_array_agg(value, element_typname)`: the values as an array literal in PostgreSQL's text form (NULL when
/// there are none, as array_agg).
struct ArrayAgg;

impl rusqlite::functions::Aggregate<(Vec<String>, PgType), Option<String>> for ArrayAgg {
    fn init(&self, ctx: &mut FnContext<'_>) -> rusqlite::Result<(Vec<String>, PgType)> {
        let ty = text_arg(ctx, 1)?.and_then(|t| PgType::from_name(&t)).unwrap_or(PgType::Text);
        Ok((Vec::new(), ty))
    }

    fn step(&self, ctx: &mut FnContext<'_>, acc: &mut (Vec<String>, PgType)) -> rusqlite::Result<()> {
        let value = crate::sql::value::Value::from(ctx.get_raw(0));
        let item = match crate::sql::datum::output(acc.1, &value) {
            None => "NULL".to_owned(),
            Some(text) => quote_element(&text),
        };
        acc.0.push(item);
        Ok(())
    }

    fn finalize(&self, _: &mut FnContext<'_>, acc: Option<(Vec<String>, PgType)>) -> rusqlite::Result<Option<String>> {
        Ok(acc.map(|(items, _)| format!("{{{}}}", items.join(","))))
    }
}

/// `pg_numeric_max(x)` / `pg_numeric_min(x)`: the largest or smallest numeric value (held as text) by value.
struct NumericExtreme {
    max: bool,
}

impl rusqlite::functions::Aggregate<Option<(Vec<u8>, SqlValue)>, SqlValue> for NumericExtreme {
    fn init(&self, _: &mut FnContext<'_>) -> rusqlite::Result<Option<(Vec<u8>, SqlValue)>> {
        Ok(None)
    }

    fn step(&self, ctx: &mut FnContext<'_>, best: &mut Option<(Vec<u8>, SqlValue)>) -> rusqlite::Result<()> {
        let value: SqlValue = ctx.get(0)?;
        let text = match &value {
            SqlValue::Null => return Ok(()),
            SqlValue::Integer(i) => i.to_string(),
            SqlValue::Real(f) => format!("{f:?}"),
            SqlValue::Text(t) => t.clone(),
            SqlValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        };
        let key = numeric_key(&text).ok_or_else(|| {
            fail(SqlError::error("22P02", format!("invalid input syntax for type numeric: \"{text}\"")))
        })?;
        let better = match best {
            None => true,
            Some((k, _)) => (self.max && key > *k) || (!self.max && key < *k),
        };
        if better {
            *best = Some((key, value));
        }
        Ok(())
    }

    fn finalize(&self, _: &mut FnContext<'_>, best: Option<Option<(Vec<u8>, SqlValue)>>) -> rusqlite::Result<SqlValue> {
        Ok(best.flatten().map_or(SqlValue::Null, |(_, v)| v))
    }
}

/// An array element as PostgreSQL writes it: quoted when empty, `NULL`-like, or holding a delimiter, quote,
/// backslash, brace or blank.
fn quote_element(text: &str) -> String {
    let needs = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.chars().any(|c| matches!(c, ',' | '"' | '\\' | '{' | '}') || c.is_whitespace());
    if !needs {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn compare(a: &SqlValue, b: &SqlValue) -> std::cmp::Ordering {
    use SqlValue::*;
    match (a, b) {
        (Integer(x), Integer(y)) => x.cmp(y),
        (Integer(x), Real(y)) => (*x as f64).total_cmp(y),
        (Real(x), Integer(y)) => x.total_cmp(&(*y as f64)),
        (Real(x), Real(y)) => x.total_cmp(y),
        (Text(x), Text(y)) => x.cmp(y),
        (Blob(x), Blob(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

/// PostgreSQL's LIKE: `%` any run, `_` one character, the escape character quoting the next one.
fn like(s: &[char], p: &[char], escape: Option<char>) -> Result<bool, SqlError> {
    let (mut si, mut pi) = (0usize, 0usize);
    let (mut star_p, mut star_s) = (None::<usize>, 0usize);
    while si < s.len() {
        if pi < p.len() {
            let c = p[pi];
            if Some(c) == escape {
                let Some(&lit) = p.get(pi + 1) else {
                    return Err(SqlError::error("22025", "LIKE pattern must not end with escape character"));
                };
                if lit == s[si] {
                    si += 1;
                    pi += 2;
                    continue;
                }
            } else if c == '%' {
                star_p = Some(pi);
                star_s = si;
                pi += 1;
                continue;
            } else if c == '_' || c == s[si] {
                si += 1;
                pi += 1;
                continue;
            }
        }
        match star_p {
            Some(sp) => {
                pi = sp + 1;
                star_s += 1;
                si = star_s;
            }
            None => return Ok(false),
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    Ok(pi == p.len())
}

fn json_parse(text: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| fail(SqlError::error("22P02", "invalid input syntax for type json").with_detail(e.to_string())))
}

fn json_step<'v>(v: &'v serde_json::Value, key: ValueRef<'_>) -> Option<&'v serde_json::Value> {
    match (v, key) {
        (serde_json::Value::Array(items), ValueRef::Integer(i)) => {
            let idx = if i < 0 { items.len() as i64 + i } else { i };
            items.get(usize::try_from(idx).ok()?)
        }
        (serde_json::Value::Object(m), ValueRef::Text(k)) => m.get(std::str::from_utf8(k).ok()?),
        _ => None,
    }
}

fn contains(a: &serde_json::Value, b: &serde_json::Value, top: bool) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Object(x), Object(y)) => y.iter().all(|(k, v)| x.get(k).is_some_and(|xv| contains(xv, v, false))),
        (Array(x), Array(y)) => y.iter().all(|v| x.iter().any(|xv| contains(xv, v, false))),
        (Array(x), other) if top && !other.is_array() && !other.is_object() => x.iter().any(|xv| xv == other),
        (x, y) => x == y,
    }
}

/// A JSON value as PostgreSQL prints a jsonb: keys ordered by length then bytes, `": "` and `", "` separators.
pub fn jsonb_text(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes())));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}: {}", serde_json::Value::String((*k).clone()), jsonb_text(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        J::Array(items) => format!("[{}]", items.iter().map(jsonb_text).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_follows_postgres() {
        let m = |s: &str, p: &str| {
            like(&s.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>(), Some('\\')).unwrap()
        };
        assert!(m("abc", "a%"));
        assert!(!m("Abc", "a%"));
        assert!(m("abc", "_b_"));
        assert!(m("a%c", "a\\%c"));
        assert!(!m("abc", "a\\%c"));
        assert!(m("", "%"));
        assert!(m("aXbXc", "a%b%c"));
    }

    #[test]
    fn numeric_keys_sort_like_numbers() {
        let values = [
            "-1e5", "-12.5", "-1.23", "-1.2", "-0.5", "0", "0.00", "0.001", "0.5", "1.2", "1.20", "1.23", "9", "10",
            "1e3", "NaN",
        ];
        let keys: Vec<Vec<u8>> = values.iter().map(|v| numeric_key(v).unwrap()).collect();
        for w in keys.windows(2) {
            assert!(w[0] <= w[1]);
        }
        assert_eq!(numeric_key("1.2"), numeric_key("1.20"));
        assert_eq!(numeric_key("0"), numeric_key("-0.0"));
        assert!(numeric_key("x").is_none());
    }

    #[test]
    fn array_literals() {
        assert_eq!(array_items("{pg_catalog,public}").unwrap(), [Some("pg_catalog".into()), Some("public".into())]);
        assert_eq!(array_items("{\"a b\",NULL,\"x\\\"y\"}").unwrap(), [Some("a b".into()), None, Some("x\"y".into())]);
        assert_eq!(array_items("{}").unwrap(), Vec::<Option<String>>::new());
        assert!(array_items("1,2").is_err());
    }

    #[test]
    fn numeric_literals() {
        assert_eq!(numeric_literal("1.50").unwrap(), "1.50");
        assert_eq!(numeric_literal("1e3").unwrap(), "1000");
        assert_eq!(numeric_literal(".5").unwrap(), "0.5");
        assert_eq!(numeric_literal("1.5e-3").unwrap(), "0.0015");
        assert_eq!(numeric_literal("-0.0").unwrap(), "0.0");
        assert_eq!(numeric_literal("12345678901234567890").unwrap(), "12345678901234567890");
    }

    #[test]
    fn jsonb_prints_like_postgres() {
        let v: serde_json::Value = serde_json::from_str(r#"{"bb":1,"a":[1,{"c":true}],"ccc":null}"#).unwrap();
        assert_eq!(jsonb_text(&v), r#"{"a": [1, {"c": true}], "bb": 1, "ccc": null}"#);
    }
}
