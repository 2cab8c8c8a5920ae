//! PostgreSQL 15's system catalogs (`pg_catalog`) and the `information_schema` views clients read, computed at
//! each scan from a session's SQLite database and from the host, and the catalog functions their queries call
//! (`format_type`, `pg_get_indexdef`, `pg_table_is_visible`, ...).
//!
//! What a client sees: relation `pg_catalog.X` is the SQLite table `X` (`pg_class`), `information_schema.X` is
//! `information_schema_X`, function `pg_catalog.f` is SQLite function `f` (the translator strips the qualifiers).
//! Each relation is a read-only eponymous virtual table ([`vtab`]) with PostgreSQL 15's columns in PostgreSQL's
//! order, each declared with its PostgreSQL `typname` (`oid`, `name`, `int2`, `char`, `_text`, `int2vector`, ...)
//! so that result columns get their PostgreSQL types. Columns of types the host does not have (`aclitem[]`,
//! `pg_node_tree`, `xid`, `inet`, `anyarray`) are declared `text`; an `information_schema` domain is declared as
//! its base type (`sql_identifier` as `name`, `cardinal_number` as `int4`, `character_data` and `yes_or_no` as
//! `varchar`).
//!
//! Where the rows come from:
//! - the schema ([`model`]): `sqlite_schema`, `pragma_table_xinfo`, `pragma_index_list` / `pragma_index_xinfo`,
//!   `pragma_foreign_key_list`, the `_pg_schemas` table of schemas (a relation `t` of schema `s` is the SQLite
//!   table `s.t`), `sqlite_sequence`; the CHECK constraints and constraint names are read from the `CREATE
//!   TABLE` text with sqlparser;
//! - the host, through [`CatalogSource`]: databases, roles, settings, the host's functions, the session's user.
//!
//! Invariants: nothing here writes; tables named `_pg_*` and `sqlite_*` are internal and never shown; every
//! relation is computed at each scan from the schema as the statement sees it (uncommitted DDL of its own
//! transaction included): the schema's description is kept per thread for the `sqlite_schema` text it was read
//! from, so it is read again only when that text changes, and a scan constrained by `oid = ...` /
//! `attrelid = ...` builds only that relation's rows.
//!
//! OIDs: a user relation's OID is [`relation_oid`] of its SQLite name, a stable hash (the same name gives the same
//! OID in every session and process); two names may collide (about one pair in 4,000 among 1,000 relations), and
//! then two relations share an OID and a lookup by OID may answer for the wrong one. The catalogs themselves keep
//! PostgreSQL's OIDs (`pg_class` is 1259); types have PostgreSQL's OIDs ([`PgType::oid`]); namespaces `pg_catalog`
//! 11, `public` 2200, `information_schema` 13207 (PostgreSQL 15's on Debian; it is assigned at initdb), other
//! schemas a hash of their name.
//!
//! Runs in: a backend process (each client connection installs the catalogs on its SQLite connection).

mod extensions;
mod fixed;
mod format;
mod functions;
mod host;
mod information_schema;
mod model;
mod relations;
#[allow(unsafe_code)] // rusqlite's virtual-table traits are unsafe to implement; reading the schema from a scan
mod vtab;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use rusqlite::Connection;

pub use extensions::{extension_oid, AvailableExtension};

pub use format::{requalified, PG_VIEW_TEXT};
pub use functions::function_type;

use super::error::SqlError;
use super::types::PgType;

/// `pg_catalog`'s namespace OID.
pub const PG_CATALOG_NAMESPACE: u32 = 11;
/// `pg_toast`'s namespace OID.
pub const PG_TOAST_NAMESPACE: u32 = 99;
/// `public`'s namespace OID.
pub const PUBLIC_NAMESPACE: u32 = 2200;
/// `information_schema`'s namespace OID (PostgreSQL assigns it at initdb; this is PostgreSQL 15's on Debian).
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13207;
/// The bootstrap superuser's OID, the owner of every relation (SQLite tables have no owner).
pub const BOOTSTRAP_SUPERUSER: u32 = 10;
/// The role `pg_database_owner`, owner of `public` in PostgreSQL 15.
pub const PG_DATABASE_OWNER: u32 = 6171;

