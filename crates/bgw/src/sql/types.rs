//! PostgreSQL's types as the SQL layer knows them: one table ([`TYPES`]) with each type's OID, `typname`, SQL
//! name (as `format_type` prints it), `typlen`, category and array type, and how each is held in SQLite.
//!
//! Storage (what a column of the type holds in SQLite, the same for every writer: the translator, COPY, bind
//! parameters and SPI):
//!
//! | PostgreSQL                              | SQLite value                                              |
//! |-----------------------------------------|-----------------------------------------------------------|
//! | bool                                    | integer 0 or 1                                            |
//! | int2, int4, int8, oid, reg*             | integer                                                   |
//! | float4, float8                          | real                                                      |
//! | numeric                                 | text: the canonical decimal (`12.50`, `NaN`)              |
//! | text, varchar, bpchar, name, "char"     | text                                                      |
//! | bytea                                   | blob                                                      |
//! | date, time, timestamp                   | text: ISO 8601 (`2024-01-31`, `13:45:00`, `2024-01-31 13:45:00.5`) |
//! | timestamptz                             | text: ISO 8601 in UTC with `+00`                          |
//! | interval                                | text: PostgreSQL's output (`1 day 02:00:00`)              |
//! | uuid                                    | text: lower-case canonical form                           |
//! | json, jsonb                             | text (jsonb normalised as PostgreSQL prints it)           |
//! | arrays                                  | text: PostgreSQL's array literal (`{1,2,NULL}`)           |
//!
//! A column keeps its PostgreSQL type in its SQLite declared type: the translator writes the canonical `typname`
//! (`int4`, `timestamptz`, `_text`, `numeric(10,2)`) and [`PgType::from_decltype`] reads it back (older tables with
//! SQLite's own declared types are read by SQLite's affinity rules).
//!
//! Runs in: any process that runs SQL.

/// The declared type of a numeric column (with its modifier after it: `numeric text(10,2)`): "text" gives it
/// SQLite's TEXT affinity, which keeps a value as the decimal text it is (a bare `numeric` would turn `12.50`
/// into the real 12.5, losing its scale and every digit past the 15th).
pub const NUMERIC_DECLTYPE: &str = "numeric text";

/// The types held as text whose names would give a column SQLite's NUMERIC affinity (text that looks like a
/// number turned into one: `12.50` into 12.5, a json `1.50` into 1.5, a name `007` into 7): their columns are
/// declared `<typname> text` (with the modifier after: `numeric text(10,2)`), which [`PgType::from_decltype`]
/// reads back.
pub const TEXT_HELD: &[PgType] = &[PgType::Numeric, PgType::Json, PgType::Jsonb, PgType::Name];

/// A PostgreSQL type the host can store, describe and send. Arrays are their own variants (`Int4Array` is
/// `_int4`, `integer[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
    Text,
    Varchar,
    Bpchar,
    Name,
    Char,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Oid,
    Regclass,
    Regproc,
    Regtype,
    Regnamespace,
    Int2Vector,
    OidVector,
    Unknown,
    Void,
    Record,
    BoolArray,
    Int2Array,
    Int4Array,
    Int8Array,
    NumericArray,
    Float4Array,
    Float8Array,
    TextArray,
    VarcharArray,
    BpcharArray,
    NameArray,
    CharArray,
    ByteaArray,
    DateArray,
    TimeArray,
    TimestampArray,
    TimestamptzArray,
    IntervalArray,
    UuidArray,
    JsonArray,
    JsonbArray,
    OidArray,
}

/// One row of [`TYPES`].
#[derive(Debug, Clone, Copy)]
pub struct TypeInfo {
    pub ty: PgType,
    /// `pg_type.oid`.
    pub oid: u32,
    /// `pg_type.typname` (`int4`, `_int4`).
    pub typname: &'static str,
    /// The name `format_type` prints and error messages use (`integer`, `integer[]`).
    pub sql_name: &'static str,
    /// `pg_type.typlen`.
    pub len: i16,
    /// `pg_type.typcategory`.
    pub category: u8,
    /// The array type of a scalar, the element type of an array.
    pub partner: Option<PgType>,
}

macro_rules! types {
    ($( $ty:ident $oid:literal $typname:literal $sql:literal $len:literal $cat:literal $partner:expr; )*) => {
        /// Every type, in the order of [`PgType`]'s variants.
        pub const TYPES: &[TypeInfo] = &[$(
            TypeInfo { ty: PgType::$ty, oid: $oid, typname: $typname, sql_name: $sql, len: $len, category: $cat,
                       partner: $partner },
        )*];
    };
}

use PgType as T;

