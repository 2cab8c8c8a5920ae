//! Expressions: typing with PostgreSQL's rules and rewriting into SQLite SQL.
//!
//! Every expression comes out as a [`Typed`]: its SQLite text, its PostgreSQL type (None for a literal or
//! parameter whose type the context decides: PostgreSQL's `unknown`), and the name PostgreSQL gives a result
//! column computed by it (`?column?` when none). Scopes (the relations of FROM clauses, innermost last) resolve
//! column names; a parameter's type is recorded the first time a context fixes it.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{BinaryOperator, CastKind, DataType, Expr, Function, UnaryOperator, Value as AstValue};

use super::names::{self, literal, quote};
use super::{unsupported, Context};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;

/// What a literal or parameter is, for coercion by context.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    /// Not a literal.
    No,
    /// A string literal (PostgreSQL's `unknown` until the context types it).
    Str(String),
    /// Parameter `$n`.
    Param(usize),
    Null,
}

/// A translated expression.
#[derive(Debug, Clone)]
pub(super) struct Typed {
    pub sql: String,
    pub ty: Option<PgType>,
    /// The result column name PostgreSQL gives it.
    pub name: Option<String>,
    pub lit: Lit,
}

impl Typed {
    pub fn new(sql: impl Into<String>, ty: PgType) -> Typed {
        Typed { sql: sql.into(), ty: Some(ty), name: None, lit: Lit::No }
    }

    pub fn named(mut self, name: impl Into<String>) -> Typed {
        self.name = Some(name.into());
        self
    }
}

/// A relation visible in a scope: its alias and columns.
#[derive(Debug, Clone)]
pub(super) struct Rel {
    pub alias: String,
    pub columns: Vec<(String, Option<PgType>)>,
    /// For a LATERAL subquery without FROM folded into its query: each column's expression, used in its place.
    pub exprs: Option<Vec<String>>,
}

/// The translator's state for one statement.
pub(super) struct Translator<'a> {
    pub cx: &'a Context<'a>,
    /// Scopes, innermost last; each is the relations of one FROM clause.
    pub scopes: Vec<Vec<Rel>>,
    params: Vec<Option<PgType>>,
    /// Whether aggregates are allowed where an expression is being translated.
    pub in_aggregate_context: bool,
    /// The common table expressions in scope (innermost last): name and columns.
    pub ctes: Vec<Rel>,
    /// The output columns of the SELECT being translated, for ORDER BY and GROUP BY by name.
    pub outputs: Vec<(String, Typed)>,
    /// Statements to run before the translated one (see [`super::Translated::before`]).
    pub before: Vec<String>,
    /// Statements to run after the translated one (see [`super::Translated::after`]).
    pub after: Vec<String>,
    /// `_pg_expandarray(arg)` calls read as joins: the argument's text and the join's alias.
    pub expansions: Vec<(String, String)>,
    /// What explains the statement's constraint errors (see [`super::diagnose`]).
    pub diagnostics: Option<super::diagnose::Diagnostics>,
    /// The relations of the FROM items read so far, by alias: their OIDs, for the system column `tableoid`.
    pub table_oids: Vec<(String, u32)>,
    /// The integer literals of the statement's text that may become parameters (see [`Translator::literal_param`]);
    /// empty: none may.
    pub literals: &'a [super::LiteralAt<'a>],
    /// The literals that became parameters: `?j` in the output is literal `slots[j - 1]` of `literals`.
    pub slots: Vec<usize>,
}

