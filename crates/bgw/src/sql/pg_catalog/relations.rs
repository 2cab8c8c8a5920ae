//! The relations: each one's PostgreSQL 15 columns and how its rows are computed ([`ALL`]), and the catalogs of
//! the schema itself (`pg_namespace`, `pg_class`, `pg_attribute`, `pg_attrdef`, `pg_index`, `pg_constraint`,
//! `pg_sequence`, and the views `pg_tables`, `pg_views`, `pg_indexes`).
//!
//! Values follow the storage table of [`crate::sql::types`]: `oid` and integers as integers, `bool` 0/1, `char`
//! as a one-character text (PostgreSQL's `'\0'` as the empty text), arrays as PostgreSQL's array literal text
//! (`{1,2}`), `int2vector` / `oidvector` as their space-separated text (`1 2`).
//!
//! Runs in: a backend process.

use rusqlite::Connection;

use super::model::{self, Key, Model, Table};
use super::{fixed, format, host, information_schema, CatalogSource, BOOTSTRAP_SUPERUSER};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// What a scan computes its rows from.
pub(super) struct Env<'a> {
    pub conn: &'a Connection,
    pub source: &'a dyn CatalogSource,
    /// The value of the key column the scan is constrained to, if it is.
    pub only: Option<i64>,
}

impl Env<'_> {
    /// The schema.
    pub fn model(&self) -> Result<std::rc::Rc<Model>, SqlError> {
        model::read(self.conn).map_err(crate::sql::sqlite::from_rusqlite)
    }
}

pub(super) type Rows = Result<Vec<Vec<Value>>, SqlError>;

/// A relation.
pub(super) struct Relation {
    /// Its SQLite name (`pg_class`, `information_schema_tables`).
    pub name: &'static str,
    /// `r` (a catalog) or `v` (a view).
    pub kind: u8,
    /// PostgreSQL 15's columns in order: `name typname, ...` (types the host does not have are declared text).
    pub columns: &'static str,
    /// The column a scan constrained by `= value` passes the value of (the relation OID the rows belong to).
    pub key: Option<usize>,
    pub rows: fn(&Env) -> Rows,
}

impl Relation {
    /// The columns' names and declared types.
    pub fn column_list(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        self.columns.split(", ").map(|column| {
            let (name, ty) = column.split_once(' ').unwrap_or((column, "text"));
            let known = PgType::from_decltype(ty).is_some_and(|t| t.typname() == ty.split('(').next().unwrap_or(ty));
            (name, if known { ty } else { "text" })
        })
    }

    /// The schema it belongs to.
    pub fn schema(&self) -> &'static str {
        if self.name.starts_with("information_schema_") {
            "information_schema"
        } else {
            "pg_catalog"
        }
    }

    /// Its name in its schema.
    pub fn pg_name(&self) -> &'static str {
        self.name.strip_prefix("information_schema_").unwrap_or(self.name)
    }
}

/// No rows: a catalog of something the host does not have.
pub(super) fn none(_: &Env) -> Rows {
    Ok(Vec::new())
}

macro_rules! relation {
    ($name:literal, $kind:literal, $key:expr, $rows:path, $columns:literal) => {
        Relation { name: $name, kind: $kind, columns: $columns, key: $key, rows: $rows }
    };
}

