//! Values and errors taken from PostgreSQL 15 (`SELECT '...'::type`, `encode(type_send(...), 'hex')`).

use super::*;
use crate::sql::types::PgType as T;

fn text(ty: PgType, s: &str) -> String {
    let v = input(ty, s, -1).unwrap_or_else(|e| panic!("{s}::{}: {e:?}", ty.typname()));
    output(ty, &v).unwrap()
}

fn typed(name: &str, s: &str) -> Result<String, SqlError> {
    let (ty, typmod) = type_and_typmod(name)?;
    Ok(output(ty, &input(ty, s, typmod)?).unwrap())
}

fn err(ty: PgType, s: &str) -> (&'static str, String) {
    let e = input(ty, s, -1).unwrap_err();
    (e.code, e.message)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `encode(typsend('text'::ty), 'hex')` in PostgreSQL is `expected`, and receiving it prints `text` back.
fn binary(ty: PgType, s: &str, expected: &str) {
    let v = input(ty, s, -1).unwrap();
    assert_eq!(hex(&send(ty, &v).unwrap()), expected, "{s}::{}", ty.typname());
    assert_eq!(recv(ty, &unhex(expected)).unwrap(), v, "{s}::{}", ty.typname());
}

#[test]
fn booleans() {
    for s in ["t", "TRUE", " yes ", "on", "1", "tr"] {
        assert_eq!(input(T::Bool, s, -1).unwrap(), Value::Integer(1), "{s}");
    }
    for s in ["f", "false", "no", "off", "0", "of"] {
        assert_eq!(input(T::Bool, s, -1).unwrap(), Value::Integer(0), "{s}");
    }
    assert_eq!(err(T::Bool, "o"), ("22P02", "invalid input syntax for type boolean: \"o\"".into()));
    assert_eq!(output(T::Bool, &Value::Integer(1)).as_deref(), Some("t"));
    binary(T::Bool, "t", "01");
}

#[test]
fn integers() {
    assert_eq!(text(T::Int4, " 42 "), "42");
    assert_eq!(err(T::Int4, "x"), ("22P02", "invalid input syntax for type integer: \"x\"".into()));
    assert_eq!(err(T::Int4, "99999999999"), ("22003", "value \"99999999999\" is out of range for type integer".into()));
    assert_eq!(err(T::Int2, "40000").0, "22003");
    assert_eq!(err(T::Int8, "1.5").0, "22P02");
    binary(T::Int4, "7", "00000007");
    binary(T::Int2, "-2", "fffe");
    binary(T::Int8, "1", "0000000000000001");
    binary(T::Oid, "4294967295", "ffffffff");
    assert_eq!(text(T::Oid, "-1"), "4294967295");
}

#[test]
fn floats() {
    assert_eq!(text(T::Float4, "1234567"), "1.234567e+06");
    assert_eq!(text(T::Float4, "123456"), "123456");
    assert_eq!(text(T::Float4, "0.1"), "0.1");
    assert_eq!(text(T::Float4, "1e-5"), "1e-05");
    assert_eq!(text(T::Float8, "1e15"), "1e+15");
    assert_eq!(text(T::Float8, "12345678901234567"), "1.2345678901234568e+16");
    assert_eq!(text(T::Float8, "0.1"), "0.1");
    assert_eq!(text(T::Float8, "-inf"), "-Infinity");
    assert_eq!(text(T::Float8, "nan"), "NaN");
    assert_eq!(float_text(123456789012345.0), "123456789012345");
    assert_eq!(float_text(-0.0), "-0");
    assert_eq!(err(T::Float8, "1e400"), ("22003", "\"1e400\" is out of range for type double precision".into()));
    assert_eq!(err(T::Float8, "abc").0, "22P02");
    binary(T::Float8, "2.5", "4004000000000000");
    binary(T::Float4, "2.5", "40200000");
}

#[test]
fn numerics() {
    assert_eq!(text(T::Numeric, " 12.50 "), "12.50");
    assert_eq!(text(T::Numeric, "nan"), "NaN");
    assert_eq!(text(T::Numeric, "inf"), "Infinity");
    assert_eq!(text(T::Numeric, "1e5"), "100000");
    assert_eq!(text(T::Numeric, "1.5e-3"), "0.0015");
    assert_eq!(text(T::Numeric, "-0.00"), "0.00");
    assert_eq!(typed("numeric(5,2)", "12.345").unwrap(), "12.35");
    assert_eq!(typed("numeric(5,2)", "-12.345").unwrap(), "-12.35");
    let e = typed("numeric(5,2)", "1234.5").unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22003", "numeric field overflow"));
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 5, scale 2 must round to an absolute value less than 10^3.")
    );
    assert_eq!(err(T::Numeric, "1.2.3"), ("22P02", "invalid input syntax for type numeric: \"1.2.3\"".into()));
    binary(T::Numeric, "12.50", "0002000000000002000c1388");
    binary(T::Numeric, "-0.0015", "0001ffff40000004000f");
    binary(T::Numeric, "123456789.1", "0004000200000001000109291a8503e8");
    binary(T::Numeric, "NaN", "00000000c0000000");
    binary(T::Numeric, "0.00", "0000000000000002");
    binary(T::Numeric, "100000", "0001000100000000000a");
}

#[test]
fn numeric_arithmetic() {
    use numeric::Numeric as N;
    let n = |s: &str| N::parse(s).unwrap();
    assert_eq!(n("1").div(&n("3")).unwrap().to_text(), "0.33333333333333333333");
    assert_eq!(n("10").div(&n("4")).unwrap().to_text(), "2.5000000000000000");
    assert_eq!(n("1.00").div(&n("3.0")).unwrap().to_text(), "0.33333333333333333333");
    assert_eq!(n("1.0").div(&n("7.0e10")).unwrap().to_text(), "0.0000000000142857142857142857");
    assert_eq!(n("7.5").rem(&n("2")).unwrap().to_text(), "1.5");
    assert_eq!(n("-7.5").rem(&n("2")).unwrap().to_text(), "-1.5");
    assert_eq!(n("1.5").add(&n("2.25")).unwrap().to_text(), "3.75");
    assert_eq!(n("1.5").mul(&n("2.25")).unwrap().to_text(), "3.375");
    assert_eq!(n("1").div(&n("0")).unwrap_err().code, "22012");
    assert_eq!(n("NaN").compare(&n("Infinity")), std::cmp::Ordering::Greater);
    assert_eq!(n("2.50").compare(&n("2.5")), std::cmp::Ordering::Equal);
    let mut state = numeric::SumState::default();
    for v in ["1", "2", "2.5"] {
        state.add(&n(v)).unwrap();
    }
    assert_eq!(state.sum().unwrap().to_text(), "5.5");
    assert_eq!(state.avg().unwrap().unwrap().to_text(), "1.8333333333333333");
}

#[test]
fn strings() {
    assert_eq!(typed("varchar(3)", "abc  ").unwrap(), "abc");
    let e = typed("varchar(3)", "abcd").unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22001", "value too long for type character varying(3)"));
    assert_eq!(typed("bpchar(4)", "ab").unwrap(), "ab  ");
    assert_eq!(typed("char(2)", "abc").unwrap_err().message, "value too long for type character(2)");
    assert_eq!(cast(&Value::Text("abcd".into()), T::Text, T::Varchar, 7).unwrap(), Value::Text("abc".into()));
    assert_eq!(text(T::Char, "é"), "\\303");
    assert_eq!(text(T::Name, &"x".repeat(70)).len(), 63);
    binary(T::Text, "héllo", "68c3a96c6c6f");
    assert_eq!(recv(T::Text, &[0xff]).unwrap_err().code, "22021");
}

#[test]
fn values_stored_in_another_class_print_as_they_are() {
    assert_eq!(output(T::Text, &Value::Blob(vec![0, 0xab])).as_deref(), Some("\\x00ab"));
    assert_eq!(output(T::Text, &Value::Real(2.0)).as_deref(), Some("2"));
    assert_eq!(output(T::Int4, &Value::Text("x".into())).as_deref(), Some("x"));
    assert_eq!(output(T::Bool, &Value::Text("t".into())).as_deref(), Some("t"));
    assert_eq!(output(T::Date, &Value::Text("2024-01-31T00:00:00".into())).as_deref(), Some("2024-01-31"));
    assert_eq!(output(T::Date, &Value::Text("garbage".into())).as_deref(), Some("garbage"));
    assert_eq!(output(T::Numeric, &Value::Real(12.5)).as_deref(), Some("12.5"));
    assert_eq!(send(T::Int4, &Value::Text("12".into())).unwrap(), 12i32.to_be_bytes());
    assert_eq!(send(T::Int4, &Value::Text("x".into())).unwrap_err().code, "22P02");
    assert_eq!(send(T::Bool, &Value::Text("true".into())).unwrap(), [1]);
}