impl<'a> Translator<'a> {
    pub fn new(cx: &'a Context<'a>) -> Translator<'a> {
        Translator {
            cx,
            scopes: Vec::new(),
            params: Vec::new(),
            in_aggregate_context: false,
            ctes: Vec::new(),
            outputs: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            expansions: Vec::new(),
            diagnostics: None,
            table_oids: Vec::new(),
            literals: &[],
            slots: Vec::new(),
        }
    }

    /// `typed`, the translation of `ast`, as a parameter `?j` bound to the literal's value when it runs, if `ast` is
    /// one of the statement's integer literals (see [`super::LiteralAt`]) and it is used as a value of its own type
    /// `ty` (int4 or int8): then the translation of the statement is the same for any other literal of that type
    /// in its place, which is what lets the engine keep it for the statement's shape. Only the plain expression
    /// paths call this (comparisons); any other use of a literal (an ordinal, a LIMIT, a typed literal, a value
    /// folded or checked) leaves it inlined, and the engine's cache then keys on its digits.
    fn literal_param(&mut self, ast: &Expr, typed: Typed, ty: PgType) -> Typed {
        let Expr::Value(value) = ast else { return typed };
        let AstValue::Number(digits, false) = &value.value else { return typed };
        if !matches!(ty, PgType::Int4 | PgType::Int8) || typed.ty != Some(ty) || typed.lit != Lit::No {
            return typed;
        }
        let start = value.span.start;
        let Some(index) = self
            .literals
            .iter()
            .position(|l| l.line == start.line && l.column == start.column && l.digits == digits.as_str())
        else {
            return typed;
        };
        self.slots.push(index);
        Typed { sql: format!("?{}", self.slots.len()), ..typed }
    }

    pub fn into_param_types(self) -> Vec<Option<PgType>> {
        self.params
    }

    fn note_param(&mut self, n: usize, ty: PgType) {
        if self.params.len() < n {
            self.params.resize(n, None);
        }
        if self.params[n - 1].is_none() {
            self.params[n - 1] = Some(ty);
        }
    }

    fn param_type(&self, n: usize) -> Option<PgType> {
        self.params.get(n - 1).copied().flatten()
    }

    /// Translates `expr`.
    pub fn expr(&mut self, expr: &Expr) -> Result<Typed, SqlError> {
        match expr {
            Expr::Identifier(id) => self.column(None, &names::ident(id)),
            Expr::CompoundIdentifier(ids) => {
                let parts: Vec<String> = ids.iter().map(names::ident).collect();
                match parts.as_slice() {
                    [rel, col] => self.column(Some(rel), col),
                    [_schema, rel, col] => self.column(Some(rel), col),
                    _ => Err(SqlError::error(
                        "42601",
                        format!("improper qualified name (too many dotted names): {}", parts.join(".")),
                    )),
                }
            }
            Expr::Value(v) => self.value(&v.value),
            Expr::Nested(inner) => {
                let mut t = self.expr(inner)?;
                t.sql = format!("({})", t.sql);
                Ok(t)
            }
            Expr::Cast { kind, expr: inner, data_type, format } => {
                if format.is_some() || !matches!(kind, CastKind::Cast | CastKind::DoubleColon) {
                    return Err(unsupported("this form of CAST"));
                }
                let (to, typmod) = data_type_of(data_type)?;
                let e = self.expr(inner)?;
                // PostgreSQL names a cast after what it casts when that has a name (a column, a function, another
                // cast), else after the type.
                let named_inner = strong_name(inner);
                let name = match (&e.name, named_inner) {
                    (Some(n), true) => n.clone(),
                    _ => to.typname().trim_start_matches('_').to_owned(),
                };
                let name = if to.is_array() && e.name.is_none() {
                    to.element().map_or(name.clone(), |el| el.typname().to_owned())
                } else {
                    name
                };
                let sql = self.cast(&e, to, typmod, true)?;
                Ok(Typed { sql, ty: Some(to), name: Some(name), lit: Lit::No })
            }
            Expr::TypedString(ts) => {
                let (to, typmod) = data_type_of(&ts.data_type)?;
                let text = match &ts.value.value {
                    AstValue::SingleQuotedString(s) | AstValue::EscapedStringLiteral(s) => s.clone(),
                    _ => return Err(unsupported("this typed literal")),
                };
                let e = Typed { sql: literal(&text), ty: None, name: None, lit: Lit::Str(text) };
                let sql = self.cast(&e, to, typmod, true)?;
                Ok(Typed { sql, ty: Some(to), name: Some(to.typname().to_owned()), lit: Lit::No })
            }
            Expr::IsNull(e) => self.postfix(e, "IS NULL"),
            Expr::IsNotNull(e) => self.postfix(e, "IS NOT NULL"),
            Expr::IsTrue(e) => self.bool_test(e, "IS 1"),
            Expr::IsNotTrue(e) => self.bool_test(e, "IS NOT 1"),
            Expr::IsFalse(e) => self.bool_test(e, "IS 0"),
            Expr::IsNotFalse(e) => self.bool_test(e, "IS NOT 0"),
            Expr::IsUnknown(e) => self.bool_test(e, "IS NULL"),
            Expr::IsNotUnknown(e) => self.bool_test(e, "IS NOT NULL"),
            Expr::IsDistinctFrom(a, b) => self.comparison(a, b, "IS NOT"),
            Expr::IsNotDistinctFrom(a, b) => self.comparison(a, b, "IS"),
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            Expr::UnaryOp { op, expr: inner } => self.unary(op, inner),
            Expr::Between { expr: e, negated, low, high } => {
                let e = self.expr(e)?;
                let (low, high) = (self.expr(low)?, self.expr(high)?);
                let ty = common_type(&[&e, &low, &high])?;
                let (e, low, high) = (self.coerce(e, ty)?, self.coerce(low, ty)?, self.coerce(high, ty)?);
                let (e, low, high) = (self.key(ty, e)?, self.key(ty, low)?, self.key(ty, high)?);
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::new(format!("({e} {not}BETWEEN {low} AND {high})"), PgType::Bool))
            }
            Expr::InList { expr: e, list, negated } => {
                let e = self.expr(e)?;
                let items = list.iter().map(|i| self.expr(i)).collect::<Result<Vec<_>, _>>()?;
                let mut all: Vec<&Typed> = vec![&e];
                all.extend(items.iter());
                let ty = common_type(&all)?;
                self.check_comparable(ty)?;
                let e = self.coerce(e, ty)?;
                let items = items.into_iter().map(|i| self.coerce(i, ty)).collect::<Result<Vec<_>, _>>()?.join(", ");
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::new(format!("({e} {not}IN ({items}))"), PgType::Bool))
            }
            Expr::InSubquery { expr: e, subquery, negated } => {
                let e = self.expr(e)?;
                let sub = self.subquery(subquery)?;
                if sub.columns.len() != 1 {
                    return Err(SqlError::error("42601", "subquery has too many columns"));
                }
                let ty = sub.columns[0].ty.or(e.ty).unwrap_or(PgType::Text);
                self.check_comparable(ty)?;
                let e = self.coerce(e, ty)?;
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::new(format!("({e} {not}IN ({}))", sub.sql), PgType::Bool))
            }
            Expr::Exists { subquery, negated } => {
                let sub = self.subquery(subquery)?;
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::new(format!("({not}EXISTS ({}))", sub.sql), PgType::Bool).named("exists"))
            }
            Expr::Subquery(q) => {
                let sub = self.subquery(q)?;
                if sub.columns.len() != 1 {
                    return Err(SqlError::error("42601", "subquery must return only one column"));
                }
                let col = &sub.columns[0];
                let mut t =
                    Typed { sql: format!("({})", sub.sql), ty: col.ty, name: Some(col.name.clone()), lit: Lit::No };
                if t.ty.is_none() {
                    t.ty = Some(PgType::Text);
                }
                Ok(t)
            }
            Expr::Like { negated, any, expr: e, pattern, escape_char } => {
                self.like(*negated, *any, e, pattern, escape_char.as_deref(), false)
            }
            Expr::ILike { negated, any, expr: e, pattern, escape_char } => {
                self.like(*negated, *any, e, pattern, escape_char.as_deref(), true)
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref())
            }
            Expr::Function(f) => self.function(f),
            Expr::Collate { expr: e, collation } => {
                let parts = names::parts(collation)?;
                if matches!(parts.last().map(String::as_str), Some("default" | "C" | "c" | "POSIX")) {
                    self.expr(e)
                } else {
                    Err(unsupported(format!("collation \"{}\"", parts.join("."))))
                }
            }
            Expr::Extract { field, expr: e, .. } => {
                let e = self.expr(e)?;
                let field = field.to_string().to_lowercase();
                super::functions::extract(self, &field, e)
            }
            Expr::Substring { expr: e, substring_from, substring_for, shorthand, .. } => {
                let fname = if *shorthand { "substr" } else { "substring" };
                let e = self.expr(e)?;
                let s = self.coerce(e, PgType::Text)?;
                let from = match substring_from {
                    Some(f) => {
                        let f = self.expr(f)?;
                        self.coerce(f, PgType::Int4)?
                    }
                    None => "1".into(),
                };
                let sql = match substring_for {
                    Some(n) => {
                        let n = self.expr(n)?;
                        let n = self.coerce(n, PgType::Int4)?;
                        format!("pg_substr({s}, {from}, {n})")
                    }
                    None => format!("pg_substr({s}, {from})"),
                };
                Ok(Typed::new(sql, PgType::Text).named(fname))
            }
            Expr::Trim { expr: e, trim_where, trim_what, trim_characters } => {
                if trim_characters.is_some() {
                    return Err(unsupported("TRIM with a list of characters"));
                }
                let e = self.expr(e)?;
                let s = self.coerce(e, PgType::Text)?;
                let what = match trim_what {
                    Some(w) => {
                        let w = self.expr(w)?;
                        format!(", {}", self.coerce(w, PgType::Text)?)
                    }
                    None => ", ' '".into(),
                };
                let f = match trim_where.as_ref().map(|w| w.to_string().to_uppercase()).as_deref() {
                    Some("LEADING") => "ltrim",
                    Some("TRAILING") => "rtrim",
                    _ => "trim",
                };
                let name = match f {
                    "ltrim" => "ltrim",
                    "rtrim" => "rtrim",
                    _ => "btrim",
                };
                Ok(Typed::new(format!("{f}({s}{what})"), PgType::Text).named(name))
            }
            Expr::Position { expr: needle, r#in: hay } => {
                let (n, h) = (self.expr(needle)?, self.expr(hay)?);
                let (n, h) = (self.coerce(n, PgType::Text)?, self.coerce(h, PgType::Text)?);
                Ok(Typed::new(format!("instr({h}, {n})"), PgType::Int4).named("position"))
            }
            Expr::Ceil { expr: e, .. } => {
                let arg = self.expr(e)?;
                super::functions::call_named(self, "ceil", vec![arg])
            }
            Expr::Floor { expr: e, .. } => {
                let arg = self.expr(e)?;
                super::functions::call_named(self, "floor", vec![arg])
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                if let [sqlparser::ast::AccessExpr::Dot(Expr::Identifier(field))] = access_chain.as_slice() {
                    return self.field(root, &names::ident(field));
                }
                let [sqlparser::ast::AccessExpr::Subscript(sqlparser::ast::Subscript::Index { index })] =
                    access_chain.as_slice()
                else {
                    return Err(unsupported("this field or slice access"));
                };
                let arr = self.expr(root)?;
                if arr.ty == Some(PgType::Name) {
                    // A name is a fixed-length array of "char", subscripted from 0.
                    let i = self.expr(index)?;
                    let i = self.coerce(i, PgType::Int4)?;
                    return Ok(Typed::new(format!("substr({}, ({i}) + 1, 1)", arr.sql), PgType::Char));
                }
                let Some(element) = arr.ty.and_then(PgType::element) else {
                    return Err(SqlError::error(
                        "42804",
                        format!(
                            "cannot subscript type {} because it does not support subscripting",
                            arr.ty.map_or("unknown", PgType::sql_name)
                        ),
                    ));
                };
                let i = self.expr(index)?;
                let i = self.coerce(i, PgType::Int4)?;
                // PostgreSQL's subscripts start at 1; NULL past the end. The column keeps the array's name.
                let name = arr.name.clone();
                Ok(Typed {
                    name,
                    ..Typed::new(
                        format!(
                            "(SELECT value FROM json_each(pg_array_json({}, '{}')) WHERE key = ({i}) - 1)",
                            arr.sql,
                            element.typname()
                        ),
                        element,
                    )
                })
            }
            Expr::Tuple(_) => Err(unsupported("a row constructor")),
            Expr::Array(array) => self.array_constructor(&array.elem),
            Expr::Interval(iv) => {
                // INTERVAL '1 day': the interval type's input, as a cast of the string.
                if iv.leading_field.is_some()
                    || iv.last_field.is_some()
                    || iv.leading_precision.is_some()
                    || iv.fractional_seconds_precision.is_some()
                {
                    return Err(unsupported("INTERVAL with fields or a precision"));
                }
                let e = self.expr(&iv.value)?;
                if !matches!(e.lit, Lit::Str(_)) {
                    return Err(unsupported("INTERVAL of a computed value"));
                }
                let sql = self.cast(&e, PgType::Interval, -1, true)?;
                Ok(Typed::new(sql, PgType::Interval).named("interval"))
            }
            Expr::AtTimeZone { .. } => Err(unsupported("AT TIME ZONE")),
            Expr::AnyOp { left, compare_op, right, .. } => self.any_all(left, compare_op, right, true),
            Expr::AllOp { left, compare_op, right } => self.any_all(left, compare_op, right, false),
            Expr::SimilarTo { .. } => Err(unsupported("SIMILAR TO")),
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => Err(unsupported("* here")),
            other => Err(unsupported(format!("the expression \"{other}\""))),
        }
    }

    /// A column reference.
    fn column(&mut self, rel: Option<&str>, name: &str) -> Result<Typed, SqlError> {
        // Special words PostgreSQL reads as functions without parentheses.
        if rel.is_none() {
            if let Some(t) = super::functions::keyword_value(self, name)? {
                return Ok(t);
            }
        }
        let mut found: Option<Typed> = None;
        let mut rel_found = false;
        for scope in self.scopes.iter().rev() {
            for r in scope {
                if let Some(want) = rel {
                    if r.alias != want {
                        continue;
                    }
                    rel_found = true;
                }
                for (i, (col, ty)) in r.columns.iter().enumerate() {
                    if col == name {
                        if found.is_some() {
                            return Err(SqlError::error("42702", format!("column reference \"{name}\" is ambiguous")));
                        }
                        let sql = if let Some(exprs) = &r.exprs {
                            format!("({})", exprs[i])
                        } else if r.alias.is_empty() {
                            quote(col)
                        } else {
                            format!("{}.{}", quote(&r.alias), quote(col))
                        };
                        found = Some(Typed { sql, ty: *ty, name: Some(name.to_owned()), lit: Lit::No });
                    }
                }
            }
            if found.is_some() {
                break;
            }
        }
        if found.is_none() && name == "tableoid" {
            if let Some(t) = self.tableoid(rel) {
                return Ok(t);
            }
        }
        match found {
            Some(mut t) => {
                if t.ty.is_none() {
                    // A column whose declared type says nothing (a SQLite table): take it as text for typing.
                    t.ty = Some(PgType::Text);
                    t.lit = Lit::No;
                }
                Ok(t)
            }
            None => match rel {
                Some(r) if !rel_found => {
                    Err(SqlError::error("42P01", format!("missing FROM-clause entry for table \"{r}\"")))
                }
                Some(r) => Err(SqlError::error("42703", format!("column {r}.{name} does not exist"))),
                None => Err(SqlError::error("42703", format!("column \"{name}\" does not exist"))),
            },
        }
    }

    /// The system column `tableoid` of relation `rel` (or of the one relation of the innermost scope that has
    /// one): the relation's OID, a constant for a FROM item that is a table, view or catalog.
    fn tableoid(&self, rel: Option<&str>) -> Option<Typed> {
        let oid_of = |alias: &str| self.table_oids.iter().rev().find(|(a, _)| a == alias).map(|(_, oid)| *oid);
        let oid = match rel {
            Some(r) => oid_of(r)?,
            None => self.scopes.iter().rev().find_map(|scope| {
                let found: Vec<u32> = scope.iter().filter_map(|r| oid_of(&r.alias)).collect();
                match found.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            })?,
        };
        Some(Typed::new(oid.to_string(), PgType::Oid).named("tableoid"))
    }

    fn value(&mut self, v: &AstValue) -> Result<Typed, SqlError> {
        Ok(match v {
            AstValue::Number(text, _) => number(text)?,
            AstValue::SingleQuotedString(s) | AstValue::EscapedStringLiteral(s) | AstValue::UnicodeStringLiteral(s) => {
                Typed { sql: literal(s), ty: None, name: None, lit: Lit::Str(s.clone()) }
            }
            AstValue::DollarQuotedString(d) => {
                Typed { sql: literal(&d.value), ty: None, name: None, lit: Lit::Str(d.value.clone()) }
            }
            AstValue::Boolean(b) => Typed::new(if *b { "1" } else { "0" }, PgType::Bool),
            AstValue::Null => Typed { sql: "NULL".into(), ty: None, name: None, lit: Lit::Null },
            AstValue::Placeholder(p) => {
                let n = crate::sql::statement::param_number(Some(p))
                    .filter(|_| p.starts_with('$'))
                    .ok_or_else(|| SqlError::error("42601", format!("syntax error at or near \"{p}\"")))?;
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                Typed { sql: format!("${n}"), ty: self.param_type(n), name: None, lit: Lit::Param(n) }
            }
            AstValue::HexStringLiteral(_) | AstValue::SingleQuotedByteStringLiteral(_) => {
                return Err(unsupported("bit-string literals"))
            }
            other => return Err(unsupported(format!("the literal {other}"))),
        })
    }

    /// `e` as SQLite text of type `to`, converting a literal or parameter of unknown type, or a value of a type
    /// PostgreSQL converts implicitly (int2 → int4 → int8 → numeric → float8); 42804 otherwise.
    pub fn coerce(&mut self, e: Typed, to: PgType) -> Result<String, SqlError> {
        match (&e.lit, e.ty) {
            (Lit::Null, _) => Ok("NULL".into()),
            (Lit::Param(n), None) => {
                self.note_param(*n, to);
                Ok(e.sql)
            }
            (Lit::Str(_), None) => self.cast(&e, to, -1, false),
            (_, Some(from)) if from == to => Ok(e.sql),
            (_, Some(from)) if implicit(from, to) => self.cast(&e, to, -1, false),
            (_, Some(from)) => Err(SqlError::error(
                "42804",
                format!("argument of type {} cannot be used where type {} is expected", from.sql_name(), to.sql_name()),
            )
            .with_hint("You will need to rewrite or cast the expression.")),
            (_, None) => Ok(e.sql),
        }
    }

    /// `e` converted to `to` (an explicit cast when `explicit`).
    pub fn cast(&mut self, e: &Typed, to: PgType, typmod: i32, explicit: bool) -> Result<String, SqlError> {
        let from = match (&e.lit, e.ty) {
            (Lit::Null, _) => return Ok("NULL".into()),
            (Lit::Param(n), None) => {
                self.note_param(*n, to);
                return Ok(e.sql.clone());
            }
            (Lit::Str(text), None) if to == PgType::Regclass => return self.regclass_constant(text),
            (Lit::Str(text), None) if to == PgType::Regnamespace => {
                let name = text.trim().trim_matches('"');
                if !self.cx.schema.schema_exists(name)? {
                    return Err(SqlError::error("3F000", format!("schema \"{name}\" does not exist")));
                }
                return Ok(crate::sql::pg_catalog::namespace_oid(name).to_string());
            }
            (Lit::Str(text), None) => return super::functions::constant_input(text, to, typmod, explicit),
            (_, Some(ty)) => ty,
            (_, None) => PgType::Text,
        };
        if from == to && typmod < 0 {
            return Ok(e.sql.clone());
        }
        let s = &e.sql;
        Ok(match (from, to) {
            (a, b) if a.is_integer() && b.is_integer() && width(a) <= width(b) => s.clone(),
            (a, PgType::Float8 | PgType::Float4) if a.is_integer() => format!("CAST({s} AS REAL)"),
            // An integer is a numeric value as it is (held as an integer, printed the same).
            (a, PgType::Numeric) if a.is_integer() && typmod < 0 => s.clone(),
            (PgType::Float4, PgType::Float8) => s.clone(),
            (PgType::Bool, PgType::Int4) => s.clone(),
            (PgType::Int4, PgType::Bool) => format!("({s} <> 0)"),
            (a, PgType::Text) if a.is_integer() || a == PgType::Oid => format!("CAST({s} AS TEXT)"),
            (a, PgType::Text | PgType::Varchar | PgType::Name) if a.is_string() && typmod < 0 => s.clone(),
            (PgType::Oid | PgType::Regclass | PgType::Regproc | PgType::Regtype, b)
                if b.is_integer() || b == PgType::Oid =>
            {
                s.clone()
            }
            (a, PgType::Oid) if a.is_integer() => s.clone(),
            (PgType::Oid, PgType::Regclass) => s.clone(),
            (PgType::Text | PgType::Varchar | PgType::Name | PgType::Bpchar, PgType::Regclass) => {
                format!("pg_regclass({s})")
            }
            // The name of a relation by its OID: the catalog's own answer (its number when there is none).
            (PgType::Regclass, t) if t.is_string() => {
                format!("coalesce((SELECT relname FROM pg_class WHERE oid = {s}), CAST({s} AS TEXT))")
            }
            (PgType::Regtype, t) if t.is_string() => format!("format_type({s}, NULL)"),
            (PgType::Oid | PgType::Regnamespace, PgType::Regnamespace) => s.clone(),
            (PgType::Regnamespace, t) if t.is_string() => {
                format!("coalesce((SELECT nspname FROM pg_namespace WHERE oid = {s}), CAST({s} AS TEXT))")
            }
            (t, PgType::Regnamespace) if t.is_string() => format!("pg_regnamespace({s})"),
            (PgType::Regproc, t) if t.is_string() => {
                format!("coalesce((SELECT proname FROM pg_proc WHERE oid = {s}), CAST({s} AS TEXT))")
            }
            (a, b) => format!("pg_cast({s}, '{}', '{}', {typmod})", a.typname(), b.typname()),
        })
    }

    /// `ARRAY[a, b, ...]`: an array of the elements' common type, as PostgreSQL's array literal text.
    fn array_constructor(&mut self, elements: &[Expr]) -> Result<Typed, SqlError> {
        if elements.iter().any(|e| matches!(e, Expr::Array(_))) {
            return Err(unsupported("multidimensional arrays"));
        }
        let items = elements.iter().map(|e| self.expr(e)).collect::<Result<Vec<_>, _>>()?;
        if items.is_empty() {
            return Err(SqlError::error("42P18", "cannot determine type of empty array")
                .with_hint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."));
        }
        let all: Vec<&Typed> = items.iter().collect();
        let element = common_type(&all)?;
        let array = element.array().ok_or_else(|| unsupported(format!("arrays of {}", element.sql_name())))?;
        let mut parts = Vec::new();
        for item in items {
            parts.push(self.coerce(item, element)?);
        }
        Ok(Typed::new(format!("pg_array_build('{}', {})", element.typname(), parts.join(", ")), array).named("array"))
    }

    /// `(composite).field`: a field of `_pg_expandarray(...)` (its element `x` or position `n`), or of a column
    /// holding one (`(alias).x`).
    fn field(&mut self, root: &Expr, field: &str) -> Result<Typed, SqlError> {
        let mut inner = root;
        while let Expr::Nested(e) = inner {
            inner = e;
        }
        match inner {
            Expr::Function(_) => {
                let t = self.expr(inner)?;
                if t.ty != Some(PgType::Record) {
                    return Err(unsupported("field access on this value"));
                }
                match field {
                    "x" => Ok(Typed::new(format!("{}.value", t.sql), PgType::Int2).named("x")),
                    "n" => Ok(Typed::new(format!("({}.key + 1)", t.sql), PgType::Int4).named("n")),
                    _ => Err(SqlError::error("42703", format!("column \"{field}\" not found in data type record"))),
                }
            }
            Expr::Identifier(id) => self.column(None, &format!("{}.{field}", names::ident(id))),
            Expr::CompoundIdentifier(ids) if ids.len() == 2 => {
                let rel = names::ident(&ids[0]);
                self.column(Some(&rel), &format!("{}.{field}", names::ident(&ids[1])))
            }
            _ => Err(unsupported("field access on this value")),
        }
    }

    /// `'name'::regclass`: the relation's OID, looked up now (42P01 if there is none), as PostgreSQL does.
    fn regclass_constant(&mut self, text: &str) -> Result<String, SqlError> {
        if let Ok(oid) = text.trim().parse::<u32>() {
            return Ok(oid.to_string());
        }
        let name = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(text)
            .and_then(|mut p| p.parse_object_name(false))
            .map_err(|_| SqlError::error("42602", "invalid name syntax"))?;
        let (schema, rel) = names::relation(&name)?;
        let sqlite = super::schema::sqlite_name(schema.as_deref(), &rel);
        if self.cx.schema.columns(&sqlite)?.is_none() {
            return Err(SqlError::error("42P01", format!("relation \"{text}\" does not exist")));
        }
        Ok(crate::sql::pg_catalog::relation_oid(&sqlite).to_string())
    }

    /// `a = ANY (array | subquery)` and `a <> ALL (...)`: membership, with SQL's NULL rules (IN / NOT IN).
    fn any_all(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr, any: bool) -> Result<Typed, SqlError> {
        let negated = match (op, any) {
            (BinaryOperator::Eq, true) => false,
            (BinaryOperator::NotEq, false) => true,
            _ => return Err(unsupported(format!("{op} {}", if any { "ANY" } else { "ALL" }))),
        };
        let not = if negated { "NOT " } else { "" };
        let a = self.expr(left)?;
        if let Expr::Subquery(q) = right {
            let sub = self.subquery(q)?;
            let ty = sub.columns.first().and_then(|c| c.ty).or(a.ty).unwrap_or(PgType::Text);
            self.check_comparable(ty)?;
            let a = self.coerce(a, ty)?;
            return Ok(Typed::new(format!("({a} {not}IN ({}))", sub.sql), PgType::Bool));
        }
        let arr = self.expr(right)?;
        let (arr_sql, element) = match (arr.ty, &arr.lit) {
            (Some(t), _) if t.is_array() || matches!(t, PgType::Int2Vector | PgType::OidVector) => {
                (arr.sql.clone(), t.element().unwrap_or(PgType::Text))
            }
            (None, Lit::Str(_) | Lit::Param(_)) => {
                let element = a.ty.unwrap_or(PgType::Text);
                let array = element.array().ok_or_else(|| unsupported(format!("arrays of {}", element.sql_name())))?;
                (self.cast(&arr, array, -1, false)?, element)
            }
            _ => return Err(SqlError::error("42809", "op ANY/ALL (array) requires array on right side")),
        };
        self.check_comparable(element)?;
        let a = self.coerce(a, element)?;
        Ok(Typed::new(
            format!("({a} {not}IN (SELECT value FROM json_each(pg_array_json({arr_sql}, '{}'))))", element.typname()),
            PgType::Bool,
        ))
    }

    fn postfix(&mut self, e: &Expr, op: &str) -> Result<Typed, SqlError> {
        let e = self.expr(e)?;
        Ok(Typed::new(format!("({} {op})", e.sql), PgType::Bool))
    }

    fn bool_test(&mut self, e: &Expr, op: &str) -> Result<Typed, SqlError> {
        let e = self.expr(e)?;
        let e = self.coerce(e, PgType::Bool)?;
        Ok(Typed::new(format!("({e} {op})"), PgType::Bool))
    }

    pub fn check_comparable(&self, ty: PgType) -> Result<(), SqlError> {
        match ty {
            // Held as text whose order is not the value's order.
            PgType::Numeric | PgType::Interval | PgType::Timestamptz => {
                if ty == PgType::Timestamptz {
                    // Stored in UTC, one text form: text order is time order.
                    return Ok(());
                }
                Err(unsupported(format!("comparing values of type {}", ty.sql_name())))
            }
            t if t.is_array() || t == PgType::Json => {
                Err(unsupported(format!("comparing values of type {}", t.sql_name())))
            }
            _ => Ok(()),
        }
    }

    /// `sql` (of type `ty`) as something SQLite compares in the type's order: numeric's text through its sort
    /// key; 0A000 for a type held in a form whose order is not the value's.
    pub fn key(&self, ty: PgType, sql: String) -> Result<String, SqlError> {
        if ty == PgType::Numeric {
            return Ok(format!("pg_numeric_key({sql})"));
        }
        self.check_comparable(ty)?;
        Ok(sql)
    }

    fn comparison(&mut self, a: &Expr, b: &Expr, op: &str) -> Result<Typed, SqlError> {
        let (a, b) = (self.expr(a)?, self.expr(b)?);
        let ty = common_type(&[&a, &b])?;
        let (a, b) = (self.coerce(a, ty)?, self.coerce(b, ty)?);
        let (a, b) = (self.key(ty, a)?, self.key(ty, b)?);
        Ok(Typed::new(format!("({a} {op} {b})"), PgType::Bool))
    }

    fn binary(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Typed, SqlError> {
        use BinaryOperator as B;
        let sym = match op {
            B::Eq => "=",
            B::NotEq => "<>",
            B::Lt => "<",
            B::LtEq => "<=",
            B::Gt => ">",
            B::GtEq => ">=",
            B::And | B::Or => {
                let (a, b) = (self.expr(left)?, self.expr(right)?);
                let (a, b) = (self.coerce(a, PgType::Bool)?, self.coerce(b, PgType::Bool)?);
                let word = if *op == B::And { "AND" } else { "OR" };
                return Ok(Typed::new(format!("({a} {word} {b})"), PgType::Bool));
            }
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => return self.arithmetic(left, op, right),
            B::StringConcat => {
                let (a, b) = (self.expr(left)?, self.expr(right)?);
                if a.ty.is_some_and(PgType::is_array) || b.ty.is_some_and(PgType::is_array) {
                    return Err(unsupported("array concatenation"));
                }
                if matches!(a.ty, Some(PgType::Jsonb)) || matches!(b.ty, Some(PgType::Jsonb)) {
                    return Err(unsupported("jsonb concatenation"));
                }
                let a = self.text_of(a)?;
                let b = self.text_of(b)?;
                return Ok(Typed::new(format!("({a} || {b})"), PgType::Text));
            }
            B::PGRegexMatch | B::PGRegexNotMatch | B::PGRegexIMatch | B::PGRegexNotIMatch => {
                return self.regex(left, op, right);
            }
            B::PGCustomBinaryOperator(parts) => {
                let op = parts.last().cloned().unwrap_or_default();
                let mapped = match op.as_str() {
                    "~" => B::PGRegexMatch,
                    "!~" => B::PGRegexNotMatch,
                    "~*" => B::PGRegexIMatch,
                    "!~*" => B::PGRegexNotIMatch,
                    "=" => B::Eq,
                    "<>" => B::NotEq,
                    "<" => B::Lt,
                    ">" => B::Gt,
                    "<=" => B::LtEq,
                    ">=" => B::GtEq,
                    "||" => B::StringConcat,
                    _ => return Err(unsupported(format!("operator OPERATOR({})", parts.join(".")))),
                };
                return self.binary(left, &mapped, right);
            }
            B::Arrow | B::LongArrow | B::HashArrow | B::HashLongArrow | B::AtArrow | B::ArrowAt | B::Question => {
                return super::functions::json_operator(self, left, op, right);
            }
            B::PGLikeMatch => {
                return self.like_op(left, right, false, false);
            }
            B::PGNotLikeMatch => return self.like_op(left, right, true, false),
            B::PGILikeMatch => return self.like_op(left, right, false, true),
            B::PGNotILikeMatch => return self.like_op(left, right, true, true),
            other => return Err(unsupported(format!("operator {other}"))),
        };
        let (a, b) = (self.expr(left)?, self.expr(right)?);
        let ty = common_type(&[&a, &b]).map_err(|_| {
            SqlError::error(
                "42883",
                format!(
                    "operator does not exist: {} {sym} {}",
                    a.ty.map_or("unknown", PgType::sql_name),
                    b.ty.map_or("unknown", PgType::sql_name)
                ),
            )
            .with_hint(
                "No operator matches the given name and argument types. You might need to add explicit type casts.",
            )
        })?;
        let (a, b) = (self.literal_param(left, a, ty), self.literal_param(right, b, ty));
        let (a, b) = (self.coerce(a, ty)?, self.coerce(b, ty)?);
        // Arrays of elements with one text form each are equal exactly when their texts are.
        let text_equal = matches!(sym, "=" | "<>")
            && ty.element().is_some_and(|e| {
                matches!(
                    e,
                    PgType::Int2
                        | PgType::Int4
                        | PgType::Int8
                        | PgType::Oid
                        | PgType::Text
                        | PgType::Varchar
                        | PgType::Name
                        | PgType::Char
                        | PgType::Bool
                        | PgType::Date
                        | PgType::Uuid
                )
            });
        let (a, b) = if text_equal { (a, b) } else { (self.key(ty, a)?, self.key(ty, b)?) };
        Ok(Typed::new(format!("({a} {sym} {b})"), PgType::Bool))
    }

    fn like_op(&mut self, left: &Expr, right: &Expr, negated: bool, insensitive: bool) -> Result<Typed, SqlError> {
        self.like(negated, false, left, right, None, insensitive)
    }

    /// The text form of `e` for `||` (PostgreSQL converts a non-text operand with its output function).
    pub fn text_of(&mut self, e: Typed) -> Result<String, SqlError> {
        match e.ty {
            None | Some(PgType::Text | PgType::Varchar | PgType::Name) => self.coerce(e, PgType::Text),
            Some(PgType::Bpchar) => Ok(format!("rtrim({})", e.sql)),
            Some(_) => self.cast(&e, PgType::Text, -1, true),
        }
    }

    fn regex(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Typed, SqlError> {
        let (a, b) = (self.expr(left)?, self.expr(right)?);
        let (a, b) = (self.text_of(a)?, self.coerce(b, PgType::Text)?);
        let (insensitive, negated) = match op {
            BinaryOperator::PGRegexMatch => (0, false),
            BinaryOperator::PGRegexNotMatch => (0, true),
            BinaryOperator::PGRegexIMatch => (1, false),
            _ => (1, true),
        };
        let not = if negated { "NOT " } else { "" };
        Ok(Typed::new(format!("({not}pg_regex_match({a}, {b}, {insensitive}))"), PgType::Bool))
    }

    fn like(
        &mut self,
        negated: bool,
        any: bool,
        e: &Expr,
        pattern: &Expr,
        escape: Option<&Expr>,
        insensitive: bool,
    ) -> Result<Typed, SqlError> {
        if any {
            return Err(unsupported("LIKE ANY"));
        }
        let (e, p) = (self.expr(e)?, self.expr(pattern)?);
        let (e, p) = (self.text_of(e)?, self.coerce(p, PgType::Text)?);
        let escape = match escape {
            Some(x) => {
                let x = self.expr(x)?;
                self.coerce(x, PgType::Text)?
            }
            None => "'\\'".into(),
        };
        let not = if negated { "NOT " } else { "" };
        let i = if insensitive { 1 } else { 0 };
        Ok(Typed::new(format!("({not}pg_like({e}, {p}, {escape}, {i}))"), PgType::Bool))
    }

    fn unary(&mut self, op: &UnaryOperator, inner: &Expr) -> Result<Typed, SqlError> {
        match op {
            UnaryOperator::Not => {
                let e = self.expr(inner)?;
                let e = self.coerce(e, PgType::Bool)?;
                Ok(Typed::new(format!("(NOT {e})"), PgType::Bool))
            }
            UnaryOperator::Minus => {
                if let Expr::Value(v) = inner {
                    if let AstValue::Number(text, _) = &v.value {
                        return number(&format!("-{text}"));
                    }
                }
                let e = self.expr(inner)?;
                let ty = e.ty.unwrap_or(PgType::Int4);
                match ty {
                    t if t.is_integer() => {
                        let s = self.coerce(e, t)?;
                        Ok(Typed::new(format!("pg_iop('-', 0, {s}, {})", width(t)), t))
                    }
                    PgType::Float8 | PgType::Float4 => Ok(Typed::new(format!("(-{})", e.sql), ty)),
                    PgType::Numeric => Ok(Typed::new(format!("pg_numeric_sub(0, {})", e.sql), ty)),
                    other => Err(SqlError::error("42883", format!("operator does not exist: - {}", other.sql_name()))),
                }
            }
            UnaryOperator::Plus => self.expr(inner),
            other => Err(unsupported(format!("operator {other}"))),
        }
    }

    fn arithmetic(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Typed, SqlError> {
        let (a, b) = (self.expr(left)?, self.expr(right)?);
        super::functions::arithmetic(self, a, op, b)
    }

    fn case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[sqlparser::ast::CaseWhen],
        else_result: Option<&Expr>,
    ) -> Result<Typed, SqlError> {
        let operand = operand.map(|o| self.expr(o)).transpose()?;
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for cw in conditions {
            let c = self.expr(&cw.condition)?;
            let c = match &operand {
                Some(o) => {
                    let ty = common_type(&[o, &c])?;
                    let (o2, c2) = (self.coerce(o.clone(), ty)?, self.coerce(c, ty)?);
                    format!("{o2} = {c2}")
                }
                None => self.coerce(c, PgType::Bool)?,
            };
            whens.push(c);
            results.push(self.expr(&cw.result)?);
        }
        let else_t = else_result.map(|e| self.expr(e)).transpose()?;
        let mut all: Vec<&Typed> = results.iter().collect();
        if let Some(e) = &else_t {
            all.push(e);
        }
        let ty = common_type(&all)?;
        let mut sql = String::from("CASE");
        for (w, r) in whens.into_iter().zip(results) {
            let r = self.coerce(r, ty)?;
            sql.push_str(&format!(" WHEN {w} THEN {r}"));
        }
        if let Some(e) = else_t {
            let e = self.coerce(e, ty)?;
            sql.push_str(&format!(" ELSE {e}"));
        }
        sql.push_str(" END");
        Ok(Typed::new(sql, ty).named("case"))
    }

    fn function(&mut self, f: &Function) -> Result<Typed, SqlError> {
        super::functions::call(self, f)
    }

    /// Translates a subquery in a new scope nested in the current ones.
    pub fn subquery(&mut self, q: &sqlparser::ast::Query) -> Result<super::query::QueryOut, SqlError> {
        let saved = self.in_aggregate_context;
        let out = self.query(q);
        self.in_aggregate_context = saved;
        out
    }
}

/// Whether PostgreSQL names a result column after `e` rather than after a cast around it: a column, a function
/// call, or a cast of one of those (PostgreSQL's FigureColname strength above 1).
fn strong_name(e: &Expr) -> bool {
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) | Expr::Case { .. } => true,
        Expr::Cast { expr, .. } | Expr::Nested(expr) => strong_name(expr),
        _ => false,
    }
}

