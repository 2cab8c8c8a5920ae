// node `pg` against a server named by libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
//
// Run by crates/bgw/tests/drivers.rs against PostgreSQL 15 and against bgw. node pg sends its parameters as
// untyped text and reads results in text, by the column type OIDs of RowDescription. One line per step,
// `name: result` or `name: ERROR sqlstate message`; with BGW_TARGET=bgw also the `bgw.` steps (bgw_launch with an
// integer parameter, then bgw_workers).
'use strict';
const { Client } = require('pg');

let client;

async function connect() {
  const c = new Client();
  await c.connect();
  return c;
}

async function step(name, fn) {
  try {
    console.log(`${name}: ${await fn()}`);
  } catch (e) {
    console.log(`${name}: ERROR ${e.code || 'client'} ${e.message}`);
    try { await client.end(); } catch (_) { /* already gone */ }
    client = await connect();
  }
}

const show = (res) => JSON.stringify({
  rows: res.rows,
  fields: res.fields.map((f) => `${f.name}:${f.dataTypeID}`),
});

async function main() {
  client = await connect();
  await step('connect', async () => show(await client.query('SELECT 1 AS one')));
  await step('types.table', async () => {
    await client.query('DROP TABLE IF EXISTS node_types');
    await client.query(`CREATE TABLE node_types (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(10,2),
      f float8, b bool, t text, v varchar(20), by bytea, d date, ts timestamp, tz timestamptz, u uuid, j jsonb)`);
    return 'ok';
  });
  await step('types.insert', async () => show(await client.query(
    `INSERT INTO node_types (i2, i4, i8, n, f, b, t, v, by, d, ts, tz, u, j)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [7, 123456, '9007199254740993', '12.50', 2.5, true, 'text', 'varchar', Buffer.from([0, 1, 254, 255]),
      '2024-02-29', '2024-01-02 03:04:05.6789', '2024-01-02T03:04:05Z', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      JSON.stringify({ a: [1, 2], c: 'd' })])));
  await step('types.read', async () => {
    const res = await client.query('SELECT * FROM node_types ORDER BY id');
    return show({
      rows: res.rows.map((r) => ({ ...r, by: r.by.toString('hex'), d: String(r.d && r.d.toISOString()),
        ts: String(r.ts && r.ts.toISOString()), tz: String(r.tz && r.tz.toISOString()) })),
      fields: res.fields,
    });
  });
  await step('param.untyped', async () => show(await client.query(
    'SELECT $1::int4 + 1 AS a, $2::numeric * 2 AS b, $3::text AS c, $4::bool AS d', [41, '1.25', 'x', false])));
  await step('param.inferred', async () => show(await client.query(
    'SELECT id FROM node_types WHERE i4 = $1 AND t = $2', [123456, 'text'])));
  await step('prepared.named', async () => {
    const out = [];
    for (let i = 0; i < 3; i++) {
      const res = await client.query({ name: 'node_named', text: 'SELECT $1::int8 * 3 AS v', values: [i] });
      out.push(res.rows[0].v);
    }
    return JSON.stringify(out);
  });
  await step('transaction', async () => {
    await client.query('BEGIN');
    await client.query('INSERT INTO node_types (t) VALUES ($1)', ['rolled back']);
    await client.query('ROLLBACK');
    return show(await client.query("SELECT count(*) AS n FROM node_types WHERE t = 'rolled back'"));
  });
  await step('errors', async () => {
    const out = [];
    for (const sql of ['SELECT 1/0', "SELECT 'x'::int4", 'SELECT * FROM no_such_table', 'SELECT nope FROM node_types']) {
      try { await client.query(sql); out.push('no error'); } catch (e) { out.push(e.code); }
    }
    return JSON.stringify(out);
  });
  await step('listen', async () => {
    const listener = await connect();
    const got = new Promise((resolve, reject) => {
      listener.on('notification', (m) => resolve([m.channel, m.payload]));
      setTimeout(() => reject(new Error('no notification within 30 s')), 30000).unref();
    });
    await listener.query('LISTEN node_channel');
    await client.query("SELECT pg_notify('node_channel', 'hello from node')");
    const res = await got;
    await listener.end();
    return JSON.stringify(res);
  });
  if (process.env.BGW_TARGET === 'bgw') {
    await step('bgw.launch', async () => {
      const pid = (await client.query("SELECT bgw_launch('bgw', 'sleeper', $1) AS pid", [7])).rows[0].pid;
      const rows = (await client.query('SELECT name, pid FROM bgw_workers WHERE pid = $1', [pid])).rows;
      return `pid>0=${Number(pid) > 0} rows=${rows.length} name=${rows.length ? rows[0].name : null}`;
    });
  }
  await client.end();
  console.log('done');
}

main().catch((e) => { console.error(e); process.exit(1); });