/// A database, as `pg_database` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub oid: u32,
    pub name: String,
    /// The owner's role OID.
    pub owner: u32,
    pub allow_connections: bool,
    pub is_template: bool,
    /// Its comment (`shobj_description`, psql's `\l+`): where a database on a PostgreSQL server lives.
    pub description: Option<String>,
    /// Its size in bytes on disk (`pg_database_size`); None when the host cannot tell (a database on a
    /// PostgreSQL server).
    pub size: Option<i64>,
}

/// A role, as `pg_roles` / `pg_authid` show it (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub can_login: bool,
}

/// A setting, as `pg_settings` shows it (PostgreSQL's columns; None is NULL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingInfo {
    pub name: String,
    pub setting: String,
    pub unit: Option<String>,
    pub category: String,
    pub short_desc: String,
    /// `user`, `superuser`, `sighup`, `postmaster`, `internal`.
    pub context: String,
    /// `bool`, `integer`, `real`, `string`, `enum`.
    pub vartype: String,
    /// `default`, `configuration file`, `session`, ...
    pub source: String,
    pub min_val: Option<String>,
    pub max_val: Option<String>,
    pub enumvals: Option<Vec<String>>,
    pub boot_val: Option<String>,
    pub reset_val: Option<String>,
}

/// A function of the host, as `pg_proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// `pg_catalog` for PostgreSQL's own functions, `public` for the host's and modules'.
    pub schema: String,
    pub name: String,
    pub args: Vec<PgType>,
    pub result: PgType,
    /// For a function of CREATE FUNCTION ... LANGUAGE C: what `pg_proc` says of it beyond the above.
    pub c: Option<CFunctionDetails>,
}

/// `pg_proc`'s columns of a C function (`prolang` is 13, `c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFunctionDetails {
    pub strict: bool,
    /// `v`, `s` or `i`.
    pub volatility: u8,
    /// `prosrc`: the link symbol.
    pub symbol: String,
    /// `probin`: the library as written.
    pub library: String,
    /// The extension whose script created it, if one did (`pg_depend` says it is a member).
    pub extension: Option<String>,
}

/// What the catalogs need from the session and the host (the backend implements it).
pub trait CatalogSource: Send + Sync {
    /// The role the session runs as (`current_user`).
    fn current_user(&self) -> String;
    /// The database the session is connected to.
    fn current_database(&self) -> String;
    /// Whether the session's role is a superuser now.
    fn is_superuser(&self) -> bool;
    /// Every database of the host.
    fn databases(&self) -> Vec<DatabaseInfo>;
    /// Every role of the host.
    fn roles(&self) -> Vec<RoleInfo>;
    /// The settings the session may read, with their values in this session.
    fn settings(&self) -> Vec<SettingInfo>;
    /// The value of one setting in this session (`search_path`), None if the session may not read it.
    fn setting(&self, name: &str) -> Option<String> {
        self.settings().into_iter().find(|s| s.name.eq_ignore_ascii_case(name)).map(|s| s.setting)
    }
    /// The host's SQL functions (not the catalog functions of this module, which are added to `pg_proc` here).
    fn functions(&self) -> Vec<FunctionInfo>;
    /// A catalog function failed with `err`: the caller keeps it whole (SQLite keeps only the message).
    fn function_failed(&self, _err: &SqlError) {}
    /// The extensions the share directory holds (`pg_available_extensions`).
    fn available_extensions(&self) -> Vec<AvailableExtension> {
        Vec::new()
    }
}

/// Installs the catalogs and the catalog functions on `conn` (a client session's connection).
pub fn install(conn: &Connection, source: Arc<dyn CatalogSource>) -> rusqlite::Result<()> {
    vtab::register(conn, &source)?;
    functions::register(conn, source)
}

/// The names of the relations installed (`pg_class`, ..., `information_schema_tables`, ...), as SQLite sees them.
pub fn relation_names() -> impl Iterator<Item = &'static str> {
    relations::ALL.iter().map(|r| r.name)
}

