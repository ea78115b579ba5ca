//! pgvector's Rust crate as its README shows it, with `postgres` and `sqlx`.

use pgvector::Vector;

const ROWS: [[f32; 3]; 6] = [[1., 1., 1.], [2., 2., 2.], [1., 1., 2.], [-1., 0., 5.], [10., -3., 1.], [0.5, 0.25, -1.5]];
const L2_ORDER: [i32; 5] = [1, 3, 2, 6, 4];

fn user() -> String {
    std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "root".into())
}

/// The throwaway cluster run.sh started (tests/tmp-cluster.sh): socket
/// directory and port; never the machine's own cluster.
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

/// A fresh database with vecstore in it.
fn fresh_db(name: &str) {
    let mut admin = postgres::Client::connect(&conninfo("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut c = postgres::Client::connect(&conninfo(name), postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION vecstore").unwrap();
}

#[test]
fn postgres_crate() {
    fresh_db("vecstore_client_rust_pg");
    let mut c = postgres::Client::connect(&conninfo("vecstore_client_rust_pg"), postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))").unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        c.execute("INSERT INTO items (id, embedding) VALUES ($1, $2)", &[&(i as i32 + 1), &Vector::from(r.to_vec())]).unwrap();
    }
    c.batch_execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops); SET enable_seqscan = off").unwrap();
    let q = Vector::from(vec![1., 1., 1.]);
    let plan: Vec<String> = c.query("EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 5", &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(plan.join("\n").contains("Index Scan"), "{plan:?}");
    let rows = c.query("SELECT id, embedding <-> $1 FROM items ORDER BY embedding <-> $1 LIMIT 5", &[&q]).unwrap();
    let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, L2_ORDER);
    let d: f64 = rows[2].get(1);
    assert!((d - 3f64.sqrt()).abs() < 1e-6);
    // binary round trip, unchanged
    let v: Vector = c.query_one("SELECT embedding FROM items WHERE id = 6", &[]).unwrap().get(0);
    assert_eq!(v.to_vec(), vec![0.5, 0.25, -1.5]);
    let big = Vector::from(vec![1.5e38, -1.5e38, 1e-45]);
    let back: Vector = c.query_one("SELECT $1::vector", &[&big]).unwrap().get(0);
    assert_eq!(back, big);
    let text: String = c.query_one("SELECT $1::vector::text", &[&big]).unwrap().get(0);
    assert_eq!(text, "[1.5e+38,-1.5e+38,1e-45]");
}

#[tokio::test]
async fn sqlx_crate() {
    // the blocking setup runs off the async runtime
    tokio::task::spawn_blocking(|| fresh_db("vecstore_client_rust_sqlx")).await.unwrap();
    let opts = sqlx::postgres::PgConnectOptions::new().socket(socket()).port(port()).username(&user()).database("vecstore_client_rust_sqlx");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
    sqlx::query("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))").execute(&pool).await.unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        sqlx::query("INSERT INTO items (id, embedding) VALUES ($1, $2)")
            .bind(i as i32 + 1)
            .bind(Vector::from(r.to_vec()))
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)").execute(&pool).await.unwrap();
    sqlx::query("SET enable_seqscan = off").execute(&pool).await.unwrap();
    let rows: Vec<(i32, f64)> = sqlx::query_as("SELECT id, embedding <-> $1 FROM items ORDER BY embedding <-> $1 LIMIT 5")
        .bind(Vector::from(vec![1., 1., 1.]))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), L2_ORDER);
    assert!((rows[1].1 - 1.0).abs() < 1e-9);
    let (v,): (Vector,) = sqlx::query_as("SELECT embedding FROM items WHERE id = 4").fetch_one(&pool).await.unwrap();
    assert_eq!(v.to_vec(), vec![-1., 0., 5.]);
}