#[test]
fn byteas_and_uuids() {
    assert_eq!(text(T::Bytea, "\\x0a"), "\\x0a");
    assert_eq!(text(T::Bytea, "ab\\\\c\\001"), "\\x61625c6301");
    assert_eq!(text(T::Bytea, "x"), "\\x78");
    binary(T::Bytea, "\\x00ff", "00ff");
    let u = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    assert_eq!(text(T::Uuid, "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}"), u);
    assert_eq!(text(T::Uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11"), u);
    assert_eq!(err(T::Uuid, "abc"), ("22P02", "invalid input syntax for type uuid: \"abc\"".into()));
    binary(T::Uuid, u, "a0eebc999c0b4ef8bb6d6bb9bd380a11");
}

#[test]
fn dates_and_times() {
    assert_eq!(text(T::Timestamptz, "2024-01-31 13:45:00+02"), "2024-01-31 11:45:00+00");
    assert_eq!(text(T::Timestamptz, "2024-01-31T13:45:00Z"), "2024-01-31 13:45:00+00");
    assert_eq!(text(T::Timestamptz, "2024-01-31 13:45:00 -05:30"), "2024-01-31 19:15:00+00");
    assert_eq!(text(T::Timestamp, "2024-01-31 13:45:00.5"), "2024-01-31 13:45:00.5");
    assert_eq!(text(T::Timestamp, "2024-01-31 23:59:59.9999995"), "2024-02-01 00:00:00");
    assert_eq!(text(T::Timestamp, "epoch"), "1970-01-01 00:00:00");
    assert_eq!(text(T::Timestamptz, "infinity"), "infinity");
    assert_eq!(text(T::Date, "0001-01-01 BC"), "0001-01-01 BC");
    assert_eq!(text(T::Date, "1/31/2024"), "2024-01-31");
    assert_eq!(text(T::Date, "20240131"), "2024-01-31");
    assert_eq!(text(T::Date, "2024-01-31 13:45"), "2024-01-31");
    assert_eq!(text(T::Date, "99999-01-01"), "99999-01-01");
    assert_eq!(text(T::Time, "12:30"), "12:30:00");
    assert_eq!(text(T::Time, "24:00"), "24:00:00");
    assert_eq!(text(T::Time, "13:45:00.123"), "13:45:00.123");
    assert_eq!(typed("timestamp(0)", "2024-01-31 13:45:00.5").unwrap(), "2024-01-31 13:45:01");
    assert_eq!(err(T::Date, "2024-02-30"), ("22008", "date/time field value out of range: \"2024-02-30\"".into()));
    assert_eq!(err(T::Date, "0000-01-01").0, "22008");
    assert_eq!(err(T::Date, "x"), ("22007", "invalid input syntax for type date: \"x\"".into()));
    assert_eq!(
        err(T::Timestamptz, "x"),
        ("22007", "invalid input syntax for type timestamp with time zone: \"x\"".into())
    );
    assert_eq!(err(T::Timestamp, "2024-01-31 25:00").0, "22008");
    assert_eq!(err(T::Timestamptz, "2024-01-31 13:45+16").0, "22009");
    assert_eq!(err(T::Timestamp, "294277-01-01"), ("22008", "timestamp out of range: \"294277-01-01\"".into()));
    assert_eq!(err(T::Timestamptz, "now").0, "0A000");
    assert_eq!(err(T::Timestamptz, "2024-01-31 13:45 Europe/Paris").0, "0A000");
    binary(T::Date, "2024-01-31", "0000225c");
    binary(T::Timestamptz, "2024-01-31 13:45:00.5+00", "0002b33cda9c3020");
    binary(T::Time, "13:45:00.5", "0000000b8675b020");
}

#[test]
fn intervals() {
    assert_eq!(text(T::Interval, "-1 days +02:00:00"), "-1 days +02:00:00");
    assert_eq!(text(T::Interval, "1.5 months"), "1 mon 15 days");
    assert_eq!(text(T::Interval, "1 year 2 mons 3 days 04:05:06.7"), "1 year 2 mons 3 days 04:05:06.7");
    assert_eq!(text(T::Interval, "@ 1 day ago"), "-1 days");
    assert_eq!(text(T::Interval, "1 year -2 mons +3 days -04:05:06"), "10 mons 3 days -04:05:06");
    assert_eq!(text(T::Interval, "-1:30"), "-01:30:00");
    assert_eq!(text(T::Interval, "5"), "00:00:05");
    assert_eq!(text(T::Interval, "P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
    assert_eq!(text(T::Interval, "1.5 days"), "1 day 12:00:00");
    assert_eq!(text(T::Interval, "2 weeks"), "14 days");
    assert_eq!(text(T::Interval, "100 hours"), "100:00:00");
    assert_eq!(err(T::Interval, "x"), ("22007", "invalid input syntax for type interval: \"x\"".into()));
    binary(T::Interval, "1 year 2 mons 3 days 04:05:06.7", "000000036c966ee0000000030000000e");
}

#[test]
fn datetime_arithmetic() {
    use datetime::*;
    let ts = |s: &str| parse_timestamp(T::Timestamp, s).unwrap();
    let iv = |s: &str| parse_interval(s).unwrap();
    assert_eq!(
        timestamp_text(timestamp_add(ts("2024-01-31 10:00"), &iv("1 month")).unwrap(), false),
        "2024-02-29 10:00:00"
    );
    assert_eq!(interval_text(&timestamp_diff(ts("2024-03-01"), ts("2024-01-01 01:00")).unwrap()), "59 days 23:00:00");
    assert_eq!(date_diff(parse_date("2024-03-01").unwrap(), parse_date("2024-01-01").unwrap()).unwrap(), 60);
    assert_eq!(
        timestamp_text(timestamp_trunc("week", ts("2024-01-31 13:45"), T::Timestamp).unwrap(), false),
        "2024-01-29 00:00:00"
    );
    assert_eq!(timestamp_diff(TS_NOEND, 0).unwrap_err().message, "cannot subtract infinite timestamps");
    assert_eq!(date_add_days(parse_date("2024-01-31").unwrap(), 2147483647).unwrap_err().message, "date out of range");
    let x = |f: &str, ty: PgType, s: &str| extract(f, &DateTime::parse(ty, s).unwrap()).unwrap().to_text();
    assert_eq!(x("second", T::Timestamp, "2024-01-31 13:45:00.5"), "0.500000");
    assert_eq!(x("epoch", T::Timestamp, "2024-01-31 13:45:00.5"), "1706708700.500000");
    assert_eq!(x("year", T::Date, "2024-01-31"), "2024");
    assert_eq!(x("epoch", T::Interval, "1 day"), "86400.000000");
    assert_eq!(x("microseconds", T::Timestamp, "2024-01-31 13:45:01.5"), "1500000");
    assert_eq!(x("milliseconds", T::Timestamp, "2024-01-31 13:45:01.5"), "1500.000");
    assert_eq!(x("epoch", T::Date, "2024-01-31"), "1706659200");
    assert_eq!(x("julian", T::Date, "2024-01-31"), "2460341");
    assert_eq!(x("week", T::Date, "2024-01-31"), "5");
    assert_eq!(x("isoyear", T::Date, "2024-01-01"), "2024");
    assert_eq!(x("dow", T::Date, "2024-01-31"), "3");
    assert_eq!(x("hour", T::Interval, "1 day 02:00"), "2");
    assert_eq!(x("epoch", T::Interval, "1 mon"), "2592000.000000");
    let e = extract("foo", &DateTime::parse(T::Timestamp, "2024-01-31").unwrap()).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("22023", "unit \"foo\" not recognized for type timestamp without time zone")
    );
}

#[test]
fn json() {
    assert_eq!(
        text(T::Jsonb, "{\"b\":1,\"a\":[1,2.50,1e2],\"aa\":null}"),
        "{\"a\": [1, 2.50, 100], \"b\": 1, \"aa\": null}"
    );
    assert_eq!(text(T::Json, "{\"b\":1}"), "{\"b\":1}");
    assert_eq!(text(T::Jsonb, "{\"a\":1,\"a\":2}"), "{\"a\": 2}");
    assert_eq!(err(T::Json, "{x}").0, "22P02");
    binary(T::Jsonb, "{\"a\":1}", "017b2261223a20317d");
}

#[test]
fn arrays() {
    assert_eq!(text(T::Int4Array, "{1,2,NULL}"), "{1,2,NULL}");
    assert_eq!(text(T::Int4Array, "{ 1 , 2 }"), "{1,2}");
    assert_eq!(text(T::TextArray, "{\"a b\",\"\",NULL,\"NULL\",x}"), "{\"a b\",\"\",NULL,\"NULL\",x}");
    assert_eq!(text(T::Int4Array, "{{1,2},{3,4}}"), "{{1,2},{3,4}}");
    assert_eq!(text(T::Int4Array, "{}"), "{}");
    assert_eq!(text(T::BoolArray, "{true,f}"), "{t,f}");
    assert_eq!(text(T::ByteaArray, "{\"\\\\x01\"}"), "{\"\\\\x01\"}");
    assert_eq!(text(T::Int2Vector, "1 2 3"), "1 2 3");
    let e = input(T::Int4Array, "{{}}", -1).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str(), e.detail.as_deref()),
        ("22P02", "malformed array literal: \"{{}}\"", Some("Unexpected \"}\" character."))
    );
    assert_eq!(input(T::Int4Array, "{1,x}", -1).unwrap_err().message, "invalid input syntax for type integer: \"x\"");
    assert_eq!(input(T::Int4Array, "1,2", -1).unwrap_err().code, "22P02");
    assert_eq!(input(T::Int4Array, "{{1,2},{3}}", -1).unwrap_err().code, "22P02");
    binary(
        T::Int4Array,
        "{1,2,NULL}",
        "000000010000000100000017000000030000000100000004000000010000000400000002ffffffff",
    );
    binary(
        T::TextArray,
        "{{a,b},{c,d}}",
        "000000020000000000000019000000020000000100000002000000010000000161000000016200000001630000000164",
    );
    binary(T::Int4Array, "{}", "000000000000000000000017");
    binary(T::Int2Vector, "1 2", "0000000100000000000000150000000200000000000000020001000000020002");
    let e = recv(T::Int4Array, &unhex("000000010000000000000014000000010000000100000008000000000000000a")).unwrap_err();
    assert_eq!(e.code, "42804");
}

#[test]
fn casts() {
    let num = |s: &str| Value::Text(s.into());
    assert_eq!(cast(&num("2.5"), T::Numeric, T::Int4, -1).unwrap(), Value::Integer(3));
    assert_eq!(cast(&num("-2.5"), T::Numeric, T::Int4, -1).unwrap(), Value::Integer(-3));
    assert_eq!(cast(&Value::Real(2.5), T::Float8, T::Int4, -1).unwrap(), Value::Integer(2));
    assert_eq!(cast(&Value::Real(3.5), T::Float8, T::Int4, -1).unwrap(), Value::Integer(4));
    assert_eq!(cast(&Value::Real(1e20), T::Float8, T::Int4, -1).unwrap_err().message, "integer out of range");
    assert_eq!(cast(&Value::Integer(1 << 40), T::Int8, T::Int4, -1).unwrap_err().code, "22003");
    assert_eq!(cast(&Value::Real(0.1), T::Float8, T::Numeric, -1).unwrap(), num("0.1"));
    assert_eq!(cast(&Value::Real(1e20), T::Float8, T::Numeric, -1).unwrap(), num("100000000000000000000"));
    assert_eq!(cast(&Value::Real(f64::from(0.1f32)), T::Float4, T::Numeric, -1).unwrap(), num("0.1"));
    assert_eq!(cast(&Value::Integer(1), T::Bool, T::Text, -1).unwrap(), num("true"));
    assert_eq!(cast(&Value::Integer(1), T::Bool, T::Int4, -1).unwrap(), Value::Integer(1));
    let e = cast(&Value::Integer(1), T::Int8, T::Bool, -1).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("42846", "cannot cast type bigint to boolean"));
    assert_eq!(cast(&num("ab  "), T::Bpchar, T::Text, -1).unwrap(), num("ab"));
    assert_eq!(cast(&num("2024-01-31"), T::Date, T::Timestamptz, -1).unwrap(), num("2024-01-31 00:00:00+00"));
    assert_eq!(cast(&num("2024-01-31 13:45:00"), T::Timestamp, T::Date, -1).unwrap(), num("2024-01-31"));
    assert_eq!(cast(&num("{\"b\":1,\"a\":2}"), T::Json, T::Jsonb, -1).unwrap(), num("{\"a\": 2, \"b\": 1}"));
    assert_eq!(cast(&num("12"), T::Jsonb, T::Int4, -1).unwrap(), Value::Integer(12));
    assert_eq!(cast(&num("{1,2}"), T::Int4Array, T::TextArray, -1).unwrap(), num("{1,2}"));
    assert_eq!(
        cast(&num("12.345"), T::Numeric, T::Numeric, typmod_from_modifier(T::Numeric, "(5,2)").unwrap()).unwrap(),
        num("12.35")
    );
    assert_eq!(cast(&num("x"), T::Text, T::Int4, -1).unwrap_err().code, "22P02");
    assert_eq!(cast(&num("2024-01-31"), T::Date, T::Int4, -1).unwrap_err().message, "cannot cast type date to integer");
    assert_eq!(cast_assign(&num("abcd"), T::Text, T::Varchar, 7).unwrap_err().code, "22001");
}

