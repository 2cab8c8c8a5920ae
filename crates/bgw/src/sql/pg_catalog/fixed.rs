//! The catalogs whose rows do not depend on the database: `pg_type` (the host's types, [`PgType`]), `pg_am`,
//! `pg_collation`, `pg_tablespace`, `pg_language` (`internal`, the language of every function of the host), with
//! PostgreSQL 15's OIDs and values.
//!
//! Runs in: a backend process.

use super::relations::{boolean, ch, int, oid, text, Env, Rows, NULL};
use super::{BOOTSTRAP_SUPERUSER, PG_CATALOG_NAMESPACE};
use crate::sql::types::{PgType, TYPES};

/// The collation OIDs `default` (text types) and `C` (`name`).
pub(super) const DEFAULT_COLLATION: u32 = 100;
pub(super) const C_COLLATION: u32 = 950;

/// What `pg_type` says of a type beyond [`crate::sql::types::TypeInfo`].
pub(super) struct Properties {
    pub byval: bool,
    /// `typtype`: `b` base, `p` pseudo-type.
    pub typtype: u8,
    pub preferred: bool,
    /// `typalign`: `c`, `s`, `i`, `d`.
    pub align: u8,
    /// `typstorage`: `p`, `x`, `m`.
    pub storage: u8,
    pub collation: u32,
}

/// PostgreSQL 15's `pg_type` values of `ty`.
pub(super) fn properties(ty: PgType) -> Properties {
    use PgType as T;
    let len = ty.size();
    let byval = matches!(len, 1 | 2 | 4 | 8) && !matches!(ty, T::Record);
    let typtype = if matches!(ty, T::Unknown | T::Void | T::Record) { b'p' } else { b'b' };
    let preferred = matches!(ty, T::Bool | T::Text | T::Oid | T::Float8 | T::Timestamptz | T::Interval);
    let align = match ty {
        _ if ty.is_array() => match ty.element() {
            Some(T::Int8 | T::Float8 | T::Time | T::Timestamp | T::Timestamptz | T::Interval) => b'd',
            _ => b'i',
        },
        T::Bool | T::Char | T::Name | T::Uuid | T::Unknown => b'c',
        T::Int2 => b's',
        T::Int8 | T::Float8 | T::Time | T::Timestamp | T::Timestamptz | T::Interval | T::Record => b'd',
        _ => b'i',
    };
    let storage = match ty {
        T::Numeric => b'm',
        _ if ty.is_array() => b'x',
        T::Text | T::Varchar | T::Bpchar | T::Bytea | T::Json | T::Jsonb | T::Record => b'x',
        _ => b'p',
    };
    let collation = match ty.element().filter(|_| ty.is_array()).unwrap_or(ty) {
        T::Text | T::Varchar | T::Bpchar => DEFAULT_COLLATION,
        T::Name => C_COLLATION,
        _ => 0,
    };
    Properties { byval, typtype, preferred, align, storage, collation }
}

pub(super) fn type_rows(env: &Env) -> Rows {
    Ok(TYPES
        .iter()
        .filter(|info| env.only.is_none_or(|o| o == i64::from(info.oid)))
        .map(|info| {
            let ty = info.ty;
            let props = properties(ty);
            let element = match ty {
                PgType::Name => PgType::Char.oid(),
                _ => ty.element().map_or(0, PgType::oid),
            };
            vec![
                oid(info.oid),
                text(info.typname),
                oid(PG_CATALOG_NAMESPACE),
                oid(BOOTSTRAP_SUPERUSER),
                int(info.len),
                boolean(props.byval),
                ch(props.typtype),
                ch(info.category),
                boolean(props.preferred),
                boolean(true),
                ch(b','),
                oid(0),
                int(0),
                oid(element),
                oid(ty.array().map_or(0, PgType::oid)),
                int(0),
                int(0),
                int(0),
                int(0),
                int(0),
                int(0),
                int(0),
                ch(props.align),
                ch(props.storage),
                boolean(false),
                oid(0),
                int(-1),
                int(0),
                oid(props.collation),
                NULL,
                NULL,
                NULL,
            ]
        })
        .collect())
}

pub(super) fn am_rows(_: &Env) -> Rows {
    Ok([(2, "heap", b't'), (403, "btree", b'i')]
        .into_iter()
        .map(|(id, name, kind)| vec![oid(id), text(name), int(0), ch(kind)])
        .collect())
}

pub(super) fn collation_rows(_: &Env) -> Rows {
    Ok([(DEFAULT_COLLATION, "default", b'd'), (C_COLLATION, "C", b'c')]
        .into_iter()
        .map(|(id, name, provider)| {
            let locale = if provider == b'c' { text("C") } else { NULL };
            vec![
                oid(id),
                text(name),
                oid(PG_CATALOG_NAMESPACE),
                oid(BOOTSTRAP_SUPERUSER),
                ch(provider),
                boolean(true),
                int(-1),
                locale.clone(),
                locale,
                NULL,
                NULL,
            ]
        })
        .collect())
}

pub(super) fn tablespace_rows(_: &Env) -> Rows {
    Ok([(1663, "pg_default"), (1664, "pg_global")]
        .into_iter()
        .map(|(id, name)| vec![oid(id), text(name), oid(BOOTSTRAP_SUPERUSER), NULL, NULL])
        .collect())
}

pub(super) fn language_rows(_: &Env) -> Rows {
    // `internal` (the host's functions) and `c` (CREATE FUNCTION ... LANGUAGE C), with PostgreSQL's OIDs.
    let language = |id: u32, name: &str, validator: u32| {
        vec![
            oid(id),
            text(name),
            oid(BOOTSTRAP_SUPERUSER),
            boolean(false),
            boolean(false),
            oid(0),
            oid(0),
            oid(validator),
            NULL,
        ]
    };
    Ok(vec![language(12, "internal", 0), language(13, "c", 0)])
}
