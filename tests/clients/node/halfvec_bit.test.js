// pgvector's Node client with node-postgres: halfvec (registerTypes parses
// it, toSql writes it) and bit (text '1010'), each hnsw opclass of the two
// types answering in the order of a sequential scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';

if (!process.env.VECSTORE_TMP_CLUSTER) throw new Error('run through tests/clients/node/run.sh (throwaway cluster)');
const host = process.env.PGHOST;
const port = Number(process.env.PGPORT);
const user = process.env.PGUSER || (await import('node:os')).userInfo().username;
const db = 'vecstore_client_node_half_bit';

// distances of `sql` (selecting id, distance) by a sequential scan and by the
// index (checked in EXPLAIN) must be the same sequence
async function sameAsSeqScan(client, sql, params) {
  await client.query('SET enable_seqscan = on; SET enable_indexscan = off');
  const exact = (await client.query(sql, params)).rows.map((r) => r.d);
  await client.query('SET enable_seqscan = off; SET enable_indexscan = on');
  const plan = await client.query(`EXPLAIN ${sql}`, params);
  assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index Scan/);
  const rows = (await client.query(sql, params)).rows;
  assert.deepEqual(rows.map((r) => r.d), exact);
  return rows.map((r) => r.id);
}

test('pg + pgvector: halfvec and bit with hnsw', async () => {
  const admin = new pg.Client({ host, port, user, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.query(`CREATE DATABASE ${db}`);
  const client = new pg.Client({ host, port, user, database: db });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION vecstore');
    await pgvector.registerTypes(client);
    await client.query('CREATE TABLE items (id int PRIMARY KEY, h halfvec(3), b bit(6))');
    const rows = [[1, 1, 1], [2, 2, 2], [1, 1, 2], [-1, 0, 5], [10, -3, 1], [0.5, 0.25, -1.5]];
    const bits = ['101010', '111111', '000000', '101000', '010101', '100001'];
    for (const [i, r] of rows.entries()) {
      await client.query('INSERT INTO items VALUES ($1, $2, $3)', [i + 1, pgvector.toSql(r), bits[i]]);
    }
    // halfvec parsed back into numbers; values between halves round to nearest even (as pgvector)
    const back = await client.query("SELECT h, '[65504,1.00048828125,3e-8]'::halfvec AS x FROM items WHERE id = 6");
    assert.deepEqual(back.rows[0].h, [0.5, 0.25, -1.5]);
    assert.deepEqual(back.rows[0].x, [65504, 1, 5.9604645e-8]);
    await assert.rejects(client.query('INSERT INTO items (id, h) VALUES (99, $1)', [pgvector.toSql([1, 2])]),
      { message: 'expected 3 dimensions, not 2' });
    await assert.rejects(client.query("SELECT '[70000]'::halfvec"), { message: '"70000" is out of range for type halfvec' });
    const q = pgvector.toSql([1, 1, 1]);
    for (const [opclass, op] of [['halfvec_l2_ops', '<->'], ['halfvec_ip_ops', '<#>'], ['halfvec_cosine_ops', '<=>'], ['halfvec_l1_ops', '<+>']]) {
      await client.query(`DROP INDEX IF EXISTS items_idx; CREATE INDEX items_idx ON items USING hnsw (h ${opclass})`);
      const ids = await sameAsSeqScan(client, `SELECT id, h ${op} $1 AS d FROM items ORDER BY h ${op} $1 LIMIT 4`, [q]);
      assert.equal(ids.length, 4);
    }
    for (const [opclass, op] of [['bit_hamming_ops', '<~>'], ['bit_jaccard_ops', '<%>']]) {
      await client.query(`DROP INDEX IF EXISTS items_idx; CREATE INDEX items_idx ON items USING hnsw (b ${opclass})`);
      const ids = await sameAsSeqScan(client, `SELECT id, b ${op} $1 AS d FROM items ORDER BY b ${op} $1 LIMIT 5`, ['101011']);
      assert.equal(ids[0], 1);
    }
    const hq = await client.query("SELECT hamming_distance(b, '101011') AS d FROM items WHERE id = 1");
    assert.equal(hq.rows[0].d, 1);
  } finally {
    await client.end();
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
});