#[test]
fn sqlite_functions_raise_postgres_errors() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    register(&conn).unwrap();
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0));
    let text = |sql: &str| match one(sql).unwrap() {
        rusqlite::types::Value::Text(s) => s,
        other => panic!("{sql}: {other:?}"),
    };
    assert_eq!(text("SELECT pg_numeric_add('1.5', '2.25')"), "3.75");
    assert_eq!(text("SELECT pg_numeric_div(1, 3)"), "0.33333333333333333333");
    assert_eq!(text("SELECT pg_cast('12.345', 'text', 'numeric(5,2)')"), "12.35");
    assert_eq!(text("SELECT pg_out(1, 'bool')"), "t");
    assert_eq!(text("SELECT pg_ts_add_interval('2024-01-31 10:00:00', '1 mon', 'timestamp')"), "2024-02-29 10:00:00");
    assert_eq!(text("SELECT pg_ts_diff('2024-03-01 00:00:00', '2024-01-01 01:00:00')"), "59 days 23:00:00");
    assert_eq!(text("SELECT pg_date_add_int('2024-01-31', 1)"), "2024-02-01");
    assert_eq!(text("SELECT pg_date_trunc('month', '2024-01-31 13:45:00', 'timestamp')"), "2024-01-01 00:00:00");
    assert_eq!(text("SELECT pg_extract('year', '2024-01-31', 'date')"), "2024");
    assert_eq!(
        text("SELECT pg_numeric_sum(x) FROM (SELECT '1.5' AS x UNION ALL SELECT 2 UNION ALL SELECT NULL)"),
        "3.5"
    );
    assert_eq!(text("SELECT pg_numeric_avg(x) FROM (SELECT 1 AS x UNION ALL SELECT 2)"), "1.5000000000000000");
    assert_eq!(one("SELECT pg_now() = pg_now()").unwrap(), rusqlite::types::Value::Integer(1));
    assert!(text("SELECT pg_clock_timestamp()").ends_with("+00"));
    for (sql, code, message) in [
        ("SELECT pg_int_div(1, 0)", "22012", "division by zero"),
        ("SELECT pg_int_div(-2147483648, -1, 'int4')", "22003", "integer out of range"),
        ("SELECT pg_int_div(-9223372036854775808, -1)", "22003", "bigint out of range"),
        ("SELECT pg_float_div(1.0, 0)", "22012", "division by zero"),
        ("SELECT pg_cast('x', 'text', 'int4')", "22P02", "invalid input syntax for type integer: \"x\""),
        ("SELECT pg_cast(1, 'int8', 'bool')", "42846", "cannot cast type bigint to boolean"),
    ] {
        let e = crate::sql::sqlite::from_rusqlite(one(sql).unwrap_err());
        assert_eq!((e.code, e.message.as_str()), (code, message), "{sql}");
    }
    assert_eq!(one("SELECT pg_int_mod(-9223372036854775808, -1)").unwrap(), rusqlite::types::Value::Integer(0));
}