/// A numeric literal: int4 if it fits, else int8, else numeric; a decimal point or exponent makes it numeric.
pub(super) fn number(text: &str) -> Result<Typed, SqlError> {
    let clean = text.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        let ty = if i32::try_from(i).is_ok() { PgType::Int4 } else { PgType::Int8 };
        return Ok(Typed::new(i.to_string(), ty));
    }
    let is_decimal = clean
        .trim_start_matches('-')
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-');
    if !is_decimal {
        return Err(SqlError::error("42601", format!("syntax error at or near \"{text}\"")));
    }
    // A numeric constant: kept as its text, PostgreSQL's numeric value.
    let canonical = super::functions::numeric_literal(&clean)?;
    Ok(Typed::new(literal(&canonical), PgType::Numeric))
}

/// The width in bits of an integer type.
pub(super) fn width(ty: PgType) -> u32 {
    match ty {
        PgType::Int2 => 16,
        PgType::Int4 => 32,
        _ => 64,
    }
}

/// Whether PostgreSQL converts `from` to `to` implicitly.
pub(super) fn implicit(from: PgType, to: PgType) -> bool {
    use PgType::*;
    matches!(
        (from, to),
        (Int2, Int4 | Int8 | Numeric | Float4 | Float8 | Oid)
            | (Int4, Int8 | Numeric | Float4 | Float8 | Oid | Regclass)
            | (Int8, Numeric | Float4 | Float8)
            | (Numeric, Float4 | Float8)
            | (Float4, Float8)
            | (Text | Varchar | Bpchar | Name, Text | Varchar | Name | Bpchar)
            | (Date, Timestamp | Timestamptz)
            | (Timestamp, Timestamptz)
            | (
                Oid | Regclass | Regproc | Regtype | Regnamespace,
                Oid | Int8 | Regclass | Regproc | Regtype | Regnamespace
            )
            | (Char, Text)
            | (Json, Jsonb)
    )
}