/// Every relation.
pub(super) const ALL: &[Relation] = &[
    relation!("pg_namespace", b'r', Some(0), namespace_rows, "oid oid, nspname name, nspowner oid, nspacl _aclitem"),
    relation!(
        "pg_class",
        b'r',
        Some(0),
        class_rows,
        "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, \
         relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, relhasindex bool, \
         relisshared bool, relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool, \
         relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, \
         relreplident char, relispartition bool, relrewrite oid, relfrozenxid xid, relminmxid xid, relacl _aclitem, \
         reloptions _text, relpartbound pg_node_tree"
    ),
    relation!(
        "pg_attribute",
        b'r',
        Some(0),
        attribute_rows,
        "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, \
         attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, \
         attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, \
         attislocal bool, attinhcount int4, attcollation oid, attacl _aclitem, attoptions _text, attfdwoptions _text, \
         attmissingval anyarray"
    ),
    relation!("pg_attrdef", b'r', Some(1), attrdef_rows, "oid oid, adrelid oid, adnum int2, adbin pg_node_tree"),
    relation!(
        "pg_index",
        b'r',
        Some(1),
        index_rows,
        "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, \
         indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, \
         indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2vector, \
         indcollation oidvector, indclass oidvector, indoption int2vector, indexprs pg_node_tree, indpred pg_node_tree"
    ),
    relation!(
        "pg_constraint",
        b'r',
        Some(7),
        constraint_rows,
        "oid oid, conname name, connamespace oid, contype char, condeferrable bool, condeferred bool, \
         convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, \
         confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, \
         connoinherit bool, conkey _int2, confkey _int2, conpfeqop _oid, conppeqop _oid, conffeqop _oid, \
         confdelsetcols _int2, conexclop _oid, conbin pg_node_tree"
    ),
    relation!(
        "pg_sequence",
        b'r',
        None,
        sequence_rows,
        "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, \
         seqcycle bool"
    ),
    relation!(
        "pg_tables",
        b'v',
        None,
        tables_rows,
        "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, \
         hastriggers bool, rowsecurity bool"
    ),
    relation!("pg_views", b'v', None, views_rows, "schemaname name, viewname name, viewowner name, definition text"),
    relation!(
        "pg_indexes",
        b'v',
        None,
        indexes_rows,
        "schemaname name, tablename name, indexname name, tablespace name, indexdef text"
    ),
    relation!(
        "pg_type",
        b'r',
        Some(0),
        fixed::type_rows,
        "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, \
         typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, typsubscript regproc, \
         typelem oid, typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc, \
         typmodin regproc, typmodout regproc, typanalyze regproc, typalign char, typstorage char, typnotnull bool, \
         typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin pg_node_tree, \
         typdefault text, typacl _aclitem"
    ),
    relation!("pg_am", b'r', None, fixed::am_rows, "oid oid, amname name, amhandler regproc, amtype char"),
    relation!(
        "pg_collation",
        b'r',
        None,
        fixed::collation_rows,
        "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, collisdeterministic bool, \
         collencoding int4, collcollate text, collctype text, colliculocale text, collversion text"
    ),
    relation!(
        "pg_tablespace",
        b'r',
        None,
        fixed::tablespace_rows,
        "oid oid, spcname name, spcowner oid, spcacl _aclitem, spcoptions _text"
    ),
    relation!(
        "pg_database",
        b'r',
        Some(0),
        host::database_rows,
        "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, \
         datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid, datcollate text, \
         datctype text, daticulocale text, datcollversion text, datacl _aclitem"
    ),
    relation!(
        "pg_authid",
        b'r',
        Some(0),
        host::authid_rows,
        "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, \
         rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, \
         rolvaliduntil timestamptz"
    ),
    relation!(
        "pg_roles",
        b'v',
        Some(12),
        host::roles_rows,
        "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, \
         rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, \
         rolconfig _text, oid oid"
    ),
    relation!(
        "pg_user",
        b'v',
        Some(1),
        host::user_rows,
        "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, passwd text, \
         valuntil timestamptz, useconfig _text"
    ),
    relation!("pg_auth_members", b'r', None, none, "roleid oid, member oid, grantor oid, admin_option bool"),
    relation!(
        "pg_settings",
        b'v',
        None,
        host::settings_rows,
        "name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, \
         vartype text, source text, min_val text, max_val text, enumvals _text, boot_val text, reset_val text, \
         sourcefile text, sourceline int4, pending_restart bool"
    ),
    relation!(
        "pg_proc",
        b'r',
        Some(0),
        host::proc_rows,
        "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4, \
         provariadic oid, prosupport regproc, prokind char, prosecdef bool, proleakproof bool, proisstrict bool, \
         proretset bool, provolatile char, proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, \
         proargtypes oidvector, proallargtypes _oid, proargmodes _char, proargnames _text, \
         proargdefaults pg_node_tree, protrftypes _oid, prosrc text, probin text, prosqlbody pg_node_tree, \
         proconfig _text, proacl _aclitem"
    ),
    relation!(
        "pg_extension",
        b'r',
        None,
        super::extensions::extension_rows,
        "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text, \
         extconfig _oid, extcondition _text"
    ),
    relation!(
        "pg_description",
        b'r',
        None,
        description_rows,
        "objoid oid, classoid oid, objsubid int4, description text"
    ),
    relation!(
        "pg_available_extensions",
        b'v',
        None,
        super::extensions::available_rows,
        "name name, default_version text, installed_version text, comment text"
    ),
    relation!(
        "pg_available_extension_versions",
        b'v',
        None,
        super::extensions::available_version_rows,
        "name name, version text, installed bool, superuser bool, trusted bool, relocatable bool, schema name, \
         requires _name, comment text"
    ),
    relation!("pg_shdescription", b'r', None, none, "objoid oid, classoid oid, description text"),
    relation!("pg_inherits", b'r', None, none, "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool"),
    relation!(
        "pg_partitioned_table",
        b'r',
        None,
        none,
        "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs int2vector, partclass oidvector, \
         partcollation oidvector, partexprs pg_node_tree"
    ),
    relation!(
        "pg_trigger",
        b'r',
        None,
        none,
        "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled char, \
         tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, \
         tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs bytea, tgqual pg_node_tree, tgoldtable name, \
         tgnewtable name"
    ),
    relation!(
        "pg_policy",
        b'r',
        None,
        none,
        "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles _oid, polqual pg_node_tree, \
         polwithcheck pg_node_tree"
    ),
    relation!(
        "pg_statistic_ext",
        b'r',
        None,
        none,
        "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4, \
         stxkeys int2vector, stxkind _char, stxexprs pg_node_tree"
    ),
    relation!(
        "pg_publication",
        b'r',
        None,
        none,
        "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, \
         pubtruncate bool, pubviaroot bool"
    ),
    relation!(
        "pg_publication_rel",
        b'r',
        None,
        none,
        "oid oid, prpubid oid, prrelid oid, prqual pg_node_tree, prattrs int2vector"
    ),
    relation!("pg_publication_namespace", b'r', None, none, "oid oid, pnpubid oid, pnnspid oid"),
    relation!("pg_foreign_table", b'r', None, none, "ftrelid oid, ftserver oid, ftoptions _text"),
    relation!(
        "pg_foreign_server",
        b'r',
        None,
        none,
        "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl _aclitem, \
         srvoptions _text"
    ),
    relation!(
        "pg_foreign_data_wrapper",
        b'r',
        None,
        none,
        "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl _aclitem, fdwoptions _text"
    ),
    relation!(
        "pg_depend",
        b'r',
        None,
        depend_rows,
        "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char"
    ),
    relation!(
        "pg_rewrite",
        b'r',
        None,
        rewrite_rows,
        "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, \
         ev_qual pg_node_tree, ev_action pg_node_tree"
    ),
    relation!("pg_enum", b'r', None, none, "oid oid, enumtypid oid, enumsortorder float4, enumlabel name"),
    relation!(
        "pg_event_trigger",
        b'r',
        None,
        none,
        "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled char, evttags _text"
    ),
    relation!(
        "pg_default_acl",
        b'r',
        None,
        none,
        "oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl _aclitem"
    ),
    relation!(
        "pg_init_privs",
        b'r',
        None,
        init_privs_rows,
        "objoid oid, classoid oid, objsubid int4, privtype char, initprivs _aclitem"
    ),
    relation!("pg_seclabel", b'r', None, none, "objoid oid, classoid oid, objsubid int4, provider text, label text"),
    relation!("pg_shseclabel", b'r', None, none, "objoid oid, classoid oid, provider text, label text"),
    relation!("pg_user_mapping", b'r', None, none, "oid oid, umuser oid, umserver oid, umoptions _text"),
    relation!(
        "pg_subscription",
        b'r',
        None,
        none,
        "oid oid, subdbid oid, subskiplsn pg_lsn, subname name, subowner oid, subenabled bool, subbinary bool, \
         substream bool, subtwophasestate char, subdisableonerr bool, subconninfo text, subslotname name, \
         subsynccommit text, subpublications _text"
    ),
    relation!(
        "pg_language",
        b'r',
        Some(0),
        fixed::language_rows,
        "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool, lanplcallfoid oid, laninline oid, \
         lanvalidator oid, lanacl _aclitem"
    ),
    relation!(
        "pg_range",
        b'r',
        None,
        none,
        "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, rngcanonical regproc, \
         rngsubdiff regproc"
    ),
    relation!(
        "pg_conversion",
        b'r',
        None,
        none,
        "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, contoencoding int4, \
         conproc regproc, condefault bool"
    ),
    relation!(
        "pg_ts_config",
        b'r',
        None,
        none,
        "oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid"
    ),
    relation!(
        "pg_ts_dict",
        b'r',
        None,
        none,
        "oid oid, dictname name, dictnamespace oid, dictowner oid, dicttemplate oid, dictinitoption text"
    ),
    // Operators, operator classes and families, casts, transforms and aggregates: the host defines none of its
    // own (PostgreSQL's built-in ones are not listed).
    relation!(
        "pg_operator",
        b'r',
        None,
        none,
        "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprcanmerge bool, oprcanhash bool, \
         oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, oprcode regproc, oprrest regproc, \
         oprjoin regproc"
    ),
    relation!(
        "pg_opclass",
        b'r',
        None,
        none,
        "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, opcintype oid, \
         opcdefault bool, opckeytype oid"
    ),
    relation!("pg_opfamily", b'r', None, none, "oid oid, opfmethod oid, opfname name, opfnamespace oid, opfowner oid"),
    relation!(
        "pg_amop",
        b'r',
        None,
        none,
        "oid oid, amopfamily oid, amoplefttype oid, amoprighttype oid, amopstrategy int2, amoppurpose char, \
         amopopr oid, amopmethod oid, amopsortfamily oid"
    ),
    relation!(
        "pg_amproc",
        b'r',
        None,
        none,
        "oid oid, amprocfamily oid, amproclefttype oid, amprocrighttype oid, amprocnum int2, amproc regproc"
    ),
    relation!(
        "pg_cast",
        b'r',
        None,
        none,
        "oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char"
    ),
    relation!("pg_transform", b'r', None, none, "oid oid, trftype oid, trflang oid, trffromsql regproc, trftosql regproc"),
    relation!(
        "pg_aggregate",
        b'r',
        None,
        none,
        "aggfnoid regproc, aggkind char, aggnumdirectargs int2, aggtransfn regproc, aggfinalfn regproc, \
         aggcombinefn regproc, aggserialfn regproc, aggdeserialfn regproc, aggmtransfn regproc, \
         aggminvtransfn regproc, aggmfinalfn regproc, aggfinalextra bool, aggmfinalextra bool, aggfinalmodify char, \
         aggmfinalmodify char, aggsortop oid, aggtranstype oid, aggtransspace int4, aggmtranstype oid, \
         aggmtransspace int4, agginitval text, aggminitval text"
    ),
    relation!("pg_largeobject_metadata", b'r', None, none, "oid oid, lomowner oid, lomacl _aclitem"),
    relation!(
        "pg_ts_parser",
        b'r',
        None,
        none,
        "oid oid, prsname name, prsnamespace oid, prsstart regproc, prstoken regproc, prsend regproc, \
         prsheadline regproc, prslextype regproc"
    ),
    relation!(
        "pg_ts_template",
        b'r',
        None,
        none,
        "oid oid, tmplname name, tmplnamespace oid, tmplinit regproc, tmpllexize regproc"
    ),
    relation!(
        "pg_seclabels",
        b'v',
        None,
        none,
        "objoid oid, classoid oid, objsubid int4, objtype text, objnamespace oid, objname text, provider text, \
         label text"
    ),
    relation!(
        "information_schema_schemata",
        b'v',
        None,
        information_schema::schemata_rows,
        "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, \
         default_character_set_schema name, default_character_set_name name, sql_path varchar"
    ),
    relation!(
        "information_schema_tables",
        b'v',
        None,
        information_schema::tables_rows,
        "table_catalog name, table_schema name, table_name name, table_type varchar, \
         self_referencing_column_name name, reference_generation varchar, user_defined_type_catalog name, \
         user_defined_type_schema name, user_defined_type_name name, is_insertable_into varchar, is_typed varchar, \
         commit_action varchar"
    ),
    relation!(
        "information_schema_columns",
        b'v',
        None,
        information_schema::columns_rows,
        "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, \
         column_default varchar, is_nullable varchar, data_type varchar, character_maximum_length int4, \
         character_octet_length int4, numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, \
         datetime_precision int4, interval_type varchar, interval_precision int4, character_set_catalog name, \
         character_set_schema name, character_set_name name, collation_catalog name, collation_schema name, \
         collation_name name, domain_catalog name, domain_schema name, domain_name name, udt_catalog name, \
         udt_schema name, udt_name name, scope_catalog name, scope_schema name, scope_name name, \
         maximum_cardinality int4, dtd_identifier name, is_self_referencing varchar, is_identity varchar, \
         identity_generation varchar, identity_start varchar, identity_increment varchar, identity_maximum varchar, \
         identity_minimum varchar, identity_cycle varchar, is_generated varchar, generation_expression varchar, \
         is_updatable varchar"
    ),
    relation!(
        "information_schema_table_constraints",
        b'v',
        None,
        information_schema::table_constraints_rows,
        "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, \
         table_schema name, table_name name, constraint_type varchar, is_deferrable varchar, \
         initially_deferred varchar, enforced varchar, nulls_distinct varchar"
    ),
    relation!(
        "information_schema_key_column_usage",
        b'v',
        None,
        information_schema::key_column_usage_rows,
        "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, \
         table_schema name, table_name name, column_name name, ordinal_position int4, \
         position_in_unique_constraint int4"
    ),
];

