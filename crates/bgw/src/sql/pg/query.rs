//! Queries: SELECT, VALUES, set operations and WITH, with FROM items resolved into scopes and every output
//! column named and typed as PostgreSQL does.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, Join, JoinConstraint, JoinOperator, LimitClause, OrderBy, OrderByKind, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, SetOperator, SetQuantifier, TableAlias, TableFactor,
    TableWithJoins, Value as AstValue,
};

use super::expr::{common_type, Lit, Rel, Translator, Typed};
use super::names::{self, quote};
use super::schema::sqlite_name;
use super::unsupported;
use crate::sql::error::SqlError;
use crate::sql::statement::ColumnInfo;
use crate::sql::types::PgType;

/// A translated query: its SQLite text and its output columns.
#[derive(Debug, Clone)]
pub(super) struct QueryOut {
    pub sql: String,
    pub columns: Vec<ColumnInfo>,
}

impl Translator<'_> {
    /// A statement-level query. Its result columns of the reg* types are sent as PostgreSQL prints them: the
    /// object's name (looked up in the catalogs), not its number.
    pub fn top_query(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
        let out = self.query(q)?;
        let named = |ty: Option<PgType>| {
            matches!(ty, Some(PgType::Regclass | PgType::Regtype | PgType::Regproc | PgType::Regnamespace))
        };
        if !out.columns.iter().any(|c| named(c.ty)) {
            return Ok(out);
        }
        let mut items = Vec::new();
        for (i, c) in out.columns.iter().enumerate() {
            let col = format!("_q.column{}", i + 1);
            let shown = match c.ty {
                Some(PgType::Regclass) => format!("coalesce((SELECT relname FROM pg_class WHERE oid = {col}), {col})"),
                Some(PgType::Regtype) => format!("coalesce(format_type({col}, NULL), {col})"),
                Some(PgType::Regproc) => format!("coalesce((SELECT proname FROM pg_proc WHERE oid = {col}), {col})"),
                Some(PgType::Regnamespace) => {
                    format!("coalesce((SELECT nspname FROM pg_namespace WHERE oid = {col}), {col})")
                }
                _ => col,
            };
            items.push(format!("{shown} AS {}", quote(&c.name)));
        }
        // Positional names for the inner columns: result column names may repeat.
        let renamed: Vec<String> = (1..=out.columns.len()).map(|i| format!("column{i}")).collect();
        Ok(QueryOut {
            sql: format!("WITH _q({}) AS ({}) SELECT {} FROM _q", renamed.join(", "), out.sql, items.join(", ")),
            columns: out.columns,
        })
    }

    /// A query anywhere (top level, subquery, CTE, INSERT ... SELECT).
    pub fn query(&mut self, q: &Query) -> Result<QueryOut, SqlError> {
        if q.fetch.is_some() && q.limit_clause.is_some() {
            return Err(SqlError::error("42601", "syntax error: LIMIT and FETCH together"));
        }
        if q.for_clause.is_some() || q.settings.is_some() || q.format_clause.is_some() || !q.pipe_operators.is_empty() {
            return Err(unsupported("this query clause"));
        }
        if let Some(with) = &q.with {
            // A data-modifying CTE at the top level is the translator's entry point's (see steps).
            let writes = |b: &SetExpr| matches!(b, SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_));
            if with.cte_tables.iter().any(|c| writes(&c.query.body)) {
                return Err(SqlError::error(
                    "0A000",
                    "WITH clause containing a data-modifying statement must be at the top level",
                ));
            }
        }
        let saved_ctes = self.ctes.len();
        let mut sql = String::new();
        if let Some(with) = &q.with {
            sql.push_str(if with.recursive { "WITH RECURSIVE " } else { "WITH " });
            let mut first = true;
            for cte in &with.cte_tables {
                let name = names::ident(&cte.alias.name);
                let alias_cols: Vec<String> = cte.alias.columns.iter().map(|c| names::ident(&c.name)).collect();
                if with.recursive {
                    // A recursive CTE refers to itself: its columns are known from its first (non-recursive) branch.
                    let seed = match cte.query.body.as_ref() {
                        SetExpr::SetOperation { left, .. } => {
                            let mut probe = (*cte.query).clone();
                            probe.body = left.clone();
                            probe.order_by = None;
                            probe.limit_clause = None;
                            self.query(&probe)?
                        }
                        _ => self.query(&cte.query)?,
                    };
                    let cols = rename(&seed.columns, &alias_cols)?;
                    self.ctes.push(Rel {
                        exprs: None,
                        alias: name.clone(),
                        columns: cols.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                    });
                }
                let out = self.query(&cte.query)?;
                let cols = rename(&out.columns, &alias_cols)?;
                if with.recursive {
                    self.ctes.pop();
                }
                if !first {
                    sql.push_str(", ");
                }
                first = false;
                let col_list: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
                sql.push_str(&format!("{}({}) AS ({})", quote(&name), col_list.join(", "), out.sql));
                self.ctes.push(Rel {
                    exprs: None,
                    alias: name,
                    columns: cols.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                });
            }
            sql.push(' ');
        }
        let body = self.set_expr(&q.body, q.order_by.as_ref())?;
        sql.push_str(&body.sql);
        if let Some(order) = &q.order_by {
            if !matches!(q.body.as_ref(), SetExpr::Select(_)) {
                // ORDER BY of a set operation or VALUES: by output column only.
                sql.push_str(&self.order_by_outputs(order, &body.columns)?);
            }
        }
        if let Some(limit) = &q.limit_clause {
            sql.push_str(&self.limit(limit)?);
        }
        if let Some(fetch) = &q.fetch {
            if fetch.with_ties || fetch.percent {
                return Err(unsupported("FETCH ... WITH TIES / PERCENT"));
            }
            let n = match &fetch.quantity {
                Some(e) => {
                    let t = self.expr(e)?;
                    self.coerce(t, PgType::Int8)?
                }
                None => "1".into(),
            };
            sql.push_str(&format!(" LIMIT {n}"));
        }
        self.ctes.truncate(saved_ctes);
        Ok(QueryOut { sql, columns: body.columns })
    }

    fn set_expr(&mut self, body: &SetExpr, order: Option<&OrderBy>) -> Result<QueryOut, SqlError> {
        match body {
            SetExpr::Select(select) => self.select(select, order),
            SetExpr::Query(q) => {
                let out = self.query(q)?;
                Ok(QueryOut { sql: format!("SELECT * FROM ({})", out.sql), columns: out.columns })
            }
            SetExpr::Values(values) => self.values(values),
            SetExpr::SetOperation { left, op, set_quantifier, right } => {
                let l = self.set_expr(left, None)?;
                let r = self.set_expr(right, None)?;
                if l.columns.len() != r.columns.len() {
                    let what = match op {
                        SetOperator::Union => "UNION",
                        SetOperator::Intersect => "INTERSECT",
                        _ => "EXCEPT",
                    };
                    return Err(SqlError::error(
                        "42601",
                        format!("each {what} query must have the same number of columns"),
                    ));
                }
                let word = match (op, set_quantifier) {
                    (SetOperator::Union, SetQuantifier::All) => "UNION ALL",
                    (SetOperator::Union, SetQuantifier::Distinct | SetQuantifier::None) => "UNION",
                    (SetOperator::Intersect, SetQuantifier::Distinct | SetQuantifier::None) => "INTERSECT",
                    (SetOperator::Except, SetQuantifier::Distinct | SetQuantifier::None) => "EXCEPT",
                    _ => return Err(unsupported(format!("{op} {set_quantifier}"))),
                };
                let mut columns = Vec::new();
                for (a, b) in l.columns.iter().zip(&r.columns) {
                    let ta = Typed { sql: String::new(), ty: a.ty, name: None, lit: Lit::No };
                    let tb = Typed { sql: String::new(), ty: b.ty, name: None, lit: Lit::No };
                    let ty = common_type(&[&ta, &tb])?;
                    // Branches of different types are fine where the values are held alike (strings; integers,
                    // also as numeric or float8); anything else would need a conversion inside each branch.
                    let held_alike = match (a.ty, b.ty) {
                        (Some(x), Some(y)) => {
                            x == y
                                || (x.is_string() && y.is_string())
                                || (is_oid_like(x) && is_oid_like(y))
                                || (x.is_integer() && y.is_integer())
                                || (x.is_integer() && matches!(y, PgType::Numeric | PgType::Float8))
                                || (y.is_integer() && matches!(x, PgType::Numeric | PgType::Float8))
                        }
                        _ => true,
                    };
                    if !held_alike {
                        // Differently typed branches would need a conversion inside each branch.
                        return Err(unsupported(format!(
                            "{word} of columns of types {} and {}",
                            a.ty.map_or("unknown", PgType::sql_name),
                            b.ty.map_or("unknown", PgType::sql_name)
                        )));
                    }
                    columns.push(ColumnInfo { name: a.name.clone(), ty: Some(ty) });
                }
                let _ = order;
                Ok(QueryOut { sql: format!("{} {word} {}", l.sql, r.sql), columns })
            }
            SetExpr::Table(t) => {
                let name = t.table_name.clone().unwrap_or_default();
                let (rel, _) = self.table(None, &name.to_lowercase(), None)?;
                let cols: Vec<String> = rel.columns.iter().map(|(n, _)| quote(n)).collect();
                Ok(QueryOut {
                    sql: format!("SELECT {} FROM {}", cols.join(", "), quote(&sqlite_name(None, &name.to_lowercase()))),
                    columns: rel.columns.iter().map(|(n, t)| ColumnInfo { name: n.clone(), ty: *t }).collect(),
                })
            }
            _ => Err(unsupported("a data-modifying statement in a query")),
        }
    }

    fn values(&mut self, values: &sqlparser::ast::Values) -> Result<QueryOut, SqlError> {
        let rows: Vec<Vec<Typed>> = values
            .rows
            .iter()
            .map(|row| row.iter().map(|e| self.expr(e)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<_, _>>()?;
        let width = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != width) {
            return Err(SqlError::error("42601", "VALUES lists must all be the same length"));
        }
        let mut types = Vec::new();
        for i in 0..width {
            let col: Vec<&Typed> = rows.iter().map(|r| &r[i]).collect();
            types.push(common_type(&col)?);
        }
        let mut out_rows = Vec::new();
        for row in rows {
            let mut items = Vec::new();
            for (i, e) in row.into_iter().enumerate() {
                items.push(self.coerce(e, types[i])?);
            }
            out_rows.push(format!("({})", items.join(", ")));
        }
        // SQLite names VALUES columns column1, column2, ... as PostgreSQL does.
        Ok(QueryOut {
            sql: format!("VALUES {}", out_rows.join(", ")),
            columns: types
                .iter()
                .enumerate()
                .map(|(i, t)| ColumnInfo { name: format!("column{}", i + 1), ty: Some(*t) })
                .collect(),
        })
    }

    fn select(&mut self, s: &Select, order: Option<&OrderBy>) -> Result<QueryOut, SqlError> {
        if s.into.is_some() {
            return Err(unsupported("SELECT INTO"));
        }
        if !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || s.qualify.is_some()
            || s.top.is_some()
            || !s.named_window.is_empty()
        {
            return Err(unsupported("this SELECT clause"));
        }
        self.scopes.push(Vec::new());
        let result = self.select_in_scope(s, order);
        self.scopes.pop();
        result
    }

    fn select_in_scope(&mut self, s: &Select, order: Option<&OrderBy>) -> Result<QueryOut, SqlError> {
        let mut from_sql = Vec::new();
        for twj in &s.from {
            let item = self.table_with_joins(twj)?;
            // A FROM item folded into the query (a LATERAL subquery without FROM) leaves no text.
            if !item.is_empty() {
                from_sql.push(item);
            }
        }
        // information_schema._pg_expandarray(a) in the select list (pgjdbc's getPrimaryKeys): a set-returning
        // function whose rows are the array's elements and positions, read as a join of the array's elements.
        for item in &s.projection {
            let e = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => continue,
            };
            for arg in expandarray_args(e) {
                let key = arg.to_string();
                if self.expansions.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                let t = self.expr(&arg)?;
                let element = t.ty.and_then(PgType::element).unwrap_or(PgType::Int2);
                let alias = format!("_x{}", self.expansions.len() + 1);
                from_sql.push(format!(
                    "json_each(pg_array_json({}, '{}')) AS {}",
                    t.sql,
                    element.typname(),
                    quote(&alias)
                ));
                self.expansions.push((key, alias));
            }
        }
        let saved_outputs = std::mem::take(&mut self.outputs);
        // The select list.
        let mut items: Vec<(String, Typed)> = Vec::new();
        let saved_agg = self.in_aggregate_context;
        self.in_aggregate_context = true;
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let t = self.expr(e)?;
                    let name = t.name.clone().unwrap_or_else(|| "?column?".to_owned());
                    items.push((name, t));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let t = self.expr(expr)?;
                    if t.ty == Some(PgType::Record) {
                        // _pg_expandarray's (x, n) as two columns `alias.x` and `alias.n`, read as `(alias).x`.
                        let name = names::ident(alias);
                        let source = t.sql.clone();
                        items.push((format!("{name}.x"), Typed::new(format!("{source}.value"), PgType::Int2)));
                        items.push((format!("{name}.n"), Typed::new(format!("({source}.key + 1)"), PgType::Int4)));
                        continue;
                    }
                    items.push((names::ident(alias), t));
                }
                SelectItem::Wildcard(opts) => {
                    if opts.opt_exclude.is_some()
                        || opts.opt_except.is_some()
                        || opts.opt_replace.is_some()
                        || opts.opt_rename.is_some()
                        || opts.opt_ilike.is_some()
                    {
                        return Err(unsupported("this form of *"));
                    }
                    let scope = self.scopes.last().cloned().unwrap_or_default();
                    if scope.is_empty() {
                        return Err(SqlError::error("42601", "SELECT * with no tables specified is not valid"));
                    }
                    for rel in &scope {
                        for (col, ty) in &rel.columns {
                            items.push((col.clone(), wildcard_column(rel, col, *ty)));
                        }
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                        return Err(unsupported("this form of .*"));
                    };
                    let parts = names::parts(name)?;
                    let alias = parts.last().cloned().unwrap_or_default();
                    let rel = self
                        .scopes
                        .last()
                        .and_then(|scope| scope.iter().find(|r| r.alias == alias).cloned())
                        .ok_or_else(|| {
                            SqlError::error("42P01", format!("missing FROM-clause entry for table \"{alias}\""))
                        })?;
                    for (col, ty) in &rel.columns {
                        items.push((col.clone(), wildcard_column(&rel, col, *ty)));
                    }
                }
                SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
            }
        }
        self.in_aggregate_context = saved_agg;
        let mut sql = String::from("SELECT ");
        match &s.distinct {
            None | Some(Distinct::All) => {}
            Some(Distinct::Distinct) => {
                for (_, t) in &items {
                    if let Some(ty) = t.ty {
                        self.check_comparable(ty)?;
                    }
                }
                sql.push_str("DISTINCT ")
            }
            Some(Distinct::On(_)) => return Err(unsupported("SELECT DISTINCT ON")),
        }
        let list: Vec<String> = items.iter().map(|(name, t)| format!("{} AS {}", t.sql, quote(name))).collect();
        sql.push_str(&list.join(", "));
        if !from_sql.is_empty() {
            sql.push_str(" FROM ");
            sql.push_str(&from_sql.join(", "));
        }
        if let Some(w) = &s.selection {
            let t = self.expr(w)?;
            let w = self.coerce(t, PgType::Bool)?;
            sql.push_str(&format!(" WHERE {w}"));
        }
        self.outputs = items.clone();
        match &s.group_by {
            GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(unsupported("GROUP BY modifiers"));
                }
                if !exprs.is_empty() {
                    let mut keys = Vec::new();
                    for e in exprs {
                        keys.push(self.output_or_expr(e)?.sql);
                    }
                    sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
                }
            }
            GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        }
        if let Some(h) = &s.having {
            self.in_aggregate_context = true;
            let t = self.expr(h)?;
            self.in_aggregate_context = saved_agg;
            let h = self.coerce(t, PgType::Bool)?;
            sql.push_str(&format!(" HAVING {h}"));
        }
        if let Some(order) = order {
            self.in_aggregate_context = true;
            let clause = self.order_by(order);
            self.in_aggregate_context = saved_agg;
            sql.push_str(&clause?);
        }
        self.outputs = saved_outputs;
        let columns = items.into_iter().map(|(name, t)| ColumnInfo { name, ty: t.ty.or(Some(PgType::Text)) }).collect();
        Ok(QueryOut { sql, columns })
    }

    /// An ORDER BY or GROUP BY item: an output column by position or name, or an expression.
    fn output_or_expr(&mut self, e: &Expr) -> Result<Typed, SqlError> {
        if let Expr::Value(v) = e {
            if let AstValue::Number(n, _) = &v.value {
                let i: usize = n.parse().map_err(|_| SqlError::error("42601", "non-integer constant in ORDER BY"))?;
                return match self.outputs.get(i.wrapping_sub(1)) {
                    Some((_, t)) => Ok(Typed { sql: i.to_string(), ..t.clone() }),
                    None => Err(SqlError::error("42P10", format!("ORDER BY position {i} is not in select list"))),
                };
            }
        }
        if let Expr::Identifier(id) = e {
            let name = names::ident(id);
            match self.expr(e) {
                Ok(t) => return Ok(t),
                Err(err) if err.code == "42703" => {
                    if let Some((n, t)) = self.outputs.iter().find(|(n, _)| *n == name) {
                        return Ok(Typed { sql: quote(n), ..t.clone() });
                    }
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
        self.expr(e)
    }

    fn order_by(&mut self, order: &OrderBy) -> Result<String, SqlError> {
        let OrderByKind::Expressions(exprs) = &order.kind else {
            return Err(unsupported("ORDER BY ALL"));
        };
        if order.interpolate.is_some() {
            return Err(unsupported("INTERPOLATE"));
        }
        let mut keys = Vec::new();
        for o in exprs {
            if o.with_fill.is_some() {
                return Err(unsupported("WITH FILL"));
            }
            let t = self.output_or_expr(&o.expr)?;
            let sql = match t.ty {
                Some(ty) => self.key(ty, t.sql.clone())?,
                None => t.sql.clone(),
            };
            keys.push(order_key(&sql, &o.options));
        }
        Ok(format!(" ORDER BY {}", keys.join(", ")))
    }

    fn order_by_outputs(&mut self, order: &OrderBy, columns: &[ColumnInfo]) -> Result<String, SqlError> {
        let OrderByKind::Expressions(exprs) = &order.kind else {
            return Err(unsupported("ORDER BY ALL"));
        };
        let mut keys = Vec::new();
        for o in exprs {
            let key = match &o.expr {
                Expr::Value(v) => match &v.value {
                    AstValue::Number(n, _) => {
                        let i: usize = n.parse().unwrap_or(0);
                        if i == 0 || i > columns.len() {
                            return Err(SqlError::error(
                                "42P10",
                                format!("ORDER BY position {n} is not in select list"),
                            ));
                        }
                        if let Some(ty) = columns[i - 1].ty {
                            self.check_comparable(ty)?;
                        }
                        i.to_string()
                    }
                    _ => return Err(unsupported("this ORDER BY of a set operation")),
                },
                Expr::Identifier(id) => {
                    let name = names::ident(id);
                    let col = columns
                        .iter()
                        .find(|c| c.name == name)
                        .ok_or_else(|| SqlError::error("42703", format!("column \"{name}\" does not exist")))?;
                    if let Some(ty) = col.ty {
                        self.check_comparable(ty)?;
                    }
                    quote(&name)
                }
                _ => return Err(unsupported("an expression in ORDER BY of a set operation")),
            };
            keys.push(order_key(&key, &o.options));
        }
        Ok(format!(" ORDER BY {}", keys.join(", ")))
    }

    fn limit(&mut self, limit: &LimitClause) -> Result<String, SqlError> {
        match limit {
            LimitClause::LimitOffset { limit, offset, limit_by } => {
                if !limit_by.is_empty() {
                    return Err(unsupported("LIMIT BY"));
                }
                let mut sql = String::new();
                let limit_sql = match limit {
                    Some(Expr::Value(v)) if v.value == AstValue::Null => "-1".to_owned(),
                    Some(e) => {
                        let t = self.expr(e)?;
                        self.coerce(t, PgType::Int8)?
                    }
                    None => "-1".to_owned(),
                };
                sql.push_str(&format!(" LIMIT {limit_sql}"));
                if let Some(off) = offset {
                    let t = self.expr(&off.value)?;
                    let o = self.coerce(t, PgType::Int8)?;
                    sql.push_str(&format!(" OFFSET {o}"));
                }
                Ok(sql)
            }
            LimitClause::OffsetCommaLimit { .. } => Err(unsupported("LIMIT offset, count")),
        }
    }

    pub(super) fn table_with_joins(&mut self, twj: &TableWithJoins) -> Result<String, SqlError> {
        let mut sql = self.factor(&twj.relation)?;
        for join in &twj.joins {
            sql.push_str(&self.join(join)?);
        }
        Ok(sql)
    }

    fn join(&mut self, join: &Join) -> Result<String, SqlError> {
        let (word, constraint) = match &join.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => ("JOIN", c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => ("LEFT JOIN", c),
            JoinOperator::Right(c) | JoinOperator::RightOuter(c) => ("RIGHT JOIN", c),
            JoinOperator::FullOuter(c) => ("FULL JOIN", c),
            JoinOperator::CrossJoin(c) => ("CROSS JOIN", c),
            other => {
                return Err(unsupported(format!("join {other:?}").split('(').next().unwrap_or("this join").to_owned()))
            }
        };
        let factor = self.factor(&join.relation)?;
        if factor.is_empty() {
            // A LATERAL subquery folded into the query (see lateral_expressions).
            return match constraint {
                JoinConstraint::None => Ok(String::new()),
                JoinConstraint::On(sqlparser::ast::Expr::Value(v)) if v.value == AstValue::Boolean(true) => {
                    Ok(String::new())
                }
                _ => Err(unsupported("this LATERAL join")),
            };
        }
        let on = match constraint {
            JoinConstraint::On(e) => {
                let t = self.expr(e)?;
                format!(" ON {}", self.coerce(t, PgType::Bool)?)
            }
            JoinConstraint::Using(cols) => {
                let names: Vec<String> =
                    cols.iter().map(|c| names::parts(c).map(|p| quote(&p.join(".")))).collect::<Result<_, _>>()?;
                format!(" USING ({})", names.join(", "))
            }
            JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN")),
            JoinConstraint::None => String::new(),
        };
        Ok(format!(" {word} {factor}{on}"))
    }

    /// A FROM item: its SQLite text; its relation joins the innermost scope.
    fn factor(&mut self, f: &TableFactor) -> Result<String, SqlError> {
        match f {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if !with_hints.is_empty()
                    || version.is_some()
                    || (*with_ordinality && args.is_none())
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_hints.is_empty()
                {
                    return Err(unsupported("this FROM clause"));
                }
                if let Some(args) = args {
                    return self.table_function(name, &args.args, alias.as_ref(), *with_ordinality);
                }
                let (schema, rel_name) = names::relation(name)?;
                let (mut rel, sqlite) = self.table(schema.as_deref(), &rel_name, alias.as_ref())?;
                let alias_name = alias.as_ref().map(|a| names::ident(&a.name)).unwrap_or(rel_name.clone());
                if sqlite.starts_with('"') {
                    let oid =
                        crate::sql::pg_catalog::relation_oid(&super::schema::sqlite_name(schema.as_deref(), &rel_name));
                    self.table_oids.push((alias_name.clone(), oid));
                }
                rel.alias = alias_name.clone();
                let originals: Vec<String> = rel.columns.iter().map(|(n, _)| n.clone()).collect();
                if let Some(a) = alias {
                    apply_column_aliases(&mut rel, a)?;
                }
                let sql = match alias {
                    Some(a) if !a.columns.is_empty() => {
                        // Column aliases: a subquery renaming the columns.
                        let cols: Vec<String> = rel
                            .columns
                            .iter()
                            .zip(&originals)
                            .map(|((n, _), original)| format!("{} AS {}", quote(original), quote(n)))
                            .collect();
                        format!("(SELECT {} FROM {}) AS {}", cols.join(", "), sqlite, quote(&alias_name))
                    }
                    _ => format!("{sqlite} AS {}", quote(&alias_name)),
                };
                self.scopes.last_mut().expect("a scope").push(rel);
                Ok(sql)
            }
            TableFactor::Derived { lateral, subquery, alias, sample } => {
                if sample.is_some() {
                    return Err(unsupported("TABLESAMPLE"));
                }
                if *lateral {
                    return self.lateral_expressions(subquery, alias.as_ref());
                }
                if *lateral {
                    return self.lateral_expressions(subquery, alias.as_ref());
                }
                // A non-lateral subquery does not see the FROM items before it.
                let hidden = if *lateral { None } else { self.scopes.pop() };
                let out = self.query(subquery);
                if let Some(h) = hidden {
                    self.scopes.push(h);
                }
                let out = out?;
                let alias_name = alias.as_ref().map(|a| names::ident(&a.name)).unwrap_or_default();
                let mut rel = Rel {
                    exprs: None,
                    alias: alias_name.clone(),
                    columns: out.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                };
                let mut sql = format!("({})", out.sql);
                if let Some(a) = alias {
                    if !a.columns.is_empty() {
                        apply_column_aliases(&mut rel, a)?;
                        let cols: Vec<String> = out
                            .columns
                            .iter()
                            .zip(&rel.columns)
                            .map(|(c, (n, _))| format!("{} AS {}", quote(&c.name), quote(n)))
                            .collect();
                        sql = format!("(SELECT {} FROM {sql})", cols.join(", "));
                    }
                }
                if !alias_name.is_empty() {
                    sql.push_str(&format!(" AS {}", quote(&alias_name)));
                }
                self.scopes.last_mut().expect("a scope").push(rel);
                Ok(sql)
            }
            TableFactor::Function { lateral: _, name, args, with_ordinality, alias } => {
                if *with_ordinality && names::function(name)?.as_deref() != Some("pg_partition_ancestors") {
                    return Err(unsupported("WITH ORDINALITY"));
                }
                let args: Vec<sqlparser::ast::FunctionArg> = args.clone();
                self.table_function(name, &args, alias.as_ref(), *with_ordinality)
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                if alias.is_some() {
                    return Err(unsupported("an alias on a parenthesized join"));
                }
                Ok(format!("({})", self.table_with_joins(table_with_joins)?))
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            } if array_exprs.len() == 1 => self.unnest(&array_exprs[0], alias.as_ref()),
            TableFactor::UNNEST { .. } => Err(unsupported("this form of UNNEST")),
            _ => Err(unsupported("this FROM item")),
        }
    }

    /// `LATERAL (SELECT exprs) AS alias(cols)` with no FROM: SQLite has no LATERAL, but such a subquery is its
    /// expressions, which stand in for its columns wherever they are used. Other LATERAL subqueries: 0A000.
    fn lateral_expressions(&mut self, subquery: &Query, alias: Option<&TableAlias>) -> Result<String, SqlError> {
        let simple = match subquery.body.as_ref() {
            SetExpr::Select(s)
                if s.from.is_empty()
                    && s.selection.is_none()
                    && s.having.is_none()
                    && s.distinct.is_none()
                    && matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
                    && subquery.with.is_none()
                    && subquery.order_by.is_none()
                    && subquery.limit_clause.is_none() =>
            {
                Some(s)
            }
            _ => None,
        };
        let Some(select) = simple else {
            return Err(unsupported("LATERAL subqueries"));
        };
        let mut columns = Vec::new();
        let mut exprs = Vec::new();
        for item in &select.projection {
            let (t, name) = match item {
                SelectItem::UnnamedExpr(e) => {
                    let t = self.expr(e)?;
                    let n = t.name.clone().unwrap_or_else(|| "?column?".into());
                    (t, n)
                }
                SelectItem::ExprWithAlias { expr, alias } => (self.expr(expr)?, names::ident(alias)),
                _ => return Err(unsupported("LATERAL subqueries")),
            };
            columns.push((name, t.ty));
            exprs.push(t.sql);
        }
        let mut rel =
            Rel { alias: alias.map(|a| names::ident(&a.name)).unwrap_or_default(), columns, exprs: Some(exprs) };
        if let Some(a) = alias {
            apply_column_aliases(&mut rel, a)?;
        }
        self.scopes.last_mut().expect("a scope").push(rel);
        Ok(String::new())
    }

    /// A relation by name: a CTE, else a table, view or catalog; its columns and its SQLite text.
    pub fn table(
        &mut self,
        schema: Option<&str>,
        name: &str,
        _alias: Option<&TableAlias>,
    ) -> Result<(Rel, String), SqlError> {
        if schema.is_none() {
            if let Some(cte) = self.ctes.iter().rev().find(|c| c.alias == name) {
                return Ok((cte.clone(), quote(name)));
            }
        }
        if let Some(s) = schema {
            if !self.cx.schema.schema_exists(s)? {
                return Err(SqlError::error("3F000", format!("schema \"{s}\" does not exist")));
            }
        }
        let sqlite = sqlite_name(schema, name);
        let internal = sqlite.starts_with("_pg_") && schema != Some("pg_catalog");
        let columns = if internal { None } else { self.cx.schema.columns(&sqlite)? };
        if columns.is_none() && !internal {
            if let Some(found) = super::restore::sequence_relation(self, &sqlite, name)? {
                return Ok(found);
            }
        }
        let Some(columns) = columns else {
            let shown = match schema {
                Some(s) => format!("{s}.{name}"),
                None => name.to_owned(),
            };
            return Err(SqlError::error("42P01", format!("relation \"{shown}\" does not exist")));
        };
        let rel = Rel {
            exprs: None,
            alias: name.to_owned(),
            columns: columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
        };
        Ok((rel, quote(&sqlite)))
    }

    /// `unnest(array) [AS alias[(column)]]` in FROM: the array's elements in order, one row each.
    fn unnest(&mut self, array: &Expr, alias: Option<&TableAlias>) -> Result<String, SqlError> {
        let t = self.expr(array)?;
        let element = match t.ty {
            Some(ty) if ty.is_array() => ty.element().unwrap_or(PgType::Text),
            Some(PgType::Unknown) | None => return Err(unsupported("unnest of an untyped literal")),
            Some(other) => {
                return Err(SqlError::error("42883", format!("function unnest({}) does not exist", other.sql_name())))
            }
        };
        let alias_name = alias.map(|a| names::ident(&a.name)).unwrap_or_else(|| "unnest".to_owned());
        let col = match alias {
            Some(a) if !a.columns.is_empty() => names::ident(&a.columns[0].name),
            Some(_) => alias_name.clone(),
            None => "unnest".to_owned(),
        };
        if alias.is_some_and(|a| a.columns.len() > 1) {
            return Err(SqlError::error(
                "42601",
                format!(
                    "table \"{alias_name}\" has 1 columns available but {} columns specified",
                    alias.map_or(0, |a| a.columns.len())
                ),
            ));
        }
        let sql = format!(
            "(SELECT value AS {} FROM json_each(pg_array_json({}, '{}')) ORDER BY key) AS {}",
            quote(&col),
            t.sql,
            element.typname(),
            quote(&alias_name)
        );
        self.scopes.last_mut().expect("a scope").push(Rel {
            exprs: None,
            alias: alias_name,
            columns: vec![(col, Some(element))],
        });
        Ok(sql)
    }

    fn table_function(
        &mut self,
        name: &sqlparser::ast::ObjectName,
        args: &[sqlparser::ast::FunctionArg],
        alias: Option<&TableAlias>,
        with_ordinality: bool,
    ) -> Result<String, SqlError> {
        let fname = names::function(name)?.unwrap_or_default();
        if with_ordinality && fname != "pg_partition_ancestors" {
            return Err(unsupported("WITH ORDINALITY"));
        }
        let mut typed = Vec::new();
        for a in args {
            match a {
                sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e)) => {
                    typed.push(self.expr(e)?)
                }
                _ => return Err(unsupported("named arguments")),
            }
        }
        match fname.as_str() {
            // A relation's partition ancestors: itself alone (the host has no partitioned tables), at depth 1.
            "pg_partition_ancestors" if typed.len() == 1 => {
                let r = self.coerce(typed.remove(0), PgType::Regclass)?;
                let mut rel = Rel {
                    alias: alias.map(|a| names::ident(&a.name)).unwrap_or_else(|| fname.clone()),
                    columns: vec![("relid".into(), Some(PgType::Regclass)), ("ordinality".into(), Some(PgType::Int8))],
                    exprs: Some(vec![r, "1".into()]),
                };
                if !with_ordinality {
                    rel.columns.truncate(1);
                }
                if let Some(a) = alias {
                    apply_column_aliases(&mut rel, a)?;
                }
                self.scopes.last_mut().expect("a scope").push(rel);
                Ok(String::new())
            }
            "generate_series" => {
                if !(2..=3).contains(&typed.len()) {
                    return Err(SqlError::error("42883", "function generate_series does not exist"));
                }
                let all: Vec<&Typed> = typed.iter().collect();
                let ty = common_type(&all)?;
                if !ty.is_integer() {
                    return Err(unsupported(format!("generate_series over {}", ty.sql_name())));
                }
                let mut parts = Vec::new();
                for t in typed {
                    parts.push(self.coerce(t, ty)?);
                }
                if parts.len() == 2 {
                    parts.push("1".into());
                }
                let alias_name = alias.map(|a| names::ident(&a.name)).unwrap_or_else(|| "generate_series".to_owned());
                let col = match alias {
                    Some(a) if !a.columns.is_empty() => names::ident(&a.columns[0].name),
                    Some(_) => alias_name.clone(),
                    None => "generate_series".to_owned(),
                };
                let (start, stop, step) = (&parts[0], &parts[1], &parts[2]);
                // Counting up or down by `step` (never 0: 22023), as PostgreSQL's generate_series.
                let sql = format!(
                    "(WITH RECURSIVE _s(v) AS (SELECT CASE WHEN ({step}) = 0 THEN pg_error('22023', 'step size cannot equal zero') ELSE ({start}) END \
                     UNION ALL SELECT v + ({step}) FROM _s WHERE CASE WHEN ({step}) > 0 THEN v + ({step}) <= ({stop}) ELSE v + ({step}) >= ({stop}) END) \
                     SELECT v AS {} FROM _s WHERE CASE WHEN ({step}) > 0 THEN v <= ({stop}) ELSE v >= ({stop}) END) AS {}",
                    quote(&col),
                    quote(&alias_name)
                );
                self.scopes.last_mut().expect("a scope").push(Rel {
                    exprs: None,
                    alias: alias_name,
                    columns: vec![(col, Some(ty))],
                });
                Ok(sql)
            }
            // A `name=value` options array (reloptions, attoptions, ...) as rows of (option_name, option_value).
            "pg_options_to_table" if typed.len() == 1 => {
                let arr = self.coerce(typed.remove(0), PgType::TextArray)?;
                let alias_name = alias.map(|a| names::ident(&a.name)).unwrap_or_else(|| fname.clone());
                let mut rel = Rel {
                    exprs: None,
                    alias: alias_name.clone(),
                    columns: vec![
                        ("option_name".into(), Some(PgType::Text)),
                        ("option_value".into(), Some(PgType::Text)),
                    ],
                };
                if let Some(a) = alias {
                    apply_column_aliases(&mut rel, a)?;
                }
                let sql = format!(
                    "(SELECT CASE WHEN instr(value, '=') > 0 THEN substr(value, 1, instr(value, '=') - 1) ELSE value END AS {}, \
                     CASE WHEN instr(value, '=') > 0 THEN substr(value, instr(value, '=') + 1) END AS {} \
                     FROM json_each(pg_array_json({arr}, 'text')) ORDER BY key) AS {}",
                    quote(&rel.columns[0].0),
                    quote(&rel.columns[1].0),
                    quote(&alias_name)
                );
                self.scopes.last_mut().expect("a scope").push(rel);
                Ok(sql)
            }
            other if super::functions::is_postgres_function(other) => {
                Err(unsupported(format!("function {other}() in FROM")))
            }
            other => Err(SqlError::error("42883", format!("function {other} does not exist")).with_hint(
                "No function matches the given name and argument types. You might need to add explicit type casts.",
            )),
        }
    }
}