/// The common type of expressions (UNION/CASE/comparison resolution): the first known type that every other
/// known type converts to implicitly; text when all are unknown; 42804 when they do not match.
pub(super) fn common_type(items: &[&Typed]) -> Result<PgType, SqlError> {
    let known: Vec<PgType> = items.iter().filter_map(|t| t.ty).collect();
    let Some(&first) = known.first() else {
        return Ok(PgType::Text);
    };
    let mut best = first;
    for &ty in &known[1..] {
        if ty == best || implicit(ty, best) {
            continue;
        }
        if implicit(best, ty) {
            best = ty;
            continue;
        }
        return Err(SqlError::error(
            "42804",
            format!("types {} and {} cannot be matched", best.sql_name(), ty.sql_name()),
        ));
    }
    Ok(best)
}

/// The type (and typmod, -1 without one) a sqlparser data type names.
pub(super) fn data_type_of(dt: &DataType) -> Result<(PgType, i32), SqlError> {
    let text = dt.to_string();
    let (base, modifier) = match text.find('(') {
        Some(open) => {
            let close = text.rfind(')').unwrap_or(text.len());
            let after = text[close + 1..].trim().to_owned();
            (format!("{} {}", text[..open].trim(), after).trim().to_owned(), Some(text[open + 1..close].to_owned()))
        }
        None => (text.clone(), None),
    };
    let ty = PgType::from_name(&base)
        .ok_or_else(|| SqlError::error("42704", format!("type \"{}\" does not exist", base.to_lowercase())))?;
    let typmod = match modifier {
        None => -1,
        Some(m) => {
            let nums: Vec<i32> =
                m.split(',').map(|p| p.trim().parse::<i32>()).collect::<Result<_, _>>().map_err(|_| {
                    SqlError::error("42601", format!("invalid type modifier for type {}", ty.sql_name()))
                })?;
            match (ty, nums.as_slice()) {
                (PgType::Varchar | PgType::Bpchar, [n]) => n + 4,
                (PgType::Numeric, [p]) => (p << 16) + 4,
                (PgType::Numeric, [p, s]) => ((p << 16) | s) + 4,
                (PgType::Timestamp | PgType::Timestamptz | PgType::Time | PgType::Interval, [p]) => *p,
                (PgType::Float8 | PgType::Float4, [_]) => -1,
                _ => {
                    return Err(SqlError::error(
                        "42601",
                        format!("type modifier is not allowed for type \"{}\"", ty.typname()),
                    ))
                }
            }
        }
    };
    // float(p): p <= 24 is real.
    if let (DataType::Float(sqlparser::ast::ExactNumberInfo::Precision(p)), PgType::Float8) = (dt, ty) {
        if *p <= 24 {
            return Ok((PgType::Float4, -1));
        }
    }
    Ok((ty, typmod))
}
