-- psql's meta-commands against a server named by libpq's environment; run by crates/bgw/tests/drivers.rs with
-- `psql -X -v bgw=true|false -f psql.sql` against PostgreSQL 15 and against bgw. Each section starts with a line
-- `== name`; the test compares some sections with PostgreSQL's output and checks the others for errors.
\set ON_ERROR_STOP 0
\pset pager off
CREATE TABLE psql_items (id int4 PRIMARY KEY, name varchar(40) NOT NULL, price numeric(8,2), created date,
  note text DEFAULT 'none');
CREATE UNIQUE INDEX psql_items_name ON psql_items (name);
CREATE TABLE psql_log (at timestamptz, line text);
CREATE SCHEMA psql_sales;
-- Unaligned where the owner is shown: bgw's relations and schemas belong to its bootstrap superuser (the test
-- puts the login's name in its place), which must not change the columns' widths.
\echo == dt
\pset format unaligned
\dt
\pset format aligned
\echo == d
\d psql_items
\echo == dn
\pset format unaligned
\dn
\pset format aligned
\echo == copy
\copy psql_items (id, name, price, created) from stdin
1	apple	1.50	2024-01-01
2	pear	\N	2024-02-29
3	plum, red	0.25	\N
\.
\copy psql_items to stdout
\copy psql_items (name, price) to stdout with (format csv, header)
\copy (SELECT id, upper(name) AS up FROM psql_items WHERE price IS NOT NULL ORDER BY id) to stdout with csv
SELECT count(*) FROM psql_items;
\echo == l
\l
\echo == du
\du
\echo == df
\df
\echo == dx
\dx
\echo == conninfo
\conninfo
\if :bgw
\echo == bgw
PREPARE launch(int4) AS SELECT bgw_launch('bgw', 'sleeper', $1);
EXECUTE launch(7) \gset
SELECT name, pid = :bgw_launch AS same_pid FROM bgw_workers WHERE pid = :bgw_launch;
\endif
\echo == end