// --- values ---

pub(super) fn oid(v: u32) -> Value {
    Value::Integer(v.into())
}

pub(super) fn int(v: impl Into<i64>) -> Value {
    Value::Integer(v.into())
}

pub(super) fn boolean(v: bool) -> Value {
    Value::Integer(v.into())
}

pub(super) fn text(v: impl Into<String>) -> Value {
    Value::Text(v.into())
}

pub(super) fn opt_text(v: Option<impl Into<String>>) -> Value {
    v.map_or(Value::Null, |v| Value::Text(v.into()))
}

/// A `"char"` value (`b'\0'` is the empty text, as PostgreSQL prints it).
pub(super) fn ch(v: u8) -> Value {
    Value::Text(if v == 0 { String::new() } else { char::from(v).to_string() })
}

pub(super) const NULL: Value = Value::Null;

/// PostgreSQL's array literal of plain elements (`{1,2}`).
pub(super) fn array<T: ToString>(items: impl IntoIterator<Item = T>) -> Value {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    Value::Text(format!("{{{}}}", items.join(",")))
}

/// An `int2vector` / `oidvector` (`1 2`).
pub(super) fn vector<T: ToString>(items: impl IntoIterator<Item = T>) -> Value {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    Value::Text(items.join(" "))
}

fn wanted(env: &Env, oid: u32) -> bool {
    env.only.is_none_or(|o| o == i64::from(oid))
}

