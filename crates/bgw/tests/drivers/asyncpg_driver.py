"""asyncpg against a server named by libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).

Run by crates/bgw/tests/drivers.rs against PostgreSQL 15 and against bgw. asyncpg describes every statement and
sends every parameter in binary with the type the server described, so each step checks the server's parameter and
column types. One line per step, `name: result` or `name: ERROR sqlstate message`; with BGW_TARGET=bgw also the
`bgw.` steps (bgw_launch with an integer parameter, then bgw_workers).
"""
import asyncio
import datetime
import decimal
import json
import os
import uuid

import asyncpg

UTC = datetime.timezone.utc

VALUES = [
    ("int2", -12),
    ("int4", 123456),
    ("int8", 9007199254740993),
    ("numeric", decimal.Decimal("12345.678900")),
    ("float8", 2.5),
    ("bool", True),
    ("text", "héllo 'quoted'"),
    ("bytea", b"\x00\x01\xfe\xff"),
    ("date", datetime.date(2024, 2, 29)),
    ("timestamp", datetime.datetime(2024, 1, 2, 3, 4, 5, 678900)),
    ("timestamptz", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    ("jsonb", json.dumps({"a": [1, 2, {"b": None}], "c": "d"})),
]


async def main():
    state = {"conn": await asyncpg.connect()}

    async def step(name, fn):
        try:
            print(f"{name}: {await fn(state['conn'])}", flush=True)
        except asyncpg.PostgresError as e:
            print(f"{name}: ERROR {e.sqlstate} {e}", flush=True)
            await state["conn"].close()
            state["conn"] = await asyncpg.connect()
        except Exception as e:
            print(f"{name}: ERROR client {type(e).__name__}: {e}", flush=True)
            try:
                await state["conn"].close()
            except Exception:
                pass
            state["conn"] = await asyncpg.connect()

    async def connect(c):
        return await c.fetchval("SELECT 1 AS one")

    async def typed_table(c):
        cols = ", ".join(f"c_{t} {t}" for t, _ in VALUES)
        await c.execute("DROP TABLE IF EXISTS apg_types")
        await c.execute(f"CREATE TABLE apg_types (id int4 PRIMARY KEY, {cols})")
        return "ok"

    async def insert(c):
        cols = ", ".join(f"c_{t}" for t, _ in VALUES)
        marks = ", ".join(f"${i + 2}" for i in range(len(VALUES)))
        await c.execute(f"INSERT INTO apg_types (id, {cols}) VALUES ($1, {marks})", 1, *[v for _, v in VALUES])
        return "ok"

    async def read(c):
        stmt = await c.prepare("SELECT * FROM apg_types WHERE id = $1")
        row = await stmt.fetchrow(1)
        types = [a.type.name for a in stmt.get_attributes()]
        return f"{tuple(row.values())!r} types={types} params={[p.name for p in stmt.get_parameters()]}"

    def roundtrip(t, v):
        async def f(c):
            stmt = await c.prepare(f"SELECT $1::{t} AS v")
            got = await stmt.fetchval(v)
            return f"{got!r} param={stmt.get_parameters()[0].name} col={stmt.get_attributes()[0].type.name}"
        return f

    async def inferred(c):
        # Parameter types the server infers from the context, not from a cast.
        stmt = await c.prepare("SELECT id FROM apg_types WHERE c_int8 = $1 AND c_text = $2 AND c_date < $3")
        rows = await stmt.fetch(9007199254740993, "héllo 'quoted'", datetime.date(2030, 1, 1))
        return f"{[r['id'] for r in rows]} params={[p.name for p in stmt.get_parameters()]}"

    async def arithmetic(c):
        return await c.fetchrow("SELECT $1::int4 + 1 AS a, $2::numeric * 2 AS b, $3::text || 'x' AS c",
                                41, decimal.Decimal("1.25"), "y")

    async def copy_records(c):
        await c.execute("DROP TABLE IF EXISTS apg_copy")
        await c.execute("CREATE TABLE apg_copy (id int4 PRIMARY KEY, name text, amount numeric, at timestamptz, ok bool)")
        result = await c.copy_records_to_table("apg_copy", records=[
            (1, "one", decimal.Decimal("1.50"), datetime.datetime(2024, 1, 1, tzinfo=UTC), True),
            (2, None, decimal.Decimal("-3"), None, False),
            (3, "three", None, datetime.datetime(2024, 6, 30, 12, 0, tzinfo=UTC), None),
        ], columns=["id", "name", "amount", "at", "ok"])
        rows = await c.fetch("SELECT * FROM apg_copy ORDER BY id")
        return f"{result} {[tuple(r.values()) for r in rows]!r}"

    async def copy_out(c):
        import io
        buf = io.BytesIO()
        await c.copy_from_query("SELECT id, name FROM apg_copy ORDER BY id", output=buf, format="csv")
        return repr(buf.getvalue().decode())

    async def listen(c):
        listener = await asyncpg.connect()
        got = asyncio.get_running_loop().create_future()
        await listener.add_listener("apg_channel", lambda _c, _pid, ch, payload: got.done() or got.set_result((ch, payload)))
        await c.execute("NOTIFY apg_channel, 'hello from asyncpg'")
        res = await asyncio.wait_for(got, 30)
        await listener.close()
        return res

    async def errors(c):
        out = []
        for sql in ["SELECT 1/0", "SELECT 'x'::int4", "SELECT * FROM no_such_table"]:
            try:
                await c.execute(sql)
                out.append("no error")
            except asyncpg.PostgresError as e:
                out.append(e.sqlstate)
        try:
            await c.execute("INSERT INTO apg_copy (id) VALUES (1)")
        except asyncpg.PostgresError as e:
            out.append(f"{e.sqlstate} {e.detail}")
        return out

    async def transaction(c):
        async with c.transaction():
            await c.execute("INSERT INTO apg_copy (id, name) VALUES ($1, $2)", 10, "in tx")
        try:
            async with c.transaction():
                await c.execute("INSERT INTO apg_copy (id, name) VALUES ($1, $2)", 11, "rolled back")
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
        return await c.fetchval("SELECT count(*) FROM apg_copy WHERE id >= $1", 10)

    async def bgw_launch(c):
        pid = await c.fetchval("SELECT bgw_launch('bgw', 'sleeper', $1)", 7)
        rows = await c.fetch("SELECT name, pid FROM bgw_workers WHERE pid = $1", pid)
        return f"pid>0={isinstance(pid, int) and pid > 0} rows={len(rows)} name={rows[0]['name'] if rows else None}"

    await step("connect", connect)
    await step("types.table", typed_table)
    await step("types.insert", insert)
    await step("types.read", read)
    for t, v in VALUES:
        await step(f"param.{t}", roundtrip(t, v))
    await step("param.inferred", inferred)
    await step("param.arithmetic", arithmetic)
    await step("copy.records_to_table", copy_records)
    await step("copy.from_query", copy_out)
    await step("listen", listen)
    await step("errors", errors)
    await step("transaction", transaction)
    if os.environ.get("BGW_TARGET") == "bgw":
        await step("bgw.launch", bgw_launch)
    await state["conn"].close()
    print("done", flush=True)


asyncio.run(main())