/// `oid` and the `reg*` types: all held as the OID's integer.
fn is_oid_like(ty: PgType) -> bool {
    matches!(ty, PgType::Oid | PgType::Regclass | PgType::Regproc | PgType::Regtype | PgType::Regnamespace)
}

/// The arguments of the `_pg_expandarray(...)` calls in `e`.
fn expandarray_args(e: &Expr) -> Vec<Expr> {
    let mut found = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Function(f)
                if f.name.0.last().is_some_and(|p| p.to_string().eq_ignore_ascii_case("_pg_expandarray")) =>
            {
                if let sqlparser::ast::FunctionArguments::List(list) = &f.args {
                    if let [sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(a))] =
                        list.args.as_slice()
                    {
                        found.push(a.clone());
                    }
                }
            }
            Expr::Nested(inner) => stack.push(inner),
            Expr::CompoundFieldAccess { root, .. } => stack.push(root),
            _ => {}
        }
    }
    found
}

/// `key` with PostgreSQL's ordering options: NULLs sort as if larger than any value (last ascending, first
/// descending) unless said otherwise.
fn order_key(key: &str, options: &sqlparser::ast::OrderByOptions) -> String {
    let desc = options.sort == Some(sqlparser::ast::OrderBySort::Desc);
    let nulls_first = options.nulls_first.unwrap_or(desc);
    format!("{key}{}{}", if desc { " DESC" } else { "" }, if nulls_first { " NULLS FIRST" } else { " NULLS LAST" })
}