// --- the schema's catalogs ---

fn namespace_rows(env: &Env) -> Rows {
    let namespaces = model::namespaces(env.conn).map_err(crate::sql::sqlite::from_rusqlite)?;
    Ok(namespaces
        .into_iter()
        .map(|n| {
            let acl = if n.name == "public" { text(PUBLIC_ACL) } else { NULL };
            vec![oid(n.oid), text(n.name), oid(n.owner), acl]
        })
        .collect())
}

/// The privileges of schema `public` (PostgreSQL 15's, from initdb: its owner may use and create, everyone may
/// use it).
const PUBLIC_ACL: &str = "{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}";

/// `pg_class`, `pg_attrdef` and `pg_rewrite`'s own OIDs, as `classid` / `refclassid`.
const PG_CLASS: u32 = 1259;
const PG_ATTRDEF: u32 = 2604;
const PG_REWRITE: u32 = 2618;
const PG_NAMESPACE: u32 = 2615;
const PG_PROC: u32 = 1255;

/// The OID of a view's `_RETURN` rule.
fn rule_oid(view: &Table) -> u32 {
    super::hashed_oid(format!("rule\0{}", view.sqlite_name).as_bytes())
}

/// The OID of a column's default.
fn attrdef_oid(t: &Table, num: i16) -> u32 {
    super::hashed_oid(format!("attrdef\0{}\0{}", t.sqlite_name, num).as_bytes())
}

