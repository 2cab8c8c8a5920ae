//! `pg_dump` of a bgw database (issue 14, item 5): PostgreSQL 15's real `pg_dump` runs to the end against a bgw
//! host holding a simple database (the common types, a serial key, a composite key, UNIQUE, a foreign key, NOT
//! NULL, a default, a secondary index, a view, a table in another schema), and its dump, restored by the real
//! `psql` into another bgw database, rebuilds the same relations, columns, types, keys and data.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use std::process::Command;

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The simple database, in PostgreSQL's SQL.
const SIMPLE: &str = r#"
CREATE TABLE customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email varchar(80) UNIQUE,
  balance numeric(10,2) DEFAULT 0,
  active bool NOT NULL DEFAULT true,
  born date,
  created timestamptz,
  ref uuid,
  prefs jsonb,
  photo bytea,
  visits int8,
  score int4
);
CREATE TABLE orders (
  customer_id int4 NOT NULL REFERENCES customers (id),
  line int4 NOT NULL,
  amount numeric(12,3),
  note text,
  PRIMARY KEY (customer_id, line)
);
CREATE INDEX orders_note_idx ON orders (note);
CREATE VIEW active_customers AS SELECT id, name FROM customers WHERE active;
CREATE SCHEMA sales;
CREATE TABLE sales.regions (code varchar(8) PRIMARY KEY, label text);
INSERT INTO customers (name, email, balance, active, born, created, ref, prefs, photo, visits, score) VALUES
 ('Ann', 'ann@example.com', 12.50, true, '1990-01-02', '2024-03-04 05:06:07+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '\x0102ff', 9000000000, 7),
 ('Bob "the" O''Neil', NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (E'tab\there\nnewline \\ back', 'c@x', -3.00, true, '2000-02-29', '1999-12-31 23:59:59.5+02', NULL, '[]', '\x',
  -1, 0);
INSERT INTO orders VALUES (1, 1, 1.5, 'first'), (1, 2, NULL, NULL), (3, 1, 2.250, E'multi\nline');
INSERT INTO sales.regions VALUES ('EU', 'Europe'), ('NA', NULL);
"#;

/// Runs the real `pg_dump` against `db` of host `h` with `args`: its output, or the test fails with its stderr.
fn pg_dump(h: &Host, db: &str, args: &[&str]) -> String {
    let out = Command::new("pg_dump")
        .arg("-h")
        .arg(h.data())
        .arg("-p")
        .arg(h.endpoint().port.to_string())
        .args(["-U", &os_user()])
        .args(args)
        .arg(db)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump {args:?} failed: {}\nlog:\n{}", stderr(&out), h.log());
    stdout(&out)
}

#[test]
fn pg_dump_schema_only_runs_to_the_end() {
    let h = Host::start(Setup::new(BGW));
    h.sql(SIMPLE);
    let dump = pg_dump(&h, "postgres", &["--schema-only"]);
    for expected in [
        "CREATE SCHEMA sales;",
        "CREATE TABLE public.customers (",
        "    email character varying(80),",
        "    balance numeric(10,2) DEFAULT 0,",
        "    active boolean DEFAULT true NOT NULL,",
        "    created timestamp with time zone,",
        "CREATE TABLE public.orders (",
        "CREATE TABLE sales.regions (",
        "CREATE SEQUENCE public.customers_id_seq",
        "CREATE VIEW public.active_customers AS",
        "ADD CONSTRAINT customers_email_key UNIQUE (email);",
        "ADD CONSTRAINT orders_pkey PRIMARY KEY (customer_id, line);",
        "CREATE INDEX orders_note_idx ON public.orders USING btree (note);",
        "-- PostgreSQL database dump complete",
    ] {
        assert!(dump.contains(expected), "the dump lacks {expected:?}:\n{dump}");
    }
    assert!(!dump.contains("INSERT") && !dump.contains("COPY"), "a schema-only dump holds no data:\n{dump}");
}

/// Runs SQL with the real psql in database `db` of host `h` (`-X -A -t`, stopping at the first error): its
/// output, or the error.
fn psql(h: &Host, db: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(h.data())
        .arg("-p")
        .arg(h.endpoint().port.to_string())
        .args(["-U", &os_user(), "-d", db])
        .args(args)
        .output()
        .expect("psql runs");
    if out.status.success() && !stderr(&out).contains("ERROR") {
        Ok(stdout(&out))
    } else {
        Err(stderr(&out))
    }
}

/// A dump without its lines that differ from one run to the next (`\restrict` keys, the server's version).
fn stable(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict") && !l.starts_with("-- Dumped from"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the catalogs say about the simple database's relations, and its rows: the same before and after a
/// restore.
const DESCRIBE: &[&str] = &[
    "SELECT table_schema, table_name, column_name, ordinal_position, data_type, is_nullable, column_default, \
     character_maximum_length, numeric_precision, numeric_scale FROM information_schema.columns \
     WHERE table_schema IN ('public', 'sales') ORDER BY 1, 2, 4",
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname IN ('public', 'sales') ORDER BY 1, 2",
    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1",
    "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname IN ('public', 'sales') \
     ORDER BY 1, 2, 3",
    "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
    "SELECT s.seqrelid::regclass, format_type(s.seqtypid, NULL), d.refobjid::regclass, d.refobjsubid \
     FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid AND d.deptype = 'a'",
    "SELECT nspname FROM pg_namespace ORDER BY 1",
    "SELECT * FROM customers ORDER BY id",
    "SELECT * FROM orders ORDER BY customer_id, line",
    "SELECT * FROM sales.regions ORDER BY code",
    "SELECT * FROM active_customers ORDER BY id",
    "SELECT count(*) FROM customers WHERE name = E'tab\\there\\nnewline \\\\ back' AND photo = '\\x'::bytea",
];

#[test]
fn a_dump_restores_into_another_bgw_database() {
    let h = Host::start(Setup::new(BGW));
    h.sql(SIMPLE);
    let dump = pg_dump(&h, "postgres", &[]);
    for expected in [
        "ALTER SEQUENCE public.customers_id_seq OWNED BY public.customers.id;",
        "ALTER TABLE ONLY public.customers ALTER COLUMN id SET DEFAULT nextval('public.customers_id_seq'::regclass);",
        "COPY public.customers (id, name, email, balance, active, born, created, ref, prefs, photo, visits, score) FROM stdin;",
        "SELECT pg_catalog.setval('public.customers_id_seq', 3, true);",
        "ADD CONSTRAINT customers_pkey PRIMARY KEY (id);",
        "ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);",
    ] {
        assert!(dump.contains(expected), "the dump lacks {expected:?}:\n{dump}");
    }
    let file = h.data().join("dump.sql");
    std::fs::write(&file, &dump).unwrap();
    h.sql("CREATE DATABASE restored");
    let file = file.to_str().unwrap();
    psql(&h, "restored", &["-f", file]).unwrap_or_else(|e| panic!("the restore failed: {e}\nlog:\n{}", h.log()));
    // The same relations, columns, types, keys, indexes, view, schema and rows.
    for query in DESCRIBE {
        let before = psql(&h, "postgres", &["-c", query]).unwrap_or_else(|e| panic!("{query}: {e}"));
        let after = psql(&h, "restored", &["-c", query]).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert!(!before.trim().is_empty(), "{query}: no rows");
        assert_eq!(before, after, "{query}");
    }
    // The restored database dumps as the original did.
    assert_eq!(stable(&pg_dump(&h, "restored", &[])), stable(&dump));
    assert_eq!(
        stable(&pg_dump(&h, "restored", &["--schema-only"])),
        stable(&pg_dump(&h, "postgres", &["--schema-only"]))
    );
    // The serial key counts on from where the dump's setval left it, as in PostgreSQL.
    let insert = "INSERT INTO customers (name) VALUES ('next') RETURNING id";
    let first_line = |out: String| out.lines().next().unwrap_or_default().to_owned();
    assert_eq!(first_line(psql(&h, "restored", &["-c", insert]).unwrap()), "4");
    assert_eq!(first_line(psql(&h, "postgres", &["-c", insert]).unwrap()), "4");
}

#[test]
fn a_bgw_dump_restores_into_postgresql_as_the_same_database() {
    // The dump means in PostgreSQL what it meant in bgw: restored into PostgreSQL 15, it dumps exactly as the
    // simple database created there directly does.
    let h = Host::start(Setup::new(BGW));
    h.sql(SIMPLE);
    let dump = pg_dump(&h, "postgres", &[]);
    let pg = Postgres::start();
    let login = pg.login();
    login.sql("postgres", &format!("CREATE ROLE \"{}\" SUPERUSER", os_user()));
    login.sql("postgres", "CREATE DATABASE direct");
    login.sql("postgres", "CREATE DATABASE restored");
    let file = h.data().join("dump.sql");
    std::fs::write(&file, &dump).unwrap();
    let run = |db: &str, args: &[&str]| {
        let mut cmd = login.command("psql", db);
        cmd.args(["-X", "-v", "ON_ERROR_STOP=1"]).args(args);
        let out = Login::run(&mut cmd, std::time::Duration::from_secs(120));
        assert!(out.status.success() && !stderr(&out).contains("ERROR"), "psql {args:?}: {}", stderr(&out));
    };
    run("direct", &["-c", SIMPLE]);
    run("restored", &["-f", file.to_str().unwrap()]);
    let dump_of = |db: &str| {
        let mut cmd = login.command("pg_dump", db);
        // The roles differ (the restore keeps bgw's owner, the direct database has the login's).
        cmd.arg("--no-owner");
        let out = Login::run(&mut cmd, std::time::Duration::from_secs(120));
        assert!(out.status.success(), "pg_dump {db}: {}", stderr(&out));
        stable(&stdout(&out))
    };
    assert_eq!(dump_of("restored"), dump_of("direct"));
}