types! {
    Bool 16 "bool" "boolean" 1 b'B' Some(T::BoolArray);
    Int2 21 "int2" "smallint" 2 b'N' Some(T::Int2Array);
    Int4 23 "int4" "integer" 4 b'N' Some(T::Int4Array);
    Int8 20 "int8" "bigint" 8 b'N' Some(T::Int8Array);
    Numeric 1700 "numeric" "numeric" -1 b'N' Some(T::NumericArray);
    Float4 700 "float4" "real" 4 b'N' Some(T::Float4Array);
    Float8 701 "float8" "double precision" 8 b'N' Some(T::Float8Array);
    Text 25 "text" "text" -1 b'S' Some(T::TextArray);
    Varchar 1043 "varchar" "character varying" -1 b'S' Some(T::VarcharArray);
    Bpchar 1042 "bpchar" "character" -1 b'S' Some(T::BpcharArray);
    Name 19 "name" "name" 64 b'S' Some(T::NameArray);
    Char 18 "char" "\"char\"" 1 b'Z' Some(T::CharArray);
    Bytea 17 "bytea" "bytea" -1 b'U' Some(T::ByteaArray);
    Date 1082 "date" "date" 4 b'D' Some(T::DateArray);
    Time 1083 "time" "time without time zone" 8 b'D' Some(T::TimeArray);
    Timestamp 1114 "timestamp" "timestamp without time zone" 8 b'D' Some(T::TimestampArray);
    Timestamptz 1184 "timestamptz" "timestamp with time zone" 8 b'D' Some(T::TimestamptzArray);
    Interval 1186 "interval" "interval" 16 b'T' Some(T::IntervalArray);
    Uuid 2950 "uuid" "uuid" 16 b'U' Some(T::UuidArray);
    Json 114 "json" "json" -1 b'U' Some(T::JsonArray);
    Jsonb 3802 "jsonb" "jsonb" -1 b'U' Some(T::JsonbArray);
    Oid 26 "oid" "oid" 4 b'N' Some(T::OidArray);
    Regclass 2205 "regclass" "regclass" 4 b'N' None;
    Regproc 24 "regproc" "regproc" 4 b'N' None;
    Regtype 2206 "regtype" "regtype" 4 b'N' None;
    Regnamespace 4089 "regnamespace" "regnamespace" 4 b'N' None;
    Int2Vector 22 "int2vector" "int2vector" -1 b'A' None;
    OidVector 30 "oidvector" "oidvector" -1 b'A' None;
    Unknown 705 "unknown" "unknown" -2 b'X' None;
    Void 2278 "void" "void" 4 b'P' None;
    Record 2249 "record" "record" -1 b'P' None;
    BoolArray 1000 "_bool" "boolean[]" -1 b'A' Some(T::Bool);
    Int2Array 1005 "_int2" "smallint[]" -1 b'A' Some(T::Int2);
    Int4Array 1007 "_int4" "integer[]" -1 b'A' Some(T::Int4);
    Int8Array 1016 "_int8" "bigint[]" -1 b'A' Some(T::Int8);
    NumericArray 1231 "_numeric" "numeric[]" -1 b'A' Some(T::Numeric);
    Float4Array 1021 "_float4" "real[]" -1 b'A' Some(T::Float4);
    Float8Array 1022 "_float8" "double precision[]" -1 b'A' Some(T::Float8);
    TextArray 1009 "_text" "text[]" -1 b'A' Some(T::Text);
    VarcharArray 1015 "_varchar" "character varying[]" -1 b'A' Some(T::Varchar);
    BpcharArray 1014 "_bpchar" "character[]" -1 b'A' Some(T::Bpchar);
    NameArray 1003 "_name" "name[]" -1 b'A' Some(T::Name);
    CharArray 1002 "_char" "\"char\"[]" -1 b'A' Some(T::Char);
    ByteaArray 1001 "_bytea" "bytea[]" -1 b'A' Some(T::Bytea);
    DateArray 1182 "_date" "date[]" -1 b'A' Some(T::Date);
    TimeArray 1183 "_time" "time without time zone[]" -1 b'A' Some(T::Time);
    TimestampArray 1115 "_timestamp" "timestamp without time zone[]" -1 b'A' Some(T::Timestamp);
    TimestamptzArray 1185 "_timestamptz" "timestamp with time zone[]" -1 b'A' Some(T::Timestamptz);
    IntervalArray 1187 "_interval" "interval[]" -1 b'A' Some(T::Interval);
    UuidArray 2951 "_uuid" "uuid[]" -1 b'A' Some(T::Uuid);
    JsonArray 199 "_json" "json[]" -1 b'A' Some(T::Json);
    JsonbArray 3807 "_jsonb" "jsonb[]" -1 b'A' Some(T::Jsonb);
    OidArray 1028 "_oid" "oid[]" -1 b'A' Some(T::Oid);
}