/// The dependencies `pg_dump` orders its output by: a serial key's sequence is owned by its column (`a`) and
/// the column's default uses the sequence (`n`); a view's `_RETURN` rule belongs to the view (`i`) and uses the
/// relations its query reads (`n`); the host's functions in `public` are internal to it (`i`).
fn depend_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let dep = |classid: u32, objid: u32, refobjid: u32, refobjsubid: i16, deptype: u8| {
        vec![oid(classid), oid(objid), int(0), oid(PG_CLASS), oid(refobjid), int(refobjsubid), ch(deptype)]
    };
    let mut rows = Vec::new();
    for (t, c) in model::serial_sequences(&model) {
        let seq = model::sequence_oid(&t.sqlite_name);
        rows.push(dep(PG_CLASS, seq, t.oid, c.num, b'a'));
        rows.push(dep(PG_ATTRDEF, attrdef_oid(t, c.num), seq, 0, b'n'));
    }
    // The host's and modules' functions in `public` come with the host, in every database: internal parts of
    // the schema, not objects of the database (`pg_dump` skips functions with an internal dependency, as
    // PostgreSQL's own internal functions).
    // C functions (CREATE FUNCTION ... LANGUAGE C) are the database's own: members of their extension, if any.
    rows.extend(super::extensions::member_depend_rows(env, &model));
    for f in host::all_functions(env.source).iter().filter(|f| f.schema == "public" && f.c.is_none()) {
        rows.push(vec![
            oid(PG_PROC),
            oid(host::function_oid(f)),
            int(0),
            oid(PG_NAMESPACE),
            oid(super::PUBLIC_NAMESPACE),
            int(0),
            ch(b'i'),
        ]);
    }
    for view in model.tables.iter().filter(|t| t.kind == b'v' && !t.sql.is_empty()) {
        let rule = rule_oid(view);
        rows.push(dep(PG_REWRITE, rule, view.oid, 0, b'i'));
        for read in model::view_reads(&view.sql) {
            if let Some(t) = model.table_by_sqlite_name(&read).filter(|t| t.oid != view.oid && !t.sql.is_empty()) {
                rows.push(dep(PG_REWRITE, rule, t.oid, 0, b'n'));
            }
        }
    }
    Ok(rows)
}