/// `SELECT ('value'::type)::text` in PostgreSQL 15: the text, or the SQLSTATE and message of its error.
const POSTGRES_15: &[(&str, &str, bool, &str)] = &[
    ("float4", "3.14159", true, "3.14159"),
    ("float4", "1e10", true, "1e+10"),
    ("float4", "-0.000123", true, "-0.000123"),
    ("float4", "16777217", true, "1.6777216e+07"),
    ("float8", "3.141592653589793", true, "3.141592653589793"),
    ("float8", "1e-7", true, "1e-07"),
    ("float8", "123e-310", true, "1.23e-308"),
    ("float8", "0.30000000000000004", true, "0.30000000000000004"),
    ("float8", "1.7976931348623157e308", true, "1.7976931348623157e+308"),
    ("float8", "  -12.5e3  ", true, "-12500"),
    ("numeric", "0.000001", true, "0.000001"),
    ("numeric", "-1e-10", true, "-0.0000000001"),
    ("numeric", "123456789012345678901234567890.123456789", true, "123456789012345678901234567890.123456789"),
    ("numeric", "1.0e3", true, "1000"),
    ("numeric", ".5", true, "0.5"),
    ("numeric", "5.", true, "5"),
    ("numeric", "-inf", true, "-Infinity"),
    ("numeric", "+12", true, "12"),
    ("numeric", "1e", false, "22P02 invalid input syntax for type numeric: \"1e\""),
    ("numeric", "", false, "22P02 invalid input syntax for type numeric: \"\""),
    ("int2", "32767", true, "32767"),
    ("int2", "-32768", true, "-32768"),
    ("int2", "32768", false, "22003 value \"32768\" is out of range for type smallint"),
    ("int8", "9223372036854775807", true, "9223372036854775807"),
    ("int8", "-9223372036854775808", true, "-9223372036854775808"),
    ("int8", "9223372036854775808", false, "22003 value \"9223372036854775808\" is out of range for type bigint"),
    ("int4", " +7 ", true, "7"),
    ("int4", "7 x", false, "22P02 invalid input syntax for type integer: \"7 x\""),
    ("bool", "YES", true, "true"),
    ("bool", "n", true, "false"),
    ("bool", "2", false, "22P02 invalid input syntax for type boolean: \"2\""),
    ("date", "2024-02-29", true, "2024-02-29"),
    ("date", "2023-02-29", false, "22008 date/time field value out of range: \"2023-02-29\""),
    ("date", "epoch", true, "1970-01-01"),
    ("date", "-infinity", true, "-infinity"),
    ("date", "4714-11-24 BC", true, "4714-11-24 BC"),
    ("date", "4714-11-23 BC", false, "22008 date out of range: \"4714-11-23 BC\""),
    ("date", "5874897-12-31", true, "5874897-12-31"),
    ("date", "2024-1-5", true, "2024-01-05"),
    ("date", "2024/01/31", true, "2024-01-31"),
    ("time", "00:00", true, "00:00:00"),
    ("time", "23:59:59.999999", true, "23:59:59.999999"),
    ("time", "23:59:59.9999999", true, "24:00:00"),
    ("time", "13:45:00+02", true, "13:45:00"),
    ("time", "1:2:3", true, "01:02:03"),
    ("timestamp", "2024-01-31 13:45:00+02", true, "2024-01-31 13:45:00"),
    ("timestamp", "2024-01-31", true, "2024-01-31 00:00:00"),
    ("timestamp", "2024-01-31 13:45:00.000001", true, "2024-01-31 13:45:00.000001"),
    ("timestamp", "0001-01-01 00:00:00 BC", true, "0001-01-01 00:00:00 BC"),
    ("timestamptz", "2024-01-31 13:45:00.123456-08", true, "2024-01-31 21:45:00.123456+00"),
    ("timestamptz", "2024-01-31 13:45:00+05:45", true, "2024-01-31 08:00:00+00"),
    ("timestamptz", "2024-01-31 13:45:00+0530", true, "2024-01-31 08:15:00+00"),
    ("timestamptz", "2024-01-31T13:45", true, "2024-01-31 13:45:00+00"),
    ("timestamptz", "-infinity", true, "-infinity"),
    ("interval", "1 day", true, "1 day"),
    ("interval", "-1 day", true, "-1 days"),
    ("interval", "1 mon -1 day", true, "1 mon -1 days"),
    ("interval", "1.5 years", true, "1 year 6 mons"),
    ("interval", "0.5 mons", true, "15 days"),
    ("interval", "90 minutes", true, "01:30:00"),
    ("interval", "1 hour 30 minutes 10.5 seconds", true, "01:30:10.5"),
    ("interval", "-00:00:00.5", true, "-00:00:00.5"),
    ("interval", "3 days ago", true, "-3 days"),
    ("interval", "1 year 1 day ago", true, "-1 years -1 days"),
    ("interval", "1 millisecond", true, "00:00:00.001"),
    ("interval", "0", true, "00:00:00"),
    ("interval", "1 decade", true, "10 years"),
    ("interval", "P1W", true, "7 days"),
    ("interval", "PT1.5S", true, "00:00:01.5"),
    ("interval", "12:34:56.789", true, "12:34:56.789"),
    ("interval", "1 day -1 hours", true, "1 day -01:00:00"),
    ("interval", "2 years -1 day +1 hour", true, "2 years -1 days +01:00:00"),
    ("uuid", "A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11", true, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("uuid", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", true, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    (
        "uuid",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        false,
        "22P02 invalid input syntax for type uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\"",
    ),
    ("jsonb", "[1, \"a\", true, null, {\"b\": [], \"a\": {}}]", true, "[1, \"a\", true, null, {\"a\": {}, \"b\": []}]"),
    ("jsonb", "\"\\u00e9\\n\"", true, "\"é\\n\""),
    ("jsonb", "-0.0", true, "0.0"),
    ("jsonb", "1E+2", true, "100"),
    ("jsonb", "{\"aaa\":1,\"b\":2,\"aa\":3}", true, "{\"b\": 2, \"aa\": 3, \"aaa\": 1}"),
    ("jsonb", "[1,]", false, "22P02 invalid input syntax for type json"),
    ("json", "  [1, 2]  ", true, "  [1, 2]  "),
    ("bytea", "\\x DE AD be ef", true, "\\xdeadbeef"),
    ("bytea", "\\xabc", false, "22023 invalid hexadecimal data: odd number of digits"),
    ("bytea", "a\\\\b", true, "\\x615c62"),
    ("bytea", "\\x", true, "\\x"),
    ("_text", "{\"a\\\"b\",\"c\\\\d\",\" x \",y z}", true, "{\"a\\\"b\",\"c\\\\d\",\" x \",\"y z\"}"),
    ("_text", "{{\"a\",b},{NULL,\"\"}}", true, "{{a,b},{NULL,\"\"}}"),
    ("_int4", "{1,2}x", false, "22P02 malformed array literal: \"{1,2}x\""),
    ("_int4", "{1,{2}}", false, "22P02 malformed array literal: \"{1,{2}}\""),
    ("_int4", "[1:2]={1,2}", true, "{1,2}"),
    ("_int4", "{   }", true, "{}"),
    ("_float8", "{1.5,NaN,-Infinity}", true, "{1.5,NaN,-Infinity}"),
    ("_numeric", "{1.50,2}", true, "{1.50,2}"),
    ("_bool", "{t,false,NULL}", true, "{t,f,NULL}"),
    ("_date", "{2024-01-31,infinity}", true, "{2024-01-31,infinity}"),
    ("_timestamptz", "{\"2024-01-31 13:45:00+02\"}", true, "{\"2024-01-31 11:45:00+00\"}"),
    ("_uuid", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", true, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
    ("_jsonb", "{\"{\\\"a\\\":1}\"}", true, "{\"{\\\"a\\\": 1}\"}"),
    ("_bytea", "{\"\\\\x01\",NULL}", true, "{\"\\\\x01\",NULL}"),
    ("_varchar", "{a,\"b c\"}", true, "{a,\"b c\"}"),
    ("_char", "{a,b}", true, "{a,b}"),
    ("int2vector", "1  2 3", true, "1 2 3"),
    ("oidvector", "1 4294967295", true, "1 4294967295"),
    ("name", "hello world", true, "hello world"),
    ("char", "ab", true, "a"),
    ("bpchar", "ab", true, "ab"),
    ("varchar", "abc", true, "abc"),
    ("date", "2024-01-31 +02", true, "2024-01-31"),
    ("date", "2024-01-31 +02:00", true, "2024-01-31"),
    ("timestamptz", "2024-01-31 13:45:00.5+02:00:00", true, "2024-01-31 11:45:00.5+00"),
    ("timestamptz", "2024-01-31 13:45:00 +0200", true, "2024-01-31 11:45:00+00"),
    ("timestamptz", "2024-01-31 13:45:00.5 z", true, "2024-01-31 13:45:00.5+00"),
    ("timestamptz", "2024-01-31 +02", true, "2024-01-30 22:00:00+00"),
    ("timestamptz", "2024-01-31 13:45:00-0330", true, "2024-01-31 17:15:00+00"),
    ("timestamptz", "2024-01-31 13:45:00 UTC", true, "2024-01-31 13:45:00+00"),
    ("timestamptz", "2024-01-31 13:45:00 GMT", true, "2024-01-31 13:45:00+00"),
    ("timestamptz", "2024-01-31 13:45:00+00 BC", true, "2024-01-31 13:45:00+00 BC"),
    ("timestamp", "  2024-01-31   13:45  ", true, "2024-01-31 13:45:00"),
    ("timestamp", "2024-01-31 13:45:00.1234565", true, "2024-01-31 13:45:00.123456"),
    ("timestamp", "2024-01-31 13:45:00.1234575", true, "2024-01-31 13:45:00.123458"),
    ("date", "Jan 31 2024", true, "2024-01-31"),
    ("date", "January 31, 2024", true, "2024-01-31"),
    ("timestamp", "2024-01-31 1:2:3", true, "2024-01-31 01:02:03"),
    ("timestamp", "2024-01-31 13:45:60", true, "2024-01-31 13:46:00"),
    ("timestamp", "2024-01-31 23:59:60", true, "2024-02-01 00:00:00"),
    ("time", "13:45:00 +02", true, "13:45:00"),
    ("time", "allballs", true, "00:00:00"),
    (
        "date",
        "today",
        false,
        "0A000 date/time value \"today\" is not supported here: write the value, or use now() or current_date",
    ),
    ("date", "24-01-31", false, "22008 date/time field value out of range: \"24-01-31\""),
    ("date", "2024-13-01", false, "22008 date/time field value out of range: \"2024-13-01\""),
    ("date", "31/01/2024", false, "22008 date/time field value out of range: \"31/01/2024\""),
    ("interval", "1 day 1 day", false, "22007 invalid input syntax for type interval: \"1 day 1 day\""),
    ("interval", "1 hour ago", true, "-01:00:00"),
    ("interval", "-1 year -2 mons", true, "-1 years -2 mons"),
    ("interval", "+1 hour", true, "01:00:00"),
    ("interval", "1 sec", true, "00:00:01"),
    ("interval", "1y 2mon", true, "1 year 2 mons"),
    ("interval", "10 secs", true, "00:00:10"),
    ("interval", "1.5 weeks", true, "10 days 12:00:00"),
    ("interval", "0.1 years", true, "1 mon"),
    ("interval", "1 century 1 millennium", true, "1100 years"),
    ("interval", "1:30:45.5", true, "01:30:45.5"),
    ("interval", "100:00", true, "100:00:00"),
    ("interval", "P1.5D", true, "1 day 12:00:00"),
    ("interval", "PT0S", true, "00:00:00"),
    ("interval", "P0D", true, "00:00:00"),
    ("interval", "1 fortnight", false, "22007 invalid input syntax for type interval: \"1 fortnight\""),
    ("interval", "", false, "22007 invalid input syntax for type interval: \"\""),
];

#[test]
fn inputs_print_as_postgres_15_prints_them() {
    let mut wrong = Vec::new();
    for (name, value, ok, expected) in POSTGRES_15 {
        let ty = if *name == "char" { T::Char } else { type_and_typmod(name).unwrap().0 };
        let got = match input(ty, value, -1).and_then(|v| cast(&v, ty, T::Text, -1)) {
            Ok(v) => (true, raw_text(&v)),
            Err(e) => (false, format!("{} {}", e.code, e.message)),
        };
        if got != (*ok, (*expected).to_owned()) {
            wrong.push(format!("{value:?}::{name}: PostgreSQL {expected:?}, here {:?}", got.1));
        }
    }
    assert!(wrong.is_empty(), "{} of {}:\n{}", wrong.len(), POSTGRES_15.len(), wrong.join("\n"));
}

/// `SELECT (('value'::from)::to)::text` in PostgreSQL 15: the text, or the SQLSTATE and message of its error.
const CASTS_15: &[(&str, &str, &str, bool, &str)] = &[
    ("1.5", "numeric", "int2", true, "2"),
    ("-1.5", "numeric", "int8", true, "-2"),
    ("0.5", "float8", "int4", true, "0"),
    ("-0.5", "float8", "int4", true, "0"),
    ("1.5", "float8", "int8", true, "2"),
    ("32767.5", "float4", "int2", false, "22003 smallint out of range"),
    ("NaN", "numeric", "int4", false, "0A000 cannot convert NaN to integer"),
    ("Infinity", "numeric", "int8", false, "0A000 cannot convert infinity to bigint"),
    ("12345.678", "numeric", "float4", true, "12345.678"),
    ("1e300", "float8", "float4", false, "22003 value out of range: overflow"),
    ("1e-300", "float8", "float4", false, "22003 value out of range: underflow"),
    ("3.14159265358979", "float8", "numeric", true, "3.14159265358979"),
    ("1e-5", "float4", "numeric", true, "0.00001"),
    ("123.456", "numeric", "numeric(5,1)", true, "123.5"),
    ("0.001", "numeric", "numeric(3,3)", true, "0.001"),
    ("5", "int4", "numeric(3,2)", true, "5.00"),
    ("1000", "int4", "numeric(3,2)", false, "22003 numeric field overflow"),
    ("-1", "int4", "oid", true, "4294967295"),
    ("4294967295", "int8", "oid", true, "4294967295"),
    ("65", "int4", "\"char\"", true, "A"),
    ("a", "\"char\"", "int4", true, "97"),
    ("2024-01-31 13:45:00.5+00", "timestamptz", "date", true, "2024-01-31"),
    ("2024-01-31 13:45:00.5", "timestamp", "time", true, "13:45:00.5"),
    ("2024-01-31 13:45:00.5", "timestamp", "timestamptz", true, "2024-01-31 13:45:00.5+00"),
    ("2024-01-31", "date", "timestamp", true, "2024-01-31 00:00:00"),
    ("13:45", "time", "interval", true, "13:45:00"),
    ("1 day 02:03:04", "interval", "time", true, "02:03:04"),
    ("-1 hours", "interval", "time", true, "23:00:00"),
    ("2024-01-31 13:45:00.56", "timestamp", "timestamp(1)", true, "2024-01-31 13:45:00.6"),
    ("{\"a\": 1}", "jsonb", "json", true, "{\"a\": 1}"),
    ("{\"b\":2, \"a\" : 1}", "json", "jsonb", true, "{\"a\": 1, \"b\": 2}"),
    ("1.50", "jsonb", "numeric", true, "1.50"),
    ("true", "jsonb", "bool", true, "true"),
    ("\"x\"", "jsonb", "int4", false, "22023 cannot cast jsonb string to type integer"),
    ("1.5", "jsonb", "int4", true, "2"),
    ("null", "jsonb", "int4", false, "22023 cannot cast jsonb null to type integer"),
    ("{1.5,2.5}", "_numeric", "_int4", true, "{2,3}"),
    ("{1,2}", "_int4", "_text", true, "{1,2}"),
    ("{a,b}", "_text", "_int4", false, "22P02 invalid input syntax for type integer: \"a\""),
    ("t", "bool", "int4", true, "1"),
    ("0", "int4", "bool", true, "false"),
    ("1", "int8", "bool", false, "42846 cannot cast type bigint to boolean"),
    ("2024-01-31", "date", "int4", false, "42846 cannot cast type date to integer"),
    ("1", "int4", "date", false, "42846 cannot cast type integer to date"),
    ("abc", "text", "bytea", true, "\\x616263"),
    ("\\x6869", "bytea", "text", true, "\\x6869"),
    ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid", "text", true, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("abcdef", "text", "varchar(3)", true, "abc"),
    ("abcdef", "text", "bpchar(3)", true, "abc"),
    ("ab", "varchar", "bpchar(4)", true, "ab"),
    ("1 2", "int2vector", "text", true, "1 2"),
    ("1.5", "float8", "text", true, "1.5"),
    ("100000000000000000000", "float8", "text", true, "1e+20"),
    ("1", "int4", "float4", true, "1"),
];

#[test]
fn casts_as_postgres_15_casts() {
    let mut wrong = Vec::new();
    for (value, from, to, ok, expected) in CASTS_15 {
        let (from_ty, _) = type_and_typmod(from).unwrap();
        let (to_ty, typmod) = type_and_typmod(to).unwrap();
        let result = input(from_ty, value, -1)
            .and_then(|v| cast(&v, from_ty, to_ty, typmod))
            .and_then(|v| cast(&v, to_ty, T::Text, -1));
        let got = match result {
            Ok(v) => (true, raw_text(&v)),
            Err(e) => (false, format!("{} {}", e.code, e.message)),
        };
        if got != (*ok, (*expected).to_owned()) {
            wrong.push(format!("{value:?}::{from}::{to}: PostgreSQL {expected:?}, here {:?}", got.1));
        }
    }
    assert!(wrong.is_empty(), "{} of {}:\n{}", wrong.len(), CASTS_15.len(), wrong.join("\n"));
}

/// What PostgreSQL 15 answers for the operator or function each SQLite function stands for (`'1.5'::numeric +
/// '2.25'::numeric`, `date_trunc(...)`, `extract(...)`), as text, or the SQLSTATE and message of its error.
const FUNCTIONS_15: &[(&str, bool, &str)] = &[
    (
        "SELECT pg_date_trunc('microseconds', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days 02:34:56.789123",
    ),
    ("SELECT pg_date_trunc('microseconds', '-1 days -02:34:56.789123', 'interval')", true, "-1 days -02:34:56.789123"),
    ("SELECT pg_date_trunc('microseconds', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('milliseconds', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days 02:34:56.789",
    ),
    ("SELECT pg_date_trunc('milliseconds', '-1 days -02:34:56.789123', 'interval')", true, "-1 days -02:34:56.789"),
    ("SELECT pg_date_trunc('milliseconds', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('second', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days 02:34:56",
    ),
    ("SELECT pg_date_trunc('second', '-1 days -02:34:56.789123', 'interval')", true, "-1 days -02:34:56"),
    ("SELECT pg_date_trunc('second', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('minute', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days 02:34:00",
    ),
    ("SELECT pg_date_trunc('minute', '-1 days -02:34:56.789123', 'interval')", true, "-1 days -02:34:00"),
    ("SELECT pg_date_trunc('minute', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('hour', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days 02:00:00",
    ),
    ("SELECT pg_date_trunc('hour', '-1 days -02:34:56.789123', 'interval')", true, "-1 days -02:00:00"),
    ("SELECT pg_date_trunc('hour', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('day', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons 3 days",
    ),
    ("SELECT pg_date_trunc('day', '-1 days -02:34:56.789123', 'interval')", true, "-1 days"),
    ("SELECT pg_date_trunc('day', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('week', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        false,
        "0A000 unit \"week\" not supported for type interval",
    ),
    (
        "SELECT pg_date_trunc('week', '-1 days -02:34:56.789123', 'interval')",
        false,
        "0A000 unit \"week\" not supported for type interval",
    ),
    (
        "SELECT pg_date_trunc('week', '-17 mons', 'interval')",
        false,
        "0A000 unit \"week\" not supported for type interval",
    ),
    (
        "SELECT pg_date_trunc('month', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 11 mons",
    ),
    ("SELECT pg_date_trunc('month', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('month', '-17 mons', 'interval')", true, "-1 years -5 mons"),
    (
        "SELECT pg_date_trunc('quarter', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        true,
        "1234 years 9 mons",
    ),
    ("SELECT pg_date_trunc('quarter', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('quarter', '-17 mons', 'interval')", true, "-1 years -3 mons"),
    ("SELECT pg_date_trunc('year', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')", true, "1234 years"),
    ("SELECT pg_date_trunc('year', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('year', '-17 mons', 'interval')", true, "-1 years"),
    ("SELECT pg_date_trunc('decade', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')", true, "1230 years"),
    ("SELECT pg_date_trunc('decade', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('decade', '-17 mons', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('century', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')", true, "1200 years"),
    ("SELECT pg_date_trunc('century', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('century', '-17 mons', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('millennium', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')", true, "1000 years"),
    ("SELECT pg_date_trunc('millennium', '-1 days -02:34:56.789123', 'interval')", true, "00:00:00"),
    ("SELECT pg_date_trunc('millennium', '-17 mons', 'interval')", true, "00:00:00"),
    (
        "SELECT pg_date_trunc('foo', '1234 years 11 mons 3 days 02:34:56.789123', 'interval')",
        false,
        "22023 unit \"foo\" not recognized for type interval",
    ),
    (
        "SELECT pg_date_trunc('foo', '-1 days -02:34:56.789123', 'interval')",
        false,
        "22023 unit \"foo\" not recognized for type interval",
    ),
    (
        "SELECT pg_date_trunc('foo', '-17 mons', 'interval')",
        false,
        "22023 unit \"foo\" not recognized for type interval",
    ),
    ("SELECT pg_date_trunc('month', '2024-05-15', 'date')", true, "2024-05-01 00:00:00+00"),
    ("SELECT pg_date_part('second', '2024-05-15 13:45:12.5', 'timestamp')", true, "12.5"),
    ("SELECT pg_date_diff('2024-03-01', '2024-01-01')", true, "60"),
    ("SELECT pg_cast('{1.5,2.5}', '_numeric', '_int4')", true, "{2,3}"),
    ("SELECT pg_numeric_cmp('2.50', '2.5')", true, "0"),
    ("SELECT pg_numeric_add('1.5', '2.25')", true, "3.75"),
    ("SELECT pg_numeric_sub('1.5', '2.25')", true, "-0.75"),
    ("SELECT pg_numeric_mul('1.5', '2.25')", true, "3.375"),
    ("SELECT pg_numeric_div('1.5', '2.25')", true, "0.66666666666666666667"),
    ("SELECT pg_numeric_mod('1.5', '2.25')", true, "1.50"),
    ("SELECT pg_numeric_add('-7', '3')", true, "-4"),
    ("SELECT pg_numeric_sub('-7', '3')", true, "-10"),
    ("SELECT pg_numeric_mul('-7', '3')", true, "-21"),
    ("SELECT pg_numeric_div('-7', '3')", true, "-2.3333333333333333"),
    ("SELECT pg_numeric_mod('-7', '3')", true, "-1"),
    ("SELECT pg_numeric_add('7', '-3')", true, "4"),
    ("SELECT pg_numeric_sub('7', '-3')", true, "10"),
    ("SELECT pg_numeric_mul('7', '-3')", true, "-21"),
    ("SELECT pg_numeric_div('7', '-3')", true, "-2.3333333333333333"),
    ("SELECT pg_numeric_mod('7', '-3')", true, "1"),
    ("SELECT pg_numeric_add('1', '7')", true, "8"),
    ("SELECT pg_numeric_sub('1', '7')", true, "-6"),
    ("SELECT pg_numeric_mul('1', '7')", true, "7"),
    ("SELECT pg_numeric_div('1', '7')", true, "0.14285714285714285714"),
    ("SELECT pg_numeric_mod('1', '7')", true, "1"),
    ("SELECT pg_numeric_add('2', '3.0000')", true, "5.0000"),
    ("SELECT pg_numeric_sub('2', '3.0000')", true, "-1.0000"),
    ("SELECT pg_numeric_mul('2', '3.0000')", true, "6.0000"),
    ("SELECT pg_numeric_div('2', '3.0000')", true, "0.66666666666666666667"),
    ("SELECT pg_numeric_mod('2', '3.0000')", true, "2.0000"),
    ("SELECT pg_numeric_add('123456789.123', '0.001')", true, "123456789.124"),
    ("SELECT pg_numeric_sub('123456789.123', '0.001')", true, "123456789.122"),
    ("SELECT pg_numeric_mul('123456789.123', '0.001')", true, "123456.789123"),
    ("SELECT pg_numeric_div('123456789.123', '0.001')", true, "123456789123.00000000"),
    ("SELECT pg_numeric_mod('123456789.123', '0.001')", true, "0.000"),
    ("SELECT pg_numeric_add('0.1', '0.3')", true, "0.4"),
    ("SELECT pg_numeric_sub('0.1', '0.3')", true, "-0.2"),
    ("SELECT pg_numeric_mul('0.1', '0.3')", true, "0.03"),
    ("SELECT pg_numeric_div('0.1', '0.3')", true, "0.33333333333333333333"),
    ("SELECT pg_numeric_mod('0.1', '0.3')", true, "0.1"),
    ("SELECT pg_numeric_add('-0.5', '0.25')", true, "-0.25"),
    ("SELECT pg_numeric_sub('-0.5', '0.25')", true, "-0.75"),
    ("SELECT pg_numeric_mul('-0.5', '0.25')", true, "-0.125"),
    ("SELECT pg_numeric_div('-0.5', '0.25')", true, "-2.0000000000000000"),
    ("SELECT pg_numeric_mod('-0.5', '0.25')", true, "0.00"),
    ("SELECT pg_numeric_add('1e20', '3')", true, "100000000000000000003"),
    ("SELECT pg_numeric_sub('1e20', '3')", true, "99999999999999999997"),
    ("SELECT pg_numeric_mul('1e20', '3')", true, "300000000000000000000"),
    ("SELECT pg_numeric_div('1e20', '3')", true, "33333333333333333333"),
    ("SELECT pg_numeric_mod('1e20', '3')", true, "1"),
    ("SELECT pg_numeric_add('99', '100')", true, "199"),
    ("SELECT pg_numeric_sub('99', '100')", true, "-1"),
    ("SELECT pg_numeric_mul('99', '100')", true, "9900"),
    ("SELECT pg_numeric_div('99', '100')", true, "0.99000000000000000000"),
    ("SELECT pg_numeric_mod('99', '100')", true, "99"),
    ("SELECT pg_numeric_add('1', '0')", true, "1"),
    ("SELECT pg_numeric_sub('1', '0')", true, "1"),
    ("SELECT pg_numeric_mul('1', '0')", true, "0"),
    ("SELECT pg_numeric_div('1', '0')", false, "22012 division by zero"),
    ("SELECT pg_numeric_mod('1', '0')", false, "22012 division by zero"),
    ("SELECT pg_numeric_add('NaN', '1')", true, "NaN"),
    ("SELECT pg_numeric_sub('NaN', '1')", true, "NaN"),
    ("SELECT pg_numeric_mul('NaN', '1')", true, "NaN"),
    ("SELECT pg_numeric_div('NaN', '1')", true, "NaN"),
    ("SELECT pg_numeric_mod('NaN', '1')", true, "NaN"),
    ("SELECT pg_numeric_add('Infinity', '-Infinity')", true, "NaN"),
    ("SELECT pg_numeric_sub('Infinity', '-Infinity')", true, "Infinity"),
    ("SELECT pg_numeric_mul('Infinity', '-Infinity')", true, "-Infinity"),
    ("SELECT pg_numeric_div('Infinity', '-Infinity')", true, "NaN"),
    ("SELECT pg_numeric_mod('Infinity', '-Infinity')", true, "NaN"),
    ("SELECT pg_numeric_add('Infinity', '2')", true, "Infinity"),
    ("SELECT pg_numeric_sub('Infinity', '2')", true, "Infinity"),
    ("SELECT pg_numeric_mul('Infinity', '2')", true, "Infinity"),
    ("SELECT pg_numeric_div('Infinity', '2')", true, "Infinity"),
    ("SELECT pg_numeric_mod('Infinity', '2')", true, "NaN"),
    ("SELECT pg_numeric_add('5.5', 'Infinity')", true, "Infinity"),
    ("SELECT pg_numeric_sub('5.5', 'Infinity')", true, "-Infinity"),
    ("SELECT pg_numeric_mul('5.5', 'Infinity')", true, "Infinity"),
    ("SELECT pg_numeric_div('5.5', 'Infinity')", true, "0"),
    ("SELECT pg_numeric_mod('5.5', 'Infinity')", true, "5.5"),
    ("SELECT pg_numeric_add('0.000001', '7')", true, "7.000001"),
    ("SELECT pg_numeric_sub('0.000001', '7')", true, "-6.999999"),
    ("SELECT pg_numeric_mul('0.000001', '7')", true, "0.000007"),
    ("SELECT pg_numeric_div('0.000001', '7')", true, "0.000000142857142857142857"),
    ("SELECT pg_numeric_mod('0.000001', '7')", true, "0.000001"),
    ("SELECT pg_numeric_add('100', '0.0001')", true, "100.0001"),
    ("SELECT pg_numeric_sub('100', '0.0001')", true, "99.9999"),
    ("SELECT pg_numeric_mul('100', '0.0001')", true, "0.0100"),
    ("SELECT pg_numeric_div('100', '0.0001')", true, "1000000.000000000000"),
    ("SELECT pg_numeric_mod('100', '0.0001')", true, "0.0000"),
    ("SELECT pg_int_div(7, 2, 'int4')", true, "3"),
    ("SELECT pg_int_mod(7, 2, 'int4')", true, "1"),
    ("SELECT pg_int_div(-7, 2, 'int4')", true, "-3"),
    ("SELECT pg_int_mod(-7, 2, 'int4')", true, "-1"),
    ("SELECT pg_int_div(7, -2, 'int8')", true, "-3"),
    ("SELECT pg_int_mod(7, -2, 'int8')", true, "1"),
    ("SELECT pg_int_div(-2147483648, -1, 'int4')", false, "22003 integer out of range"),
    ("SELECT pg_int_mod(-2147483648, -1, 'int4')", true, "0"),
    ("SELECT pg_int_div(5, 0, 'int8')", false, "22012 division by zero"),
    ("SELECT pg_int_mod(5, 0, 'int8')", false, "22012 division by zero"),
    ("SELECT pg_int_div(-32768, -1, 'int2')", false, "22003 smallint out of range"),
    ("SELECT pg_int_mod(-32768, -1, 'int2')", true, "0"),
    ("SELECT pg_ts_add_interval('2024-01-31 10:00:00', '1 mon', 'timestamp')", true, "2024-02-29 10:00:00"),
    ("SELECT pg_ts_sub_interval('2024-01-31 10:00:00', '1 mon', 'timestamp')", true, "2023-12-31 10:00:00"),
    ("SELECT pg_ts_add_interval('2024-02-29 00:00:00', '1 year', 'timestamp')", true, "2025-02-28 00:00:00"),
    ("SELECT pg_ts_sub_interval('2024-02-29 00:00:00', '1 year', 'timestamp')", true, "2023-02-28 00:00:00"),
    ("SELECT pg_ts_add_interval('2024-03-31 10:00:00+00', '-1 mon', 'timestamptz')", true, "2024-02-29 10:00:00+00"),
    ("SELECT pg_ts_sub_interval('2024-03-31 10:00:00+00', '-1 mon', 'timestamptz')", true, "2024-04-30 10:00:00+00"),
    ("SELECT pg_ts_add_interval('2024-01-31', '1 day 02:00:00', 'date')", true, "2024-02-01 02:00:00"),
    ("SELECT pg_ts_sub_interval('2024-01-31', '1 day 02:00:00', 'date')", true, "2024-01-29 22:00:00"),
    ("SELECT pg_ts_add_interval('2023-12-31 23:59:59.5', '0.5 seconds', 'timestamp')", true, "2024-01-01 00:00:00"),
    ("SELECT pg_ts_sub_interval('2023-12-31 23:59:59.5', '0.5 seconds', 'timestamp')", true, "2023-12-31 23:59:59"),
    ("SELECT pg_ts_add_interval('2024-01-01 00:00:00', '-1 days +02:00:00', 'timestamp')", true, "2023-12-31 02:00:00"),
    ("SELECT pg_ts_sub_interval('2024-01-01 00:00:00', '-1 days +02:00:00', 'timestamp')", true, "2024-01-01 22:00:00"),
    ("SELECT pg_ts_diff('2024-03-01 00:00:00', '2024-01-01 01:00:00')", true, "59 days 23:00:00"),
    ("SELECT pg_ts_diff('2024-01-01 00:00:00', '2024-03-01 01:00:00.5')", true, "-60 days -01:00:00.5"),
    ("SELECT pg_ts_diff('2024-01-01 00:00:00', '2024-01-01 00:00:00')", true, "00:00:00"),
    ("SELECT pg_date_add_int('2024-02-28', 1)", true, "2024-02-29"),
    ("SELECT pg_date_add_int('2024-03-01', -1)", true, "2024-02-29"),
    ("SELECT pg_date_add_int('2024-12-31', 366)", true, "2026-01-01"),
    (
        "SELECT pg_date_trunc('microseconds', '2024-05-15 13:45:12.345678', 'timestamp')",
        true,
        "2024-05-15 13:45:12.345678",
    ),
    (
        "SELECT pg_date_trunc('microseconds', '1999-12-31 23:59:59.999999', 'timestamp')",
        true,
        "1999-12-31 23:59:59.999999",
    ),
    ("SELECT pg_date_trunc('microseconds', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    (
        "SELECT pg_date_trunc('milliseconds', '2024-05-15 13:45:12.345678', 'timestamp')",
        true,
        "2024-05-15 13:45:12.345",
    ),
    (
        "SELECT pg_date_trunc('milliseconds', '1999-12-31 23:59:59.999999', 'timestamp')",
        true,
        "1999-12-31 23:59:59.999",
    ),
    ("SELECT pg_date_trunc('milliseconds', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('second', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-15 13:45:12"),
    ("SELECT pg_date_trunc('second', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-31 23:59:59"),
    ("SELECT pg_date_trunc('second', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('minute', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-15 13:45:00"),
    ("SELECT pg_date_trunc('minute', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-31 23:59:00"),
    ("SELECT pg_date_trunc('minute', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('hour', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-15 13:00:00"),
    ("SELECT pg_date_trunc('hour', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-31 23:00:00"),
    ("SELECT pg_date_trunc('hour', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('day', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-15 00:00:00"),
    ("SELECT pg_date_trunc('day', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-31 00:00:00"),
    ("SELECT pg_date_trunc('day', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('week', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-13 00:00:00"),
    ("SELECT pg_date_trunc('week', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-27 00:00:00"),
    ("SELECT pg_date_trunc('week', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-05-27 00:00:00 BC"),
    ("SELECT pg_date_trunc('month', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-05-01 00:00:00"),
    ("SELECT pg_date_trunc('month', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-12-01 00:00:00"),
    ("SELECT pg_date_trunc('month', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-06-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('quarter', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-04-01 00:00:00"),
    ("SELECT pg_date_trunc('quarter', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-10-01 00:00:00"),
    ("SELECT pg_date_trunc('quarter', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-04-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('year', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024-01-01 00:00:00"),
    ("SELECT pg_date_trunc('year', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1999-01-01 00:00:00"),
    ("SELECT pg_date_trunc('year', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0005-01-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('decade', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2020-01-01 00:00:00"),
    ("SELECT pg_date_trunc('decade', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1990-01-01 00:00:00"),
    ("SELECT pg_date_trunc('decade', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0011-01-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('century', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2001-01-01 00:00:00"),
    ("SELECT pg_date_trunc('century', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1901-01-01 00:00:00"),
    ("SELECT pg_date_trunc('century', '0005-06-01 00:00:00 BC', 'timestamp')", true, "0100-01-01 00:00:00 BC"),
    ("SELECT pg_date_trunc('millennium', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2001-01-01 00:00:00"),
    ("SELECT pg_date_trunc('millennium', '1999-12-31 23:59:59.999999', 'timestamp')", true, "1001-01-01 00:00:00"),
    ("SELECT pg_date_trunc('millennium', '0005-06-01 00:00:00 BC', 'timestamp')", true, "1000-01-01 00:00:00 BC"),
    (
        "SELECT pg_date_trunc('fortnight', '2024-05-15 13:45:12.345678', 'timestamp')",
        false,
        "22023 unit \"fortnight\" not recognized for type timestamp without time zone",
    ),
    (
        "SELECT pg_date_trunc('fortnight', '1999-12-31 23:59:59.999999', 'timestamp')",
        false,
        "22023 unit \"fortnight\" not recognized for type timestamp without time zone",
    ),
    (
        "SELECT pg_date_trunc('fortnight', '0005-06-01 00:00:00 BC', 'timestamp')",
        false,
        "22023 unit \"fortnight\" not recognized for type timestamp without time zone",
    ),
    ("SELECT pg_extract('microseconds', '2024-05-15 13:45:12.345678', 'timestamp')", true, "12345678"),
    ("SELECT pg_extract('microseconds', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "12345678"),
    (
        "SELECT pg_extract('microseconds', '2021-01-03', 'date')",
        false,
        "0A000 unit \"microseconds\" not supported for type date",
    ),
    (
        "SELECT pg_extract('microseconds', '0005-06-01 BC', 'date')",
        false,
        "0A000 unit \"microseconds\" not supported for type date",
    ),
    ("SELECT pg_extract('microseconds', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "6500000"),
    ("SELECT pg_extract('microseconds', '-1 days -02:00:00', 'interval')", true, "0"),
    ("SELECT pg_extract('microseconds', '13:45:12.5', 'time')", true, "12500000"),
    ("SELECT pg_extract('milliseconds', '2024-05-15 13:45:12.345678', 'timestamp')", true, "12345.678"),
    ("SELECT pg_extract('milliseconds', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "12345.678"),
    (
        "SELECT pg_extract('milliseconds', '2021-01-03', 'date')",
        false,
        "0A000 unit \"milliseconds\" not supported for type date",
    ),
    (
        "SELECT pg_extract('milliseconds', '0005-06-01 BC', 'date')",
        false,
        "0A000 unit \"milliseconds\" not supported for type date",
    ),
    ("SELECT pg_extract('milliseconds', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "6500.000"),
    ("SELECT pg_extract('milliseconds', '-1 days -02:00:00', 'interval')", true, "0.000"),
    ("SELECT pg_extract('milliseconds', '13:45:12.5', 'time')", true, "12500.000"),
    ("SELECT pg_extract('second', '2024-05-15 13:45:12.345678', 'timestamp')", true, "12.345678"),
    ("SELECT pg_extract('second', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "12.345678"),
    ("SELECT pg_extract('second', '2021-01-03', 'date')", false, "0A000 unit \"second\" not supported for type date"),
    (
        "SELECT pg_extract('second', '0005-06-01 BC', 'date')",
        false,
        "0A000 unit \"second\" not supported for type date",
    ),
    ("SELECT pg_extract('second', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "6.500000"),
    ("SELECT pg_extract('second', '-1 days -02:00:00', 'interval')", true, "0.000000"),
    ("SELECT pg_extract('second', '13:45:12.5', 'time')", true, "12.500000"),
    ("SELECT pg_extract('minute', '2024-05-15 13:45:12.345678', 'timestamp')", true, "45"),
    ("SELECT pg_extract('minute', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "45"),
    ("SELECT pg_extract('minute', '2021-01-03', 'date')", false, "0A000 unit \"minute\" not supported for type date"),
    (
        "SELECT pg_extract('minute', '0005-06-01 BC', 'date')",
        false,
        "0A000 unit \"minute\" not supported for type date",
    ),
    ("SELECT pg_extract('minute', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "5"),
    ("SELECT pg_extract('minute', '-1 days -02:00:00', 'interval')", true, "0"),
    ("SELECT pg_extract('minute', '13:45:12.5', 'time')", true, "45"),
    ("SELECT pg_extract('hour', '2024-05-15 13:45:12.345678', 'timestamp')", true, "13"),
    ("SELECT pg_extract('hour', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "13"),
    ("SELECT pg_extract('hour', '2021-01-03', 'date')", false, "0A000 unit \"hour\" not supported for type date"),
    ("SELECT pg_extract('hour', '0005-06-01 BC', 'date')", false, "0A000 unit \"hour\" not supported for type date"),
    ("SELECT pg_extract('hour', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "4"),
    ("SELECT pg_extract('hour', '-1 days -02:00:00', 'interval')", true, "-2"),
    ("SELECT pg_extract('hour', '13:45:12.5', 'time')", true, "13"),
    ("SELECT pg_extract('day', '2024-05-15 13:45:12.345678', 'timestamp')", true, "15"),
    ("SELECT pg_extract('day', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "15"),
    ("SELECT pg_extract('day', '2021-01-03', 'date')", true, "3"),
    ("SELECT pg_extract('day', '0005-06-01 BC', 'date')", true, "1"),
    ("SELECT pg_extract('day', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "3"),
    ("SELECT pg_extract('day', '-1 days -02:00:00', 'interval')", true, "-1"),
    (
        "SELECT pg_extract('day', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"day\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('month', '2024-05-15 13:45:12.345678', 'timestamp')", true, "5"),
    ("SELECT pg_extract('month', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "5"),
    ("SELECT pg_extract('month', '2021-01-03', 'date')", true, "1"),
    ("SELECT pg_extract('month', '0005-06-01 BC', 'date')", true, "6"),
    ("SELECT pg_extract('month', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "2"),
    ("SELECT pg_extract('month', '-1 days -02:00:00', 'interval')", true, "0"),
    (
        "SELECT pg_extract('month', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"month\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('quarter', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2"),
    ("SELECT pg_extract('quarter', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "2"),
    ("SELECT pg_extract('quarter', '2021-01-03', 'date')", true, "1"),
    ("SELECT pg_extract('quarter', '0005-06-01 BC', 'date')", true, "2"),
    ("SELECT pg_extract('quarter', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "1"),
    ("SELECT pg_extract('quarter', '-1 days -02:00:00', 'interval')", true, "1"),
    (
        "SELECT pg_extract('quarter', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"quarter\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('year', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024"),
    ("SELECT pg_extract('year', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "2024"),
    ("SELECT pg_extract('year', '2021-01-03', 'date')", true, "2021"),
    ("SELECT pg_extract('year', '0005-06-01 BC', 'date')", true, "-5"),
    ("SELECT pg_extract('year', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "1"),
    ("SELECT pg_extract('year', '-1 days -02:00:00', 'interval')", true, "0"),
    (
        "SELECT pg_extract('year', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"year\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('decade', '2024-05-15 13:45:12.345678', 'timestamp')", true, "202"),
    ("SELECT pg_extract('decade', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "202"),
    ("SELECT pg_extract('decade', '2021-01-03', 'date')", true, "202"),
    ("SELECT pg_extract('decade', '0005-06-01 BC', 'date')", true, "-1"),
    ("SELECT pg_extract('decade', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "0"),
    ("SELECT pg_extract('decade', '-1 days -02:00:00', 'interval')", true, "0"),
    (
        "SELECT pg_extract('decade', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"decade\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('century', '2024-05-15 13:45:12.345678', 'timestamp')", true, "21"),
    ("SELECT pg_extract('century', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "21"),
    ("SELECT pg_extract('century', '2021-01-03', 'date')", true, "21"),
    ("SELECT pg_extract('century', '0005-06-01 BC', 'date')", true, "-1"),
    ("SELECT pg_extract('century', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "0"),
    ("SELECT pg_extract('century', '-1 days -02:00:00', 'interval')", true, "0"),
    (
        "SELECT pg_extract('century', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"century\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('millennium', '2024-05-15 13:45:12.345678', 'timestamp')", true, "3"),
    ("SELECT pg_extract('millennium', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "3"),
    ("SELECT pg_extract('millennium', '2021-01-03', 'date')", true, "3"),
    ("SELECT pg_extract('millennium', '0005-06-01 BC', 'date')", true, "-1"),
    ("SELECT pg_extract('millennium', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "0"),
    ("SELECT pg_extract('millennium', '-1 days -02:00:00', 'interval')", true, "0"),
    (
        "SELECT pg_extract('millennium', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"millennium\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('dow', '2024-05-15 13:45:12.345678', 'timestamp')", true, "3"),
    ("SELECT pg_extract('dow', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "3"),
    ("SELECT pg_extract('dow', '2021-01-03', 'date')", true, "0"),
    ("SELECT pg_extract('dow', '0005-06-01 BC', 'date')", true, "6"),
    (
        "SELECT pg_extract('dow', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"dow\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('dow', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"dow\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('dow', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"dow\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('isodow', '2024-05-15 13:45:12.345678', 'timestamp')", true, "3"),
    ("SELECT pg_extract('isodow', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "3"),
    ("SELECT pg_extract('isodow', '2021-01-03', 'date')", true, "7"),
    ("SELECT pg_extract('isodow', '0005-06-01 BC', 'date')", true, "6"),
    (
        "SELECT pg_extract('isodow', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"isodow\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('isodow', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"isodow\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('isodow', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"isodow\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('doy', '2024-05-15 13:45:12.345678', 'timestamp')", true, "136"),
    ("SELECT pg_extract('doy', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "136"),
    ("SELECT pg_extract('doy', '2021-01-03', 'date')", true, "3"),
    ("SELECT pg_extract('doy', '0005-06-01 BC', 'date')", true, "153"),
    (
        "SELECT pg_extract('doy', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"doy\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('doy', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"doy\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('doy', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"doy\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('week', '2024-05-15 13:45:12.345678', 'timestamp')", true, "20"),
    ("SELECT pg_extract('week', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "20"),
    ("SELECT pg_extract('week', '2021-01-03', 'date')", true, "53"),
    ("SELECT pg_extract('week', '0005-06-01 BC', 'date')", true, "22"),
    (
        "SELECT pg_extract('week', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"week\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('week', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"week\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('week', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"week\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('isoyear', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2024"),
    ("SELECT pg_extract('isoyear', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "2024"),
    ("SELECT pg_extract('isoyear', '2021-01-03', 'date')", true, "2020"),
    ("SELECT pg_extract('isoyear', '0005-06-01 BC', 'date')", true, "-5"),
    (
        "SELECT pg_extract('isoyear', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"isoyear\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('isoyear', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"isoyear\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('isoyear', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"isoyear\" not supported for type time without time zone",
    ),
    ("SELECT pg_extract('epoch', '2024-05-15 13:45:12.345678', 'timestamp')", true, "1715780712.345678"),
    ("SELECT pg_extract('epoch', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "1715780712.345678"),
    ("SELECT pg_extract('epoch', '2021-01-03', 'date')", true, "1609632000"),
    ("SELECT pg_extract('epoch', '0005-06-01 BC', 'date')", true, "-62280316800"),
    ("SELECT pg_extract('epoch', '1 year 2 mons 3 days 04:05:06.5', 'interval')", true, "37015506.500000"),
    ("SELECT pg_extract('epoch', '-1 days -02:00:00', 'interval')", true, "-93600.000000"),
    ("SELECT pg_extract('epoch', '13:45:12.5', 'time')", true, "49512.500000"),
    ("SELECT pg_extract('julian', '2024-05-15 13:45:12.345678', 'timestamp')", true, "2460446.57305955645833333333"),
    (
        "SELECT pg_extract('julian', '2024-05-15 13:45:12.345678+00', 'timestamptz')",
        true,
        "2460446.57305955645833333333",
    ),
    ("SELECT pg_extract('julian', '2021-01-03', 'date')", true, "2459218"),
    ("SELECT pg_extract('julian', '0005-06-01 BC', 'date')", true, "1719751"),
    (
        "SELECT pg_extract('julian', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"julian\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('julian', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"julian\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('julian', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"julian\" not supported for type time without time zone",
    ),
    (
        "SELECT pg_extract('timezone', '2024-05-15 13:45:12.345678', 'timestamp')",
        false,
        "0A000 unit \"timezone\" not supported for type timestamp without time zone",
    ),
    ("SELECT pg_extract('timezone', '2024-05-15 13:45:12.345678+00', 'timestamptz')", true, "0"),
    (
        "SELECT pg_extract('timezone', '2021-01-03', 'date')",
        false,
        "0A000 unit \"timezone\" not supported for type date",
    ),
    (
        "SELECT pg_extract('timezone', '0005-06-01 BC', 'date')",
        false,
        "0A000 unit \"timezone\" not supported for type date",
    ),
    (
        "SELECT pg_extract('timezone', '1 year 2 mons 3 days 04:05:06.5', 'interval')",
        false,
        "0A000 unit \"timezone\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('timezone', '-1 days -02:00:00', 'interval')",
        false,
        "0A000 unit \"timezone\" not supported for type interval",
    ),
    (
        "SELECT pg_extract('timezone', '13:45:12.5', 'time')",
        false,
        "0A000 unit \"timezone\" not supported for type time without time zone",
    ),
];

#[test]
fn sqlite_functions_answer_as_postgres_15() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    register(&conn).unwrap();
    let mut wrong = Vec::new();
    for (sql, ok, expected) in FUNCTIONS_15 {
        let got = match conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)) {
            Ok(v) => (true, raw_text(&Value::from(rusqlite::types::ValueRef::from(&v)))),
            Err(e) => {
                let e = crate::sql::sqlite::from_rusqlite(e);
                (false, format!("{} {}", e.code, e.message))
            }
        };
        if got != (*ok, (*expected).to_owned()) {
            wrong.push(format!("{sql}: PostgreSQL {expected:?}, here {:?}", got.1));
        }
    }
    assert!(wrong.is_empty(), "{} of {}:\n{}", wrong.len(), FUNCTIONS_15.len(), wrong.join("\n"));
}

/// `COPY (SELECT 'value'::type) TO STDOUT (FORMAT binary)` in PostgreSQL 15: each value's binary form.
const BINARY_15: &[(&str, &str, &str)] = &[
    ("float4", "3.14159", "40490fd0"),
    ("float4", "-1e-10", "aedbe6ff"),
    ("float4", "Infinity", "7f800000"),
    ("float8", "NaN", "7ff8000000000000"),
    ("float8", "-0", "8000000000000000"),
    ("int2", "-32768", "8000"),
    ("int8", "-9223372036854775808", "8000000000000000"),
    ("oid", "123", "0000007b"),
    (
        "numeric",
        "-123456789012345678901234567890.000000001",
        "000b000740000009000c0d801ed204d2162e23340d801ed20000000003e8",
    ),
    ("numeric", "Infinity", "00000000d0000020"),
    ("numeric", "-Infinity", "00000000f0000020"),
    ("numeric", "0.0001", "0001ffff000000040001"),
    ("numeric", "10000", "00010001000000000001"),
    ("numeric", "9999.9999", "0002000000000004270f270f"),
    ("numeric", "1e-20", "0001fffb000000140001"),
    ("text", "", ""),
    ("varchar", "x y", "782079"),
    ("bpchar", "ab", "6162"),
    ("name", "pg_class", "70675f636c617373"),
    ("\"char\"", "a", "61"),
    ("bytea", "\\x", ""),
    ("bytea", "\\xdeadbeef", "deadbeef"),
    ("date", "-infinity", "80000000"),
    ("date", "0001-01-01 BC", "fff4da8b"),
    ("date", "1999-12-31", "ffffffff"),
    ("time", "00:00", "0000000000000000"),
    ("time", "24:00", "000000141dd76000"),
    ("timestamp", "1999-12-31 23:59:59.999999", "ffffffffffffffff"),
    ("timestamp", "infinity", "7fffffffffffffff"),
    ("timestamp", "0044-03-15 12:00 BC", "ff1af9e8fb46d000"),
    ("timestamptz", "2000-01-01 00:00:00+00", "0000000000000000"),
    ("timestamptz", "1970-01-01 00:00:00+00", "fffca2fec4c82000"),
    ("interval", "-1 days +02:00:00", "00000001ad274800ffffffff00000000"),
    ("interval", "-178000000 years", "00000000000000000000000080af3a00"),
    ("interval", "00:00:00.000001", "00000000000000010000000000000000"),
    ("uuid", "00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000"),
    ("json", "[1, 2]", "5b312c20325d"),
    ("jsonb", "[1, \"a\", null]", "015b312c202261222c206e756c6c5d"),
    ("jsonb", "\"x\"", "01227822"),
    ("bool[]", "{t,f,NULL}", "000000010000000100000010000000030000000100000001010000000100ffffffff"),
    (
        "text[]",
        "{\"a b\",NULL,\"\",\"x\\\\\\\"y\"}",
        "000000010000000100000019000000040000000100000003612062ffffffff0000000000000004785c2279",
    ),
    (
        "text[]",
        "{{a,b},{c,d}}",
        "000000020000000000000019000000020000000100000002000000010000000161000000016200000001630000000164",
    ),
    (
        "numeric[]",
        "{1.5,NaN}",
        "0000000100000000000006a400000002000000010000000c0002000000000001000113880000000800000000c0000000",
    ),
    ("date[]", "{2024-01-31,infinity}", "00000001000000000000043a0000000200000001000000040000225c000000047fffffff"),
    (
        "uuid[]",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "000000010000000000000b86000000010000000100000010a0eebc999c0b4ef8bb6d6bb9bd380a11",
    ),
    ("bytea[]", "{\"\\\\x01\",NULL}", "00000001000000010000001100000002000000010000000101ffffffff"),
    (
        "float8[]",
        "{1.5,-Infinity}",
        "0000000100000000000002bd0000000200000001000000083ff800000000000000000008fff0000000000000",
    ),
    ("interval[]", "{\"1 day\"}", "0000000100000000000004a200000001000000010000001000000000000000000000000100000000"),
    ("jsonb[]", "{\"{\\\"a\\\": 1}\"}", "000000010000000000000eda000000010000000100000009017b2261223a20317d"),
    (
        "timestamptz[]",
        "{\"2024-01-31 13:45:00+02\"}",
        "0000000100000000000004a00000000100000001000000080002b33b2d6d4700",
    ),
    ("int8[]", "{}", "000000000000000000000014"),
    ("varchar[]", "{a}", "00000001000000000000041300000001000000010000000161"),
    ("\"char\"[]", "{a,b}", "000000010000000000000012000000020000000100000001610000000162"),
    ("oid[]", "{1,2}", "00000001000000000000001a000000020000000100000004000000010000000400000002"),
    ("name[]", "{x}", "00000001000000000000001300000001000000010000000178"),
    ("int2[]", "{1}", "0000000100000000000000150000000100000001000000020001"),
    ("float4[]", "{0.5}", "0000000100000000000002bc0000000100000001000000043f000000"),
    ("bpchar[]", "{ab}", "0000000100000000000004120000000100000001000000026162"),
    ("time[]", "{13:45}", "00000001000000000000043b0000000100000001000000080000000b866e0f00"),
    ("timestamp[]", "{\"2024-01-31 13:45\"}", "00000001000000000000045a0000000100000001000000080002b33cda948f00"),
    ("json[]", "{\"[1]\"}", "0000000100000000000000720000000100000001000000035b315d"),
    ("int2vector", "1 2 3", "0000000100000000000000150000000300000000000000020001000000020002000000020003"),
    ("int2vector", "", "0000000100000000000000150000000000000000"),
    ("oidvector", "23 25", "00000001000000000000001a000000020000000000000004000000170000000400000019"),
];

#[test]
fn binary_forms_are_postgres_15s() {
    let mut wrong = Vec::new();
    for (name, value, expected) in BINARY_15 {
        let ty = PgType::from_name(name).unwrap_or_else(|| panic!("{name}"));
        let stored = input(ty, value, -1).unwrap_or_else(|e| panic!("{value:?}::{name}: {e:?}"));
        let sent = send(ty, &stored).map(|b| hex(&b));
        if sent.as_deref() != Ok(*expected) {
            wrong.push(format!("send {value:?}::{name}: PostgreSQL {expected}, here {sent:?}"));
        }
        let received = recv(ty, &unhex(expected));
        if format!("{received:?}") != format!("{:?}", Ok::<_, SqlError>(&stored)) {
            wrong.push(format!("recv {value:?}::{name}: stored {stored:?}, received {received:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {}:\n{}", wrong.len(), BINARY_15.len(), wrong.join("\n"));
}

#[test]
fn through_the_engine_errors_keep_their_sqlstate_and_now_holds_for_a_transaction() {
    use crate::sql::sqlite::{Options, SqliteEngine};
    use crate::sql::Engine;
    let conn = SqliteEngine::open_sandboxed(None, |_| Ok(())).unwrap();
    let mut engine = SqliteEngine::new(conn, Options::CLIENT);
    let mut run = |sql: &str| {
        let (stmt, _) = engine.prepare(sql)?.unwrap();
        crate::sql::execute_collecting(&mut engine, &stmt, &[]).map(|e| e.rows.unwrap_or_default())
    };
    let e = run("SELECT pg_numeric_div('1', '0')").unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22012", "division by zero"));
    let e = run("SELECT pg_cast('12345.678', 'text', 'numeric(5,2)')").unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22003", "numeric field overflow"));
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 5, scale 2 must round to an absolute value less than 10^3.")
    );
    // Views, defaults and checks may use the functions (SQLITE_INNOCUOUS; the sandbox distrusts the schema).
    run("CREATE TABLE t (d TEXT DEFAULT (pg_cast('1.5', 'text', 'numeric(4,2)')) CHECK (pg_numeric_cmp(d, 0) >= 0))")
        .unwrap();
    run("INSERT INTO t DEFAULT VALUES").unwrap();
    assert_eq!(run("SELECT d FROM t").unwrap(), [[Value::Text("1.50".into())]]);
    run("BEGIN").unwrap();
    let first = run("SELECT pg_now()").unwrap();
    let second = run("SELECT pg_now(), pg_now() = pg_now()").unwrap();
    assert_eq!(first[0][0], second[0][0]);
    assert_eq!(second[0][1], Value::Integer(1));
    run("COMMIT").unwrap();
}

#[test]
fn numeric_limits() {
    assert_eq!(text(T::Numeric, "1e1001").len(), 1002);
    assert_eq!(text(T::Numeric, "0e999999"), "0");
    let e = input(T::Numeric, &format!("0.{}", "1".repeat(20_000)), -1).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("22003", "value overflows numeric format"));
    assert_eq!(input(T::Numeric, "1e200000", -1).unwrap_err().code, "22003");
    assert_eq!(input(T::Numeric, "1e-20000", -1).unwrap_err().code, "22003");
}