fn wildcard_column(rel: &Rel, col: &str, ty: Option<PgType>) -> Typed {
    let sql = if rel.alias.is_empty() { quote(col) } else { format!("{}.{}", quote(&rel.alias), quote(col)) };
    Typed { sql, ty: ty.or(Some(PgType::Text)), name: Some(col.to_owned()), lit: Lit::No }
}

fn apply_column_aliases(rel: &mut Rel, alias: &TableAlias) -> Result<(), SqlError> {
    if alias.columns.len() > rel.columns.len() {
        return Err(SqlError::error(
            "42P10",
            format!(
                "table \"{}\" has {} columns available but {} columns specified",
                names::ident(&alias.name),
                rel.columns.len(),
                alias.columns.len()
            ),
        ));
    }
    for (i, c) in alias.columns.iter().enumerate() {
        rel.columns[i].0 = names::ident(&c.name);
    }
    Ok(())
}

fn rename(columns: &[ColumnInfo], names: &[String]) -> Result<Vec<ColumnInfo>, SqlError> {
    if names.len() > columns.len() {
        return Err(SqlError::error("42P10", "WITH query has fewer columns than the names given"));
    }
    Ok(columns
        .iter()
        .enumerate()
        .map(|(i, c)| ColumnInfo { name: names.get(i).cloned().unwrap_or_else(|| c.name.clone()), ty: c.ty })
        .collect())
}