/// Each user view's `_RETURN` rule (its query is not shown: `pg_node_tree` is PostgreSQL's internal form).
fn rewrite_rows(env: &Env) -> Rows {
    let model = env.model()?;
    Ok(model
        .tables
        .iter()
        .filter(|t| t.kind == b'v' && !t.sql.is_empty())
        .map(|v| {
            vec![oid(rule_oid(v)), text("_RETURN"), oid(v.oid), ch(b'1'), ch(b'O'), boolean(true), text("<>"), NULL]
        })
        .collect())
}

/// The one comment the host has: schema `public`'s, as initdb gives it.
fn description_rows(env: &Env) -> Rows {
    let mut rows = vec![vec![oid(super::PUBLIC_NAMESPACE), oid(PG_NAMESPACE), int(0), text("standard public schema")]];
    rows.extend(super::extensions::description_rows(env.conn));
    Ok(rows)
}

/// The initial privileges of schema `public` (those of initdb, which `pg_dump` compares with).
fn init_privs_rows(_env: &Env) -> Rows {
    Ok(vec![vec![oid(super::PUBLIC_NAMESPACE), oid(PG_NAMESPACE), int(0), ch(b'i'), text(PUBLIC_ACL)]])
}

fn class_row(t: &Table) -> Vec<Value> {
    let table = t.kind == b'r';
    // PostgreSQL enforces foreign keys with (internal) triggers on both tables; SQLite's triggers are triggers.
    let triggers = table && (t.has_triggers || !t.foreign_keys.is_empty());
    vec![
        oid(t.oid),
        text(t.name.clone()),
        oid(t.namespace),
        oid(0),
        oid(0),
        oid(BOOTSTRAP_SUPERUSER),
        oid(if table { 2 } else { 0 }),
        oid(if table { t.oid } else { 0 }),
        oid(0),
        int(0),
        Value::Real(-1.0),
        int(0),
        oid(0),
        boolean(!t.indexes.is_empty()),
        boolean(false),
        ch(b'p'),
        ch(t.kind),
        int(i64::try_from(t.columns.len()).unwrap_or(0)),
        int(i64::try_from(t.checks.len()).unwrap_or(0)),
        boolean(false),
        boolean(triggers),
        boolean(false),
        boolean(false),
        boolean(false),
        boolean(true),
        ch(if table { b'd' } else { b'n' }),
        boolean(false),
        oid(0),
        text("0"),
        text(if table { "1" } else { "0" }),
        NULL,
        NULL,
        NULL,
    ]
}

fn class_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in &model.tables {
        if wanted(env, t.oid) {
            rows.push(class_row(t));
        }
        for index in &t.indexes {
            if !wanted(env, index.oid) {
                continue;
            }
            let mut row = class_row(t);
            row[0] = oid(index.oid);
            row[1] = text(index.name.clone());
            row[6] = oid(403);
            row[7] = oid(index.oid);
            row[13] = boolean(false);
            row[16] = ch(b'i');
            row[17] = int(i64::try_from(index.keys.len()).unwrap_or(0));
            row[18] = int(0);
            row[25] = ch(b'n');
            row[29] = text("0");
            rows.push(row);
        }
    }
    // The sequences of serial keys, named as PostgreSQL names a serial column's.
    for (t, column) in model::serial_sequences(&model) {
        let seq_oid = model::sequence_oid(&t.sqlite_name);
        if !wanted(env, seq_oid) {
            continue;
        }
        let mut row = class_row(t);
        row[0] = oid(seq_oid);
        row[1] = text(model::sequence_name(t, column));
        row[6] = oid(0);
        row[7] = oid(seq_oid);
        row[13] = boolean(false);
        row[16] = ch(b'S');
        row[17] = int(3);
        row[18] = int(0);
        row[20] = boolean(false);
        row[25] = ch(b'n');
        rows.push(row);
    }
    Ok(rows)
}

