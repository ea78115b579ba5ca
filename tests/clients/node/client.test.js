// pgvector's Node client with node-postgres, as its README shows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';

// run.sh starts a throwaway cluster and exports PGHOST/PGPORT/PGUSER
if (!process.env.VECSTORE_TMP_CLUSTER) throw new Error('run through tests/clients/node/run.sh (throwaway cluster)');
const host = process.env.PGHOST;
const port = Number(process.env.PGPORT);
const user = process.env.PGUSER || (await import('node:os')).userInfo().username;
const db = 'vecstore_client_node';

test('pg + pgvector: insert, HNSW index, nearest neighbours, round trip', async () => {
  const admin = new pg.Client({ host, port, user, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.query(`CREATE DATABASE ${db}`);
  const client = new pg.Client({ host, port, user, database: db });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION vecstore');
    await pgvector.registerTypes(client);
    await client.query('CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))');
    const rows = [[1, 1, 1], [2, 2, 2], [1, 1, 2], [-1, 0, 5], [10, -3, 1], [0.5, 0.25, -1.5]];
    for (const [i, r] of rows.entries()) {
      await client.query('INSERT INTO items (id, embedding) VALUES ($1, $2)', [i + 1, pgvector.toSql(r)]);
    }
    await client.query('CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)');
    await client.query('SET enable_seqscan = off');
    const plan = await client.query('EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 5', [pgvector.toSql([1, 1, 1])]);
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index Scan/);
    const res = await client.query(
      'SELECT id, embedding <-> $1 AS distance FROM items ORDER BY embedding <-> $1 LIMIT 5', [pgvector.toSql([1, 1, 1])]);
    assert.deepEqual(res.rows.map((r) => r.id), [1, 3, 2, 6, 4]);
    assert.ok(Math.abs(res.rows[2].distance - Math.sqrt(3)) < 1e-6);
    const one = await client.query('SELECT embedding FROM items WHERE id = 6');
    assert.deepEqual(one.rows[0].embedding, [0.5, 0.25, -1.5]);
    const big = await client.query("SELECT '[1.5e38,-1.5e38]'::vector AS v");
    assert.deepEqual(big.rows[0].v, [1.5e38, -1.5e38]); // shortest float4 text form
  } finally {
    await client.end();
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
});
