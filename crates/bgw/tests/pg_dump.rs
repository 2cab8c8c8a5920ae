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