impl PgType {
    /// This type's row of [`TYPES`].
    pub fn info(self) -> &'static TypeInfo {
        &TYPES[self as usize]
    }

    /// `pg_type.oid`.
    pub fn oid(self) -> u32 {
        self.info().oid
    }

    /// `pg_type.typname`.
    pub fn typname(self) -> &'static str {
        self.info().typname
    }

    /// `pg_type.typlen`.
    pub fn size(self) -> i16 {
        self.info().len
    }

    /// The SQL name, as `format_type` and PostgreSQL's error messages spell it.
    pub fn sql_name(self) -> &'static str {
        self.info().sql_name
    }

    /// Whether this is an array type.
    pub fn is_array(self) -> bool {
        self.info().category == b'A' && !matches!(self, PgType::Int2Vector | PgType::OidVector)
    }

    /// The element type of an array (int2vector's is int2, oidvector's oid).
    pub fn element(self) -> Option<PgType> {
        match self {
            PgType::Int2Vector => Some(PgType::Int2),
            PgType::OidVector => Some(PgType::Oid),
            _ if self.is_array() => self.info().partner,
            _ => None,
        }
    }

    /// The array type whose elements are of this type.
    pub fn array(self) -> Option<PgType> {
        if self.is_array() {
            None
        } else {
            self.info().partner
        }
    }

    /// Whether this is one of the integer types (int2, int4, int8).
    pub fn is_integer(self) -> bool {
        matches!(self, PgType::Int2 | PgType::Int4 | PgType::Int8)
    }

    /// Whether this is a number type (`typcategory` N without the OID types).
    pub fn is_numeric(self) -> bool {
        matches!(self, PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Numeric | PgType::Float4 | PgType::Float8)
    }

    /// Whether this is a string type (text, varchar, bpchar, name).
    pub fn is_string(self) -> bool {
        self.info().category == b'S'
    }

    /// The type with OID `oid`.
    pub fn from_oid(oid: u32) -> Option<PgType> {
        TYPES.iter().find(|t| t.oid == oid).map(|t| t.ty)
    }

    /// The type a SQL type name stands for, in any of PostgreSQL's spellings (`int`, `integer`, `int4`,
    /// `character varying`, `timestamp with time zone`, `double precision`, `_int4`, `text[]`), without a
    /// modifier such as `(10)`; schema prefix `pg_catalog.` allowed. Case-insensitive; blanks between words are
    /// one space. None for a name the host does not know.
    pub fn from_name(name: &str) -> Option<PgType> {
        let lower = name.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
        let words: Vec<&str> = lower.split_whitespace().collect();
        let name = words.join(" ");
        if let Some(element) = name.strip_suffix("[]") {
            return PgType::from_name(element)?.array();
        }
        if name == "_char" {
            return Some(PgType::CharArray);
        }
        if let Some(element) = name.strip_prefix('_') {
            return PgType::from_name(element).and_then(PgType::array);
        }
        Some(match name.as_str() {
            "bool" | "boolean" => PgType::Bool,
            "int2" | "smallint" => PgType::Int2,
            "int" | "int4" | "integer" => PgType::Int4,
            "int8" | "bigint" => PgType::Int8,
            "numeric" | "decimal" => PgType::Numeric,
            "float4" | "real" => PgType::Float4,
            "float8" | "float" | "double precision" => PgType::Float8,
            "text" => PgType::Text,
            "varchar" | "character varying" | "char varying" => PgType::Varchar,
            "bpchar" | "char" | "character" => PgType::Bpchar,
            "\"char\"" => PgType::Char,
            "name" => PgType::Name,
            "bytea" => PgType::Bytea,
            "date" => PgType::Date,
            "time" | "time without time zone" => PgType::Time,
            "timestamp" | "timestamp without time zone" => PgType::Timestamp,
            "timestamptz" | "timestamp with time zone" => PgType::Timestamptz,
            "interval" => PgType::Interval,
            "uuid" => PgType::Uuid,
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "oid" => PgType::Oid,
            "regclass" => PgType::Regclass,
            "regproc" => PgType::Regproc,
            "regtype" => PgType::Regtype,
            "regnamespace" => PgType::Regnamespace,
            "int2vector" => PgType::Int2Vector,
            "oidvector" => PgType::OidVector,
            "unknown" => PgType::Unknown,
            "void" => PgType::Void,
            "record" => PgType::Record,
            _ => return None,
        })
    }

    /// The type a SQLite declared column type stands for: the canonical `typname` the translator writes (with or
    /// without a modifier: `numeric(10,2)`, `varchar(20)`, `_int4`), else SQLite's own affinity rules for tables
    /// created with SQLite's types (`INTEGER` is int8 there, as SQLite's integers are 64-bit; `REAL` float8).
    pub fn from_decltype(decltype: &str) -> Option<PgType> {
        let base = decltype.split('(').next().unwrap_or("").trim();
        // `numeric text`, `jsonb text`: held as text (see TEXT_HELD).
        let base = match base.len().checked_sub(5) {
            Some(cut) if base.is_char_boundary(cut) && base[cut..].eq_ignore_ascii_case(" text") => &base[..cut],
            _ => base,
        };
        if let Some(info) = TYPES.iter().find(|t| t.typname.eq_ignore_ascii_case(base)) {
            return Some(info.ty);
        }
        let upper = decltype.to_ascii_uppercase();
        let has = |part: &str| upper.contains(part);
        if has("BOOL") {
            Some(PgType::Bool)
        } else if has("INT") {
            Some(PgType::Int8)
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Some(PgType::Text)
        } else if has("BLOB") {
            Some(PgType::Bytea)
        } else if has("REAL") || has("FLOA") || has("DOUB") {
            Some(PgType::Float8)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_variant_order_and_consistent() {
        for (index, info) in TYPES.iter().enumerate() {
            assert_eq!(info.ty as usize, index, "{}", info.typname);
            assert_eq!(PgType::from_oid(info.oid), Some(info.ty), "{}", info.typname);
            if let Some(partner) = info.partner {
                assert_eq!(partner.info().partner, Some(info.ty), "{}", info.typname);
            }
            if info.ty.is_array() {
                assert_eq!(format!("_{}", info.ty.element().unwrap().typname()), info.typname);
                assert_eq!(format!("{}[]", info.ty.element().unwrap().sql_name()), info.sql_name);
            }
            if info.ty != PgType::Char {
                // `char` in SQL is `character` (bpchar); the one-byte type is spelled `"char"`.
                assert_eq!(PgType::from_name(info.typname), Some(info.ty), "{}", info.typname);
            }
            assert_eq!(PgType::from_name(info.sql_name), Some(info.ty), "{}", info.sql_name);
        }
    }

    #[test]
    fn names() {
        assert_eq!(PgType::from_name("INT"), Some(PgType::Int4));
        assert_eq!(PgType::from_name("Character  Varying"), Some(PgType::Varchar));
        assert_eq!(PgType::from_name("pg_catalog.int8"), Some(PgType::Int8));
        assert_eq!(PgType::from_name("timestamp with time zone"), Some(PgType::Timestamptz));
        assert_eq!(PgType::from_name("int[]"), Some(PgType::Int4Array));
        assert_eq!(PgType::from_name("_text"), Some(PgType::TextArray));
        assert_eq!(PgType::from_name("regclass[]"), None);
        assert_eq!(PgType::from_name("hstore"), None);
        assert_eq!(PgType::Int4Array.element(), Some(PgType::Int4));
        assert_eq!(PgType::Int4.array(), Some(PgType::Int4Array));
        assert_eq!(PgType::Int2Vector.element(), Some(PgType::Int2));
        assert!(!PgType::Int2Vector.is_array());
    }

    #[test]
    fn decltypes() {
        assert_eq!(PgType::from_decltype("INTEGER"), Some(PgType::Int8));
        assert_eq!(PgType::from_decltype("integer"), Some(PgType::Int8));
        assert_eq!(PgType::from_decltype("int4"), Some(PgType::Int4));
        assert_eq!(PgType::from_decltype("bigint"), Some(PgType::Int8));
        assert_eq!(PgType::from_decltype("bool"), Some(PgType::Bool));
        assert_eq!(PgType::from_decltype("boolean"), Some(PgType::Bool));
        assert_eq!(PgType::from_decltype("varchar(10)"), Some(PgType::Varchar));
        assert_eq!(PgType::from_decltype("numeric(10,2)"), Some(PgType::Numeric));
        assert_eq!(PgType::from_decltype("numeric text(10,2)"), Some(PgType::Numeric));
        assert_eq!(PgType::from_decltype("numeric text"), Some(PgType::Numeric));
        assert_eq!(PgType::from_decltype("jsonb text"), Some(PgType::Jsonb));
        assert_eq!(PgType::from_decltype("name text"), Some(PgType::Name));
        assert_eq!(PgType::from_decltype("TEXT"), Some(PgType::Text));
        assert_eq!(PgType::from_decltype("blob"), Some(PgType::Bytea));
        assert_eq!(PgType::from_decltype("double precision"), Some(PgType::Float8));
        assert_eq!(PgType::from_decltype("float4"), Some(PgType::Float4));
        assert_eq!(PgType::from_decltype("REAL"), Some(PgType::Float8));
        assert_eq!(PgType::from_decltype("UNSIGNED BIG INT"), Some(PgType::Int8));
        assert_eq!(PgType::from_decltype("timestamptz"), Some(PgType::Timestamptz));
        assert_eq!(PgType::from_decltype("_int4"), Some(PgType::Int4Array));
        assert_eq!(PgType::from_decltype(""), None);
    }
}
