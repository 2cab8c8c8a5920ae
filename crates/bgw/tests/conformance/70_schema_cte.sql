-- CREATE SCHEMA with elements and data-modifying statements in WITH (issue 16: worker_spi's SQL on the embedded
-- dialect). worker_spi's statements first, then variants of the rules; the cases refused with 0A000 last.
select count(*) from pg_namespace where nspname = 'schema1';
CREATE SCHEMA "schema1" CREATE TABLE "counted" (type text CHECK (type IN ('total', 'delta')), value integer) CREATE UNIQUE INDEX "counted_unique_total" ON "counted" (type) WHERE type = 'total';
select count(*) from pg_namespace where nspname = 'schema1';
SELECT schemaname, tablename, indexname FROM pg_indexes WHERE schemaname = 'schema1';
INSERT INTO schema1.counted VALUES ('total', 0);
INSERT INTO schema1.counted VALUES ('delta', 5), ('delta', 7);
WITH deleted AS (DELETE FROM "schema1"."counted" WHERE type = 'delta' RETURNING value), total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE "schema1"."counted" SET value = "counted".value + total.sum FROM total WHERE type = 'total' RETURNING "counted".value;
WITH deleted AS (DELETE FROM "schema1"."counted" WHERE type = 'delta' RETURNING value), total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE "schema1"."counted" SET value = "counted".value + total.sum FROM total WHERE type = 'total' RETURNING "counted".value;
INSERT INTO schema1.counted VALUES ('delta', 1), ('delta', 2), ('delta', 3);
WITH deleted AS (DELETE FROM "schema1"."counted" WHERE type = 'delta' RETURNING value), total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE "schema1"."counted" SET value = "counted".value + total.sum FROM total WHERE type = 'total' RETURNING "counted".value;
SELECT type, value FROM schema1.counted ORDER BY type;
INSERT INTO schema1.counted VALUES ('total', 1);
INSERT INTO schema1.counted VALUES ('delta', 1), ('delta', 1);
SELECT count(*) FROM schema1.counted WHERE type = 'delta';
INSERT INTO schema1.counted VALUES ('bogus', 1);
UPDATE schema1.counted SET type = 'other' WHERE type = 'delta';
-- CHECK constraints named as PostgreSQL names them, its message and the failing row.
CREATE TABLE ck (a int CHECK (a > 0), b text CONSTRAINT named CHECK (b <> 'x'), c int, CHECK (c > a), CHECK (c < 100), CHECK (1 = 1), CONSTRAINT tn CHECK (c <> 50));
INSERT INTO ck VALUES (0, 'y', 5);
INSERT INTO ck VALUES (1, 'x', 5);
INSERT INTO ck (a, c) VALUES (1, 0);
INSERT INTO ck (a, c) VALUES (1, 100);
INSERT INTO ck VALUES (1, 'a', 50);
INSERT INTO ck VALUES (1, 'a', 5), (1, 'b', 0);
INSERT INTO ck VALUES (1, 'a', 5);
UPDATE ck SET a = -1;
SELECT conname FROM pg_constraint WHERE conrelid = 'ck'::regclass ORDER BY 1;
ALTER TABLE ck ADD COLUMN d int CHECK (d > 0);
INSERT INTO ck (a, c, d) VALUES (1, 5, 0);
-- worker_spi's text exactly (tabs, no space before the index element), for its second worker, and its fold as
-- quote_identifier leaves the names.
CREATE SCHEMA "schema2" CREATE TABLE "counted" (		type text CHECK (type IN ('total', 'delta')), 		value	integer)CREATE UNIQUE INDEX "counted_unique_total" ON "counted" (type) WHERE type = 'total';
INSERT INTO schema2.counted VALUES ('total', 1), ('delta', 2);
WITH deleted AS (DELETE FROM schema2.counted WHERE type = 'delta' RETURNING value), total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE schema2.counted SET value = counted.value + total.sum FROM total WHERE type = 'total' RETURNING counted.value;
SELECT * FROM schema2.counted;
-- Elements: PostgreSQL's order (sequences, tables, views, indexes), names resolved in the new schema.
CREATE SCHEMA cs_b CREATE VIEW v AS SELECT a FROM t CREATE TABLE t (a int) CREATE INDEX ON t (a) CREATE SEQUENCE sq;
INSERT INTO cs_b.t VALUES (1), (2);
SELECT * FROM cs_b.v ORDER BY a;
SELECT relname FROM pg_class WHERE relnamespace = 'cs_b'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
CREATE SCHEMA cs_c CREATE TABLE p (id int PRIMARY KEY, name text) CREATE TABLE c (id int, p_id int REFERENCES p (id));
INSERT INTO cs_c.p VALUES (1, 'one');
INSERT INTO cs_c.c VALUES (1, 1);
CREATE SCHEMA cs_d CREATE TABLE cs_d.t (a int);
SELECT count(*) FROM cs_d.t;
-- Errors: PostgreSQL's, and nothing of a failed CREATE SCHEMA stays (PostgreSQL's own 0A000 answers are in
-- tests/worker_spi_sql.rs: the corpus holds none).
CREATE SCHEMA cs_e CREATE TABLE other.t (a int);
CREATE SCHEMA cs_e CREATE INDEX i ON cs_b.t (a);
CREATE SCHEMA cs_e CREATE TABLE t (a int) CREATE TABLE t (b int);
SELECT count(*) FROM pg_namespace WHERE nspname = 'cs_e';
CREATE SCHEMA cs_e CREATE TABLE t (a int) CREATE VIEW v AS SELECT nope FROM t;
SELECT count(*) FROM pg_namespace WHERE nspname = 'cs_e';
SELECT count(*) FROM pg_class WHERE relname = 'cs_e.t' OR relname = 't' AND relnamespace = 'public'::regnamespace;
CREATE SCHEMA cs_e CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql;
CREATE SCHEMA schema1 CREATE TABLE t (a int);
-- Partial indexes: the predicate as PostgreSQL prints it (plain and pretty).
SELECT indexdef FROM pg_indexes WHERE schemaname = 'schema1';
CREATE TABLE pi (a int, b text, f boolean, n numeric, d int8);
CREATE INDEX pi1 ON pi (a) WHERE a > 0;
CREATE INDEX pi2 ON pi (a) WHERE a > 0 AND b IS NULL;
CREATE UNIQUE INDEX pi3 ON pi (a) WHERE b = 'total';
CREATE INDEX pi5 ON pi (a) WHERE f;
CREATE INDEX pi6 ON pi (a) WHERE NOT f;
CREATE INDEX pi8 ON pi (a) WHERE a > 0 OR b IS NOT NULL AND a < 5;
CREATE INDEX pi9 ON pi (a) WHERE d > 5;
CREATE INDEX pi11 ON pi (a) WHERE n > 1.5;
CREATE INDEX pi12 ON pi (a) WHERE f = true;
SELECT indexname, indexdef, pg_get_indexdef(indexname::regclass, 0, true) FROM pg_indexes WHERE tablename = 'pi' ORDER BY 1;
INSERT INTO pi (a, b) VALUES (1, 'total'), (2, 'other'), (1, 'other');
INSERT INTO pi (a, b) VALUES (1, 'total');
-- Data-modifying statements in WITH.
CREATE TABLE cte_src (id int PRIMARY KEY, v int);
CREATE TABLE cte_log (id int, v int);
INSERT INTO cte_src VALUES (1, 10), (2, 20), (3, 30), (4, 40);
WITH d AS (DELETE FROM cte_src WHERE v > 25 RETURNING id, v) INSERT INTO cte_log SELECT * FROM d;
SELECT * FROM cte_log ORDER BY id;
WITH d AS (DELETE FROM cte_log WHERE id = 3 RETURNING *) SELECT count(*), sum(v) FROM d;
WITH u AS (UPDATE cte_src SET v = v + 1 RETURNING id, v) SELECT id, v FROM u ORDER BY id;
WITH u AS (UPDATE cte_src SET v = v + 1 RETURNING id, v), l AS (INSERT INTO cte_log SELECT id, v FROM u RETURNING id) SELECT count(*) FROM l;
SELECT * FROM cte_log ORDER BY id, v;
WITH i AS (INSERT INTO cte_src VALUES (5, 50) RETURNING id) UPDATE cte_log SET v = 0 FROM i WHERE cte_log.id = i.id - 3 RETURNING cte_log.id, cte_log.v;
WITH d AS (DELETE FROM cte_log WHERE id = 4) SELECT 1 AS one;
SELECT count(*) FROM cte_log WHERE id = 4;
WITH x AS (SELECT 2 AS two) DELETE FROM cte_log WHERE id = (SELECT two FROM x) RETURNING id;
WITH d AS (DELETE FROM cte_src WHERE id = 5 RETURNING id) DELETE FROM cte_log WHERE id IN (SELECT id FROM d) RETURNING id;
WITH a (n) AS (INSERT INTO cte_log VALUES (8, 8) RETURNING v) SELECT n * 2 AS doubled FROM a;
WITH d AS (INSERT INTO cte_log VALUES (1/0, 1) RETURNING *) INSERT INTO cte_src VALUES (9, 9);
SELECT count(*) FROM cte_src WHERE id = 9;
WITH d AS (INSERT INTO cte_log VALUES (9, 9) RETURNING *) INSERT INTO cte_src VALUES (1, 1);
SELECT count(*) FROM cte_log WHERE id = 9;
SELECT * FROM cte_src ORDER BY id;
SELECT * FROM cte_log ORDER BY id, v;
BEGIN READ ONLY;
WITH d AS (DELETE FROM cte_log RETURNING *) SELECT * FROM d;
ROLLBACK;
WITH d AS (DELETE FROM cte_log RETURNING *) SELECT * FROM nope;
SELECT count(*) FROM cte_log;
-- Refused (0A000): a part reading a table a data-modifying CTE changes (PostgreSQL reads it as before the
-- change), two on one table, an INSERT into the table, a DELETE of rows that may be the CTE's.
WITH d AS (DELETE FROM cte_log RETURNING *) SELECT (SELECT count(*) FROM cte_log), count(*) FROM d;
WITH u AS (UPDATE cte_src SET v = 0 RETURNING *) SELECT * FROM cte_src ORDER BY id;
WITH a AS (INSERT INTO cte_log VALUES (1, 1) RETURNING *), b AS (INSERT INTO cte_log VALUES (2, 2) RETURNING *) SELECT * FROM a, b;
WITH a AS (INSERT INTO cte_log VALUES (1, 1) RETURNING *) INSERT INTO cte_log SELECT id + 10, v FROM a RETURNING *;
WITH d AS (DELETE FROM cte_src WHERE id = 1 RETURNING *) DELETE FROM cte_src RETURNING id;