/// `pg_type`'s columns of a type, as `pg_attribute` repeats them: (typlen, typbyval, typalign, typstorage,
/// collation).
fn type_storage(ty: PgType) -> (i16, bool, u8, u8, u32) {
    let props = fixed::properties(ty);
    (ty.size(), props.byval, props.align, props.storage, props.collation)
}

/// A row of `pg_attribute`.
fn attribute_row(relation: u32, c: &model::Column, attnum: i16, table_column: bool) -> Vec<Value> {
    let (len, byval, align, storage, collation) = type_storage(c.ty);
    vec![
        oid(relation),
        text(c.name.clone()),
        oid(c.ty.oid()),
        int(-1),
        int(len),
        int(attnum),
        int(i32::from(c.ty.is_array())),
        int(-1),
        int(c.typmod),
        boolean(byval),
        ch(align),
        ch(storage),
        ch(0),
        boolean(table_column && c.not_null),
        boolean(table_column && c.default.is_some()),
        boolean(false),
        ch(0),
        ch(if table_column && c.generated { b's' } else { 0 }),
        boolean(false),
        boolean(true),
        int(0),
        oid(collation),
        NULL,
        NULL,
        NULL,
        NULL,
    ]
}

fn attribute_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in &model.tables {
        if wanted(env, t.oid) {
            rows.extend(t.columns.iter().map(|c| attribute_row(t.oid, c, c.num, true)));
        }
        // An index's columns are its keys (an expression key is named `expr`, typed text).
        for i in t.indexes.iter().filter(|i| wanted(env, i.oid)) {
            let mut expressions = 0;
            for (position, key) in i.keys.iter().enumerate() {
                let column = match key {
                    Key::Column(n, _) => t.columns.iter().find(|c| c.num == *n).cloned(),
                    Key::Expression => None,
                };
                let column = column.unwrap_or_else(|| {
                    let name = if expressions == 0 { "expr".to_owned() } else { format!("expr{expressions}") };
                    expressions += 1;
                    model::Column {
                        num: 0,
                        name,
                        ty: PgType::Text,
                        typmod: -1,
                        not_null: false,
                        default: None,
                        generated: false,
                    }
                });
                let attnum = i16::try_from(position + 1).unwrap_or(i16::MAX);
                rows.push(attribute_row(i.oid, &column, attnum, false));
            }
        }
    }
    Ok(rows)
}

fn attrdef_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in model.tables.iter().filter(|t| wanted(env, t.oid)) {
        for c in &t.columns {
            if let Some(default) = &c.default {
                rows.push(vec![oid(attrdef_oid(t, c.num)), oid(t.oid), int(c.num), text(default.clone())]);
            }
        }
    }
    Ok(rows)
}

fn index_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in model.tables.iter().filter(|t| wanted(env, t.oid)) {
        for i in &t.indexes {
            let attnums = i.keys.iter().map(|k| match k {
                Key::Column(n, _) => *n,
                Key::Expression => 0,
            });
            let collations = i.keys.iter().map(|k| match k {
                Key::Column(n, _) => t.columns.iter().find(|c| c.num == *n).map_or(0, |c| type_storage(c.ty).4),
                Key::Expression => 0,
            });
            let options = i.keys.iter().map(|k| match k {
                Key::Column(_, true) => 3,
                _ => 0,
            });
            let n = int(i64::try_from(i.keys.len()).unwrap_or(0));
            rows.push(vec![
                oid(i.oid),
                oid(t.oid),
                n.clone(),
                n,
                boolean(i.unique),
                boolean(false),
                boolean(i.primary),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(false),
                boolean(true),
                boolean(true),
                boolean(false),
                vector(attnums),
                vector(collations),
                vector(i.keys.iter().map(|_| 0)),
                vector(options),
                NULL,
                opt_text(i.sql.as_deref().filter(|_| i.partial).and_then(format::where_clause)),
            ]);
        }
    }
    Ok(rows)
}

