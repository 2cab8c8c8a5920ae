"""psycopg 3 against a server named by libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).

Run by crates/bgw/tests/drivers.rs against PostgreSQL 15 and against bgw. Prints one line per step, `name: result`,
in a form that does not depend on the server (no pids, ports or times), and `name: ERROR sqlstate message` for a
step that failed (the script goes on with a fresh connection). With BGW_TARGET=bgw it also launches a worker and
reads bgw_workers (lines starting with `bgw.`).
"""
import datetime
import decimal
import os
import uuid

import psycopg
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Float8, Int2, Int4, Int8

UTC = datetime.timezone.utc

# (type, python value): each is sent as a parameter in text and in binary format.
VALUES = [
    ("int2", Int2(-12)),
    ("int4", Int4(123456)),
    ("int8", Int8(9007199254740993)),
    ("numeric", decimal.Decimal("12345.678900")),
    ("float8", Float8(2.5)),
    ("bool", True),
    ("text", "héllo 'quoted'"),
    ("bytea", b"\x00\x01\xfe\xff"),
    ("date", datetime.date(2024, 2, 29)),
    ("timestamp", datetime.datetime(2024, 1, 2, 3, 4, 5, 678900)),
    ("timestamptz", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    ("jsonb", Jsonb({"a": [1, 2, {"b": None}], "c": "d"})),
]

conn = None


def connect():
    return psycopg.connect(autocommit=True)


def step(name, fn):
    global conn
    try:
        print(f"{name}: {fn()}", flush=True)
    except psycopg.Error as e:
        print(f"{name}: ERROR {e.sqlstate} {str(e).splitlines()[0] if str(e) else ''}", flush=True)
        try:
            conn.close()
        except Exception:
            pass
        conn = connect()
    except Exception as e:  # a driver-side failure (decoding, protocol)
        print(f"{name}: ERROR client {type(e).__name__}: {e}", flush=True)
        try:
            conn.close()
        except Exception:
            pass
        conn = connect()


def q(sql, params=None, binary=False):
    cur = conn.cursor(binary=binary)
    cur.execute(sql, params)
    return cur


def typed_table():
    cols = ", ".join(f"c_{t} {t}" for t, _ in VALUES)
    q("DROP TABLE IF EXISTS py_types")
    q(f"CREATE TABLE py_types (id int4 PRIMARY KEY, {cols})")
    return "ok"


def insert_row(row_id, fmt):
    cols = ", ".join(f"c_{t}" for t, _ in VALUES)
    marks = ", ".join(f"%{fmt}" for _ in VALUES)
    q(f"INSERT INTO py_types (id, {cols}) VALUES ({row_id}, {marks})", [v for _, v in VALUES])
    return "ok"


def read_row(row_id, binary):
    cur = q("SELECT * FROM py_types WHERE id = %s", [row_id], binary=binary)
    row = cur.fetchone()
    types = [d.type_code for d in cur.description]
    return f"{row!r} oids={types}"


def roundtrip(t, v, fmt):
    cur = q(f"SELECT %{fmt}::{t} AS v", [v])
    (got,) = cur.fetchone()
    return f"{got!r} oid={cur.description[0].type_code} name={cur.description[0].name}"


def auto_prepare():
    out = []
    for i in range(8):
        (v,) = q("SELECT %s::int4 * 2 AS doubled", [Int4(i)]).fetchone()
        out.append(v)
    return out


def prepare_evictions():
    # Four statements, each past the threshold, with room for two prepared ones: psycopg evicts (DEALLOCATE).
    conn.prepared_max = 2
    out = []
    for rnd in range(7):
        for k in range(4):
            (v,) = q(f"SELECT %s::int4 + {k} AS v", [Int4(rnd)]).fetchone()
            out.append(v)
    conn.prepared_max = 100
    return sum(out)


def copy_in_out():
    q("DROP TABLE IF EXISTS py_copy")
    q("CREATE TABLE py_copy (id int4 PRIMARY KEY, name text, score numeric)")
    cur = conn.cursor()
    with cur.copy("COPY py_copy (id, name, score) FROM STDIN") as copy:
        for row in [(1, "one", decimal.Decimal("1.5")), (2, None, decimal.Decimal("-2")), (3, "tab\there", None)]:
            copy.write_row(row)
    lines = []
    with cur.copy("COPY py_copy TO STDOUT") as copy:
        for data in copy:
            lines.append(bytes(data).decode())
    rows = q("SELECT id, name, score FROM py_copy ORDER BY id").fetchall()
    return f"{''.join(lines)!r} {rows!r}"


def listen_notify():
    listener = connect()
    listener.execute("LISTEN py_channel")
    sender = connect()
    sender.execute("NOTIFY py_channel, 'hello from psycopg'")
    sender.execute("SELECT pg_notify('py_channel', 'second')")
    got = []
    for n in listener.notifies(timeout=30, stop_after=2):
        got.append((n.channel, n.payload))
    listener.close()
    sender.close()
    return got


def errors():
    out = []
    for sql in ["SELECT 1/0", "SELECT 'x'::int4", "SELECT * FROM no_such_table", "SELECT no_such_column FROM py_copy"]:
        try:
            q(sql)
            out.append("no error")
        except psycopg.Error as e:
            out.append(e.sqlstate)
    return out


def transaction():
    with conn.transaction():
        q("INSERT INTO py_copy VALUES (10, 'in tx', 1)")
    try:
        with conn.transaction():
            q("INSERT INTO py_copy VALUES (11, 'rolled back', 1)")
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    return q("SELECT array_agg(id ORDER BY id) FROM py_copy WHERE id >= 10").fetchone()


def bgw_launch():
    (pid,) = q("SELECT bgw_launch('bgw', 'sleeper', %s)", [7]).fetchone()
    cur = q("SELECT name, pid FROM bgw_workers WHERE pid = %s", [pid])
    rows = cur.fetchall()
    return f"pid>0={isinstance(pid, int) and pid > 0} rows={len(rows)} name={rows[0][0] if rows else None}"


conn = connect()
step("connect", lambda: q("SELECT 1 AS one").fetchone())
step("types.table", typed_table)
step("types.insert.text", lambda: insert_row(1, "t"))
step("types.insert.binary", lambda: insert_row(2, "b"))
for row_id in (1, 2):
    step(f"types.read.{row_id}.text", lambda: read_row(row_id, False))
    step(f"types.read.{row_id}.binary", lambda: read_row(row_id, True))
for t, v in VALUES:
    for fmt in ("t", "b"):
        step(f"param.{t}.{'text' if fmt == 't' else 'binary'}", lambda: roundtrip(t, v, fmt))
step("prepare.auto", auto_prepare)
step("prepare.evict", prepare_evictions)
step("copy", copy_in_out)
step("listen", listen_notify)
step("errors", errors)
step("transaction", transaction)
if os.environ.get("BGW_TARGET") == "bgw":
    step("bgw.launch", bgw_launch)
conn.close()
print("done", flush=True)
