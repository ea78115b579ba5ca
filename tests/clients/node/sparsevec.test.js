// sparsevec through pgvector's Node client (SparseVector) with node-postgres:
// text round trips, every hnsw sparsevec opclass answering in exact order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { SparseVector } from 'pgvector';

if (!process.env.VECSTORE_TMP_CLUSTER) throw new Error('run through tests/clients/node/run.sh (throwaway cluster)');
const host = process.env.PGHOST;
const port = Number(process.env.PGPORT);
const user = process.env.PGUSER || (await import('node:os')).userInfo().username;
const db = 'vecstore_client_node_sparsevec';

// dense forms; orders from QUERY are tie-free for every metric
const ROWS = [[1, 0, 0, 2, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 5],
  [2, 2, 0, 0, 0, 0], [0, 2, 0, 0, 3, 0], [1, 1, 1.5, 0, 0, 0.5]];
const QUERY = [1, 1, 1, 0, 0, 0];
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const OPS = [
  ['<->', 'sparsevec_l2_ops', (a, q) => Math.sqrt(a.reduce((s, x, i) => s + (x - q[i]) ** 2, 0)), [2, 6, 4, 1, 5, 3]],
  ['<#>', 'sparsevec_ip_ops', (a, q) => -dot(a, q), [4, 6, 2, 5, 1, 3]],
  ['<=>', 'sparsevec_cosine_ops', (a, q) => 1 - dot(a, q) / Math.sqrt(dot(a, a) * dot(q, q)), [2, 6, 4, 5, 1, 3]],
  ['<+>', 'sparsevec_l1_ops', (a, q) => a.reduce((s, x, i) => s + Math.abs(x - q[i]), 0), [2, 6, 4, 1, 5, 3]],
];

test('pg + pgvector SparseVector: round trips and HNSW sparsevec opclasses', async () => {
  const admin = new pg.Client({ host, port, user, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.query(`CREATE DATABASE ${db}`);
  const client = new pg.Client({ host, port, user, database: db });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION vecstore');
    await pgvector.registerTypes(client);
    await client.query('CREATE TABLE items (id int PRIMARY KEY, embedding sparsevec(6))');
    for (const [i, r] of ROWS.entries()) {
      // odd ids from a dense array, even ids from a map of 0-based indices
      const v = i % 2 === 0 ? new SparseVector(r)
        : new SparseVector(new Map(r.flatMap((x, k) => (x ? [[k, x]] : []))), r.length);
      await client.query('INSERT INTO items (id, embedding) VALUES ($1, $2)', [i + 1, pgvector.toSql(v)]);
    }
    const text = await client.query('SELECT embedding::text AS t FROM items WHERE id = 6');
    assert.equal(text.rows[0].t, '{1:1,2:1,3:1.5,6:0.5}/6');
    for (const [i, r] of ROWS.entries()) {
      const got = (await client.query('SELECT embedding FROM items WHERE id = $1', [i + 1])).rows[0].embedding;
      assert.ok(got instanceof SparseVector);
      assert.equal(got.dimensions, 6);
      assert.deepEqual(got.indices, r.flatMap((x, k) => (x ? [k] : [])));
      assert.deepEqual(got.toArray(), r);
    }
    // a SPLADE-sized value: 30,522 dimensions, 1,100 non-zeros
    const map = new Map();
    for (let k = 0; map.size < 1100; k++) map.set((k * 7919) % 30522, 0.25 + (k % 8) / 4);
    const big = new SparseVector(map, 30522);
    const back = (await client.query('SELECT $1::sparsevec(30522) AS v', [pgvector.toSql(big)])).rows[0].v;
    assert.equal(back.dimensions, 30522);
    assert.deepEqual(back.indices, [...map.keys()].sort((a, b) => a - b));
    assert.deepEqual(back.values, back.indices.map((k) => map.get(k)));
    // typmod errors come back with pgvector's wording
    await assert.rejects(client.query('SELECT $1::sparsevec(5)', [pgvector.toSql(new SparseVector(ROWS[0]))]),
      /expected 5 dimensions, not 6/);

    await client.query('SET enable_seqscan = off');
    const q = pgvector.toSql(new SparseVector(QUERY));
    for (const [op, opclass, dist, order] of OPS) {
      await client.query(`CREATE INDEX ON items USING hnsw (embedding ${opclass})`);
      const sql = `SELECT id, embedding ${op} $1 AS d FROM items ORDER BY embedding ${op} $1 LIMIT 6`;
      const plan = await client.query('EXPLAIN ' + sql, [q]);
      assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), new RegExp(`Index Scan using items_embedding_idx`), opclass);
      const res = await client.query(sql, [q]);
      assert.deepEqual(res.rows.map((r) => r.id), order, opclass);
      for (const r of res.rows) assert.ok(Math.abs(r.d - dist(ROWS[r.id - 1], QUERY)) < 1e-6, `${opclass} ${r.id}`);
      await client.query('DROP INDEX items_embedding_idx');
    }
  } finally {
    await client.end();
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
});