/// PostgreSQL 15's OIDs of the catalogs (clients compare with `'pg_class'::regclass`); those of the views and of
/// `information_schema` are assigned at initdb (these are PostgreSQL 15's on Debian).
const CATALOG_OIDS: &[(&str, u32)] = &[
    ("pg_default_acl", 826),
    ("pg_tablespace", 1213),
    ("pg_type", 1247),
    ("pg_attribute", 1249),
    ("pg_proc", 1255),
    ("pg_class", 1259),
    ("pg_authid", 1260),
    ("pg_auth_members", 1261),
    ("pg_database", 1262),
    ("pg_foreign_server", 1417),
    ("pg_user_mapping", 1418),
    ("pg_sequence", 2224),
    ("pg_foreign_data_wrapper", 2328),
    ("pg_shdescription", 2396),
    ("pg_aggregate", 2600),
    ("pg_am", 2601),
    ("pg_amop", 2602),
    ("pg_amproc", 2603),
    ("pg_cast", 2605),
    ("pg_attrdef", 2604),
    ("pg_constraint", 2606),
    ("pg_conversion", 2607),
    ("pg_depend", 2608),
    ("pg_description", 2609),
    ("pg_index", 2610),
    ("pg_inherits", 2611),
    ("pg_language", 2612),
    ("pg_namespace", 2615),
    ("pg_opclass", 2616),
    ("pg_operator", 2617),
    ("pg_rewrite", 2618),
    ("pg_trigger", 2620),
    ("pg_opfamily", 2753),
    ("pg_largeobject_metadata", 2995),
    ("pg_extension", 3079),
    ("pg_foreign_table", 3118),
    ("pg_policy", 3256),
    ("pg_partitioned_table", 3350),
    ("pg_statistic_ext", 3381),
    ("pg_init_privs", 3394),
    ("pg_collation", 3456),
    ("pg_event_trigger", 3466),
    ("pg_enum", 3501),
    ("pg_range", 3541),
    ("pg_transform", 3576),
    ("pg_shseclabel", 3592),
    ("pg_seclabel", 3596),
    ("pg_ts_dict", 3600),
    ("pg_ts_parser", 3601),
    ("pg_ts_config", 3602),
    ("pg_ts_template", 3764),
    ("pg_subscription", 6100),
    ("pg_publication", 6104),
    ("pg_publication_rel", 6106),
    ("pg_publication_namespace", 6237),
    ("pg_roles", 12000),
    ("pg_user", 12014),
    ("pg_views", 12028),
    ("pg_tables", 12033),
    ("pg_indexes", 12043),
    ("pg_seclabels", 12099),
    ("pg_settings", 12104),
    ("information_schema_columns", 13295),
    ("information_schema_key_column_usage", 13329),
    ("information_schema_schemata", 13382),
    ("information_schema_table_constraints", 13411),
    ("information_schema_tables", 13425),
];

/// The OID of the relation SQLite knows as `sqlite_name`: PostgreSQL's for the catalogs that have a well-known
/// one, else a stable hash of the name into `16384 ..= 2^31 - 1` (FNV-1a, 32 bits). Different names may collide
/// (with n relations, about n²/2^32 pairs); a collision makes two relations share an OID.
pub fn relation_oid(sqlite_name: &str) -> u32 {
    if let Some((_, oid)) = CATALOG_OIDS.iter().find(|(name, _)| *name == sqlite_name) {
        return *oid;
    }
    hashed_oid(sqlite_name.as_bytes())
}

/// A stable hash of `key` into `16384 ..= 2^31 - 1`.
pub(crate) fn hashed_oid(key: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const FIRST: u32 = 16384;
    const SPAN: u32 = (1 << 31) - FIRST;
    FIRST + hash % SPAN
}

/// The OID of schema `name`.
pub fn namespace_oid(name: &str) -> u32 {
    match name {
        "pg_catalog" => PG_CATALOG_NAMESPACE,
        "pg_toast" => PG_TOAST_NAMESPACE,
        "public" => PUBLIC_NAMESPACE,
        "information_schema" => INFORMATION_SCHEMA_NAMESPACE,
        _ => hashed_oid(format!("namespace\0{name}").as_bytes()),
    }
}