fn constraint_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in model.tables.iter().filter(|t| wanted(env, t.oid)) {
        let base = |con_oid: u32, name: &str, kind: u8| {
            let mut row = vec![
                oid(con_oid),
                text(name),
                oid(t.namespace),
                ch(kind),
                boolean(false),
                boolean(false),
                boolean(true),
                oid(t.oid),
                oid(0),
                oid(0),
                oid(0),
                oid(0),
                ch(b' '),
                ch(b' '),
                ch(b' '),
                boolean(true),
                int(0),
                boolean(false),
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
            ];
            row.shrink_to_fit();
            row
        };
        for i in &t.indexes {
            let Some((name, con_oid)) = &i.constraint else { continue };
            let mut row = base(*con_oid, name, if i.primary { b'p' } else { b'u' });
            row[9] = oid(i.oid);
            row[18] = array(i.keys.iter().filter_map(|k| match k {
                Key::Column(n, _) => Some(*n),
                Key::Expression => None,
            }));
            rows.push(row);
        }
        for fk in &t.foreign_keys {
            let mut row = base(fk.oid, &fk.name, b'f');
            let referenced = model.table_by_sqlite_name(&fk.referenced);
            row[11] = oid(referenced.map_or_else(|| super::relation_oid(&fk.referenced), |r| r.oid));
            row[12] = ch(fk.on_update);
            row[13] = ch(fk.on_delete);
            row[14] = ch(b's');
            row[18] = array(fk.columns.iter());
            let ref_nums = referenced_attnums(&model, &fk.referenced, &fk.referenced_columns);
            row[19] = array(ref_nums.iter());
            row[9] = oid(referenced_index(&model, &fk.referenced, &ref_nums).map_or(0, |i| i.oid));
            rows.push(row);
        }
        for check in &t.checks {
            let mut row = base(check.oid, &check.name, b'c');
            row[18] = array(check.columns.iter());
            row[25] = text(check.expr.clone());
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The `attnum`s of `columns` of the table SQLite knows as `table` (0 for a column it lacks).
pub(super) fn referenced_attnums(model: &Model, table: &str, columns: &[String]) -> Vec<i16> {
    let t = model.table_by_sqlite_name(table);
    columns
        .iter()
        .map(|name| t.and_then(|t| t.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))).map_or(0, |c| c.num))
        .collect()
}

/// The unique index of `table` on exactly `attnums` (what a foreign key references: its `conindid`).
pub(super) fn referenced_index<'m>(model: &'m Model, table: &str, attnums: &[i16]) -> Option<&'m model::Index> {
    model.table_by_sqlite_name(table)?.indexes.iter().find(|i| {
        i.unique
            && i.keys.len() == attnums.len()
            && i.keys.iter().all(|k| matches!(k, Key::Column(n, _) if attnums.contains(n)))
    })
}

fn sequence_rows(env: &Env) -> Rows {
    let model = env.model()?;
    Ok(model::serial_sequences(&model)
        .into_iter()
        .map(|(t, c)| {
            vec![
                oid(model::sequence_oid(&t.sqlite_name)),
                oid(c.ty.oid()),
                int(1),
                int(1),
                int(model::sequence_max(c.ty)),
                int(1),
                int(1),
                boolean(false),
            ]
        })
        .collect())
}

fn owner_name(env: &Env) -> String {
    host::role_name(env.source, BOOTSTRAP_SUPERUSER)
}

fn tables_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let owner = owner_name(env);
    Ok(model
        .tables
        .iter()
        .filter(|t| t.kind == b'r')
        .map(|t| {
            vec![
                text(t.schema.clone()),
                text(t.name.clone()),
                text(owner.clone()),
                NULL,
                boolean(!t.indexes.is_empty()),
                boolean(false),
                boolean(false),
                boolean(false),
            ]
        })
        .collect())
}

fn views_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let owner = owner_name(env);
    let visible = super::functions::public_visible(env.source);
    Ok(model
        .tables
        .iter()
        .filter(|t| t.kind == b'v')
        .map(|t| {
            vec![
                text(t.schema.clone()),
                text(t.name.clone()),
                text(owner.clone()),
                opt_text(format::view_body(&t.sql, visible)),
            ]
        })
        .collect())
}

fn indexes_rows(env: &Env) -> Rows {
    let model = env.model()?;
    let mut rows = Vec::new();
    for t in &model.tables {
        for (position, i) in t.indexes.iter().enumerate() {
            rows.push(vec![
                text(t.schema.clone()),
                text(t.name.clone()),
                text(i.name.clone()),
                NULL,
                text(format::index_def(t, position, 0, false)),
            ]);
        }
    }
    Ok(rows)
}
