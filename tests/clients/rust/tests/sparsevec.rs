//! pgvector's Rust crate `SparseVector` (binary format) with `postgres` and
//! `sqlx`: round trips and each hnsw sparsevec opclass in exact order.

use pgvector::SparseVector;
use std::collections::HashMap;

/// Dense forms; the orders from QUERY are tie-free for every metric.
const ROWS: [[f32; 6]; 6] = [
    [1., 0., 0., 2., 0., 0.],
    [1., 1., 1., 0., 0., 0.],
    [0., 0., 0., 0., 0., 5.],
    [2., 2., 0., 0., 0., 0.],
    [0., 2., 0., 0., 3., 0.],
    [1., 1., 1.5, 0., 0., 0.5],
];
const QUERY: [f32; 6] = [1., 1., 1., 0., 0., 0.];
/// (operator, opclass, expected order)
const OPS: [(&str, &str, [i32; 6]); 4] = [
    ("<->", "sparsevec_l2_ops", [2, 6, 4, 1, 5, 3]),
    ("<#>", "sparsevec_ip_ops", [4, 6, 2, 5, 1, 3]),
    ("<=>", "sparsevec_cosine_ops", [2, 6, 4, 5, 1, 3]),
    ("<+>", "sparsevec_l1_ops", [2, 6, 4, 1, 5, 3]),
];

fn dist(op: &str, a: &[f32; 6]) -> f64 {
    let (a, q): (Vec<f64>, Vec<f64>) = (a.iter().map(|&x| x as f64).collect(), QUERY.iter().map(|&x| x as f64).collect());
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, r)| p * r).sum::<f64>();
    match op {
        "<->" => a.iter().zip(&q).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt(),
        "<#>" => -dot(&a, &q),
        "<=>" => 1.0 - dot(&a, &q) / (dot(&a, &a) * dot(&q, &q)).sqrt(),
        _ => a.iter().zip(&q).map(|(x, y)| (x - y).abs()).sum(),
    }
}

fn user() -> String {
    std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "root".into())
}

fn socket() -> String {
    assert!(std::env::var("VECSTORE_TMP_CLUSTER").is_ok(), "run through tests/clients/rust/run.sh (throwaway cluster)");
    std::env::var("PGHOST").unwrap()
}

fn port() -> u16 {
    std::env::var("PGPORT").unwrap().parse().unwrap()
}

fn conninfo(db: &str) -> String {
    format!("host={} port={} user={} dbname={db}", socket(), port(), user())
}

fn fresh_db(name: &str) {
    let mut admin = postgres::Client::connect(&conninfo("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut c = postgres::Client::connect(&conninfo(name), postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION vecstore").unwrap();
}

#[test]
fn postgres_crate_sparsevec() {
    fresh_db("vecstore_client_rust_pg_sparse");
    let mut c = postgres::Client::connect(&conninfo("vecstore_client_rust_pg_sparse"), postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE items (id int PRIMARY KEY, embedding sparsevec(6))").unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        let v = if i % 2 == 0 {
            SparseVector::from_dense(r)
        } else {
            let m: HashMap<i32, f32> = r.iter().enumerate().filter(|(_, x)| **x != 0.0).map(|(k, &x)| (k as i32, x)).collect();
            SparseVector::from_map(&m, 6)
        };
        c.execute("INSERT INTO items (id, embedding) VALUES ($1, $2)", &[&(i as i32 + 1), &v]).unwrap();
    }
    let text: String = c.query_one("SELECT embedding::text FROM items WHERE id = 6", &[]).unwrap().get(0);
    assert_eq!(text, "{1:1,2:1,3:1.5,6:0.5}/6");
    for (i, r) in ROWS.iter().enumerate() {
        let v: SparseVector = c.query_one("SELECT embedding FROM items WHERE id = $1", &[&(i as i32 + 1)]).unwrap().get(0);
        assert_eq!(v, SparseVector::from_dense(r));
        assert_eq!(v.to_vec(), r.to_vec());
    }
    // a SPLADE-sized value: 30,522 dimensions, 1,100 non-zeros
    let m: HashMap<i32, f32> = (0..1100).map(|k| ((k * 7919) % 30522, 0.25 + (k % 8) as f32 / 4.0)).collect();
    let big = SparseVector::from_map(&m, 30522);
    let back: SparseVector = c.query_one("SELECT $1::sparsevec(30522)", &[&big]).unwrap().get(0);
    assert_eq!(back, big);
    assert_eq!(back.indices().len(), 1100);
    // binary input is checked as pgvector checks it
    let err = c.query_one("SELECT $1::sparsevec(5)", &[&SparseVector::from_dense(&ROWS[0])]).unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.message()), Some("expected 5 dimensions, not 6"), "{err}");

    c.batch_execute("SET enable_seqscan = off").unwrap();
    let q = SparseVector::from_dense(&QUERY);
    for (op, opclass, order) in OPS {
        c.batch_execute(&format!("CREATE INDEX items_idx ON items USING hnsw (embedding {opclass})")).unwrap();
        let sql = format!("SELECT id, embedding {op} $1 FROM items ORDER BY embedding {op} $1 LIMIT 6");
        let plan: Vec<String> = c.query(&format!("EXPLAIN {sql}"), &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
        assert!(plan.join("\n").contains("Index Scan using items_idx"), "{plan:?}");
        let rows = c.query(&sql, &[&q]).unwrap();
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(ids, order, "{opclass}");
        for r in &rows {
            let (id, d): (i32, f64) = (r.get(0), r.get(1));
            assert!((d - dist(op, &ROWS[id as usize - 1])).abs() < 1e-6, "{opclass} {id} {d}");
        }
        c.batch_execute("DROP INDEX items_idx").unwrap();
    }
}

#[tokio::test]
async fn sqlx_crate_sparsevec() {
    tokio::task::spawn_blocking(|| fresh_db("vecstore_client_rust_sqlx_sparse")).await.unwrap();
    let opts = sqlx::postgres::PgConnectOptions::new()
        .socket(socket())
        .port(port())
        .username(&user())
        .database("vecstore_client_rust_sqlx_sparse");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
    sqlx::query("CREATE TABLE items (id int PRIMARY KEY, embedding sparsevec(6))").execute(&pool).await.unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        sqlx::query("INSERT INTO items (id, embedding) VALUES ($1, $2)")
            .bind(i as i32 + 1)
            .bind(SparseVector::from_dense(r))
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("CREATE INDEX ON items USING hnsw (embedding sparsevec_ip_ops)").execute(&pool).await.unwrap();
    sqlx::query("SET enable_seqscan = off").execute(&pool).await.unwrap();
    let rows: Vec<(i32, f64)> = sqlx::query_as("SELECT id, embedding <#> $1 FROM items ORDER BY embedding <#> $1 LIMIT 6")
        .bind(SparseVector::from_dense(&QUERY))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), OPS[1].2);
    assert!((rows[0].1 + 4.0).abs() < 1e-9);
    let (v,): (SparseVector,) = sqlx::query_as("SELECT embedding FROM items WHERE id = 5").fetch_one(&pool).await.unwrap();
    assert_eq!((v.dimensions(), v.indices().to_vec(), v.values().to_vec()), (6, vec![1, 4], vec![2., 3.]));
}
