//! pgvector's Rust crate `HalfVector` (feature `halfvec`) and `Bit` with
//! `postgres` and `sqlx`: binary round trips, typmod errors, and each hnsw
//! opclass of the types answering in exact order through an index scan.

use half::f16;
use pgvector::{Bit, HalfVector};

fn user() -> String {
    std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "root".into())
}

fn conninfo(db: &str) -> String {
    assert!(std::env::var("VECSTORE_TMP_CLUSTER").is_ok(), "run through tests/clients/rust/run.sh (throwaway cluster)");
    format!("host={} port={} user={} dbname={db}", std::env::var("PGHOST").unwrap(), std::env::var("PGPORT").unwrap(), user())
}

fn fresh_db(name: &str) -> postgres::Client {
    let mut admin = postgres::Client::connect(&conninfo("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut c = postgres::Client::connect(&conninfo(name), postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION vecstore").unwrap();
    c
}

const ROWS: [[f32; 3]; 6] = [[1., 1., 1.], [2., 2., 2.], [1., 1., 2.], [-1., 0., 5.], [10., -3., 1.], [0.5, 0.25, -1.5]];

/// `sql` selects (id, distance) ordered by the distance: the distances the
/// index returns are those of a sequential scan, in the same order (ids of
/// tied rows may differ).
fn index_order(c: &mut postgres::Client, sql: &str, q: &(dyn postgres::types::ToSql + Sync)) -> Vec<i32> {
    c.batch_execute("SET enable_seqscan = on; SET enable_indexscan = off").unwrap();
    let exact: Vec<f64> = c.query(sql, &[q]).unwrap().iter().map(|r| r.get(1)).collect();
    c.batch_execute("SET enable_seqscan = off; SET enable_indexscan = on").unwrap();
    let plan: Vec<String> = c.query(&format!("EXPLAIN {sql}"), &[q]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(plan.join("\n").contains("Index Scan"), "{plan:?}");
    let rows = c.query(sql, &[q]).unwrap();
    let got: Vec<f64> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(got, exact, "{sql}");
    rows.iter().map(|r| r.get(0)).collect()
}

#[test]
fn halfvec_with_postgres() {
    let mut c = fresh_db("vecstore_client_rust_half");
    c.batch_execute("CREATE TABLE items (id int PRIMARY KEY, embedding halfvec(3))").unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        c.execute("INSERT INTO items VALUES ($1, $2)", &[&(i as i32 + 1), &HalfVector::from_f32_slice(r)]).unwrap();
    }
    // binary round trip of values half precision holds exactly, and its extremes
    let back: HalfVector = c.query_one("SELECT embedding FROM items WHERE id = 6", &[]).unwrap().get(0);
    assert_eq!(back.to_vec(), vec![f16::from_f32(0.5), f16::from_f32(0.25), f16::from_f32(-1.5)]);
    let extremes = HalfVector::from(vec![f16::MAX, f16::MIN, f16::from_f32(6e-8)]);
    let back: HalfVector = c.query_one("SELECT $1::halfvec", &[&extremes]).unwrap().get(0);
    assert_eq!(back, extremes);
    let text: String = c.query_one("SELECT $1::halfvec::text", &[&extremes]).unwrap().get(0);
    assert_eq!(text, "[65504,-65504,5.9604645e-08]");
    // typmod is checked on the way in
    let err = c.execute("INSERT INTO items VALUES (99, $1)", &[&HalfVector::from_f32_slice(&[1., 2.])]).unwrap_err();
    assert_eq!(err.as_db_error().unwrap().message(), "expected 3 dimensions, not 2");
    let q = HalfVector::from_f32_slice(&[1., 1., 1.]);
    for (opclass, op) in [("halfvec_l2_ops", "<->"), ("halfvec_ip_ops", "<#>"), ("halfvec_cosine_ops", "<=>"), ("halfvec_l1_ops", "<+>")] {
        c.batch_execute(&format!("DROP INDEX IF EXISTS items_idx; CREATE INDEX items_idx ON items USING hnsw (embedding {opclass})")).unwrap();
        let ids = index_order(&mut c, &format!("SELECT id, embedding {op} $1 FROM items ORDER BY embedding {op} $1 LIMIT 4"), &q);
        assert_eq!(ids.len(), 4);
    }
}

#[test]
fn bit_with_postgres() {
    let mut c = fresh_db("vecstore_client_rust_bit");
    c.batch_execute("CREATE TABLE items (id int PRIMARY KEY, embedding bit(6))").unwrap();
    let rows = [
        [true, false, true, false, true, false],
        [true, true, true, true, true, true],
        [false, false, false, false, false, false],
        [true, false, true, false, false, false],
        [false, true, false, true, false, true],
    ];
    for (i, r) in rows.iter().enumerate() {
        c.execute("INSERT INTO items VALUES ($1, $2)", &[&(i as i32 + 1), &Bit::new(r)]).unwrap();
    }
    let back: Bit = c.query_one("SELECT embedding FROM items WHERE id = 4", &[]).unwrap().get(0);
    assert_eq!(back, Bit::new(&rows[3]));
    let q = Bit::new(&[true, false, true, false, true, true]);
    let d: f64 = c.query_one("SELECT hamming_distance(embedding, $1) FROM items WHERE id = 1", &[&q]).unwrap().get(0);
    assert_eq!(d, 1.0);
    for (opclass, op) in [("bit_hamming_ops", "<~>"), ("bit_jaccard_ops", "<%>")] {
        c.batch_execute(&format!("DROP INDEX IF EXISTS items_idx; CREATE INDEX items_idx ON items USING hnsw (embedding {opclass})")).unwrap();
        let ids = index_order(&mut c, &format!("SELECT id, embedding {op} $1 FROM items ORDER BY embedding {op} $1 LIMIT 5"), &q);
        assert_eq!(ids[0], 1);
    }
}

#[test]
fn halfvec_and_bit_with_sqlx() {
    drop(fresh_db("vecstore_client_rust_sqlx_half"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let opts = sqlx::postgres::PgConnectOptions::new()
            .socket(std::env::var("PGHOST").unwrap())
            .port(std::env::var("PGPORT").unwrap().parse().unwrap())
            .username(&user())
            .database("vecstore_client_rust_sqlx_half");
        let mut c = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
        let c = &mut c;
        sqlx::query("CREATE TABLE items (id int PRIMARY KEY, h halfvec(3), b bit(4))").execute(&*c).await.unwrap();
        for (i, r) in ROWS.iter().enumerate() {
            let bits = Bit::new(&[i % 2 == 0, i % 3 == 0, true, false]);
            sqlx::query("INSERT INTO items VALUES ($1, $2, $3)")
                .bind(i as i32 + 1)
                .bind(HalfVector::from_f32_slice(r))
                .bind(bits)
                .execute(&*c)
                .await
                .unwrap();
        }
        sqlx::query("CREATE INDEX ON items USING hnsw (h halfvec_l2_ops)").execute(&*c).await.unwrap();
        sqlx::query("SET enable_seqscan = off").execute(&*c).await.unwrap();
        let rows: Vec<(i32, HalfVector)> = sqlx::query_as("SELECT id, h FROM items ORDER BY h <-> $1 LIMIT 3")
            .bind(HalfVector::from_f32_slice(&[1., 1., 1.]))
            .fetch_all(&*c)
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 3, 2]);
        assert_eq!(rows[0].1, HalfVector::from_f32_slice(&[1., 1., 1.]));
        let b: (Bit,) = sqlx::query_as("SELECT b FROM items WHERE id = 1").fetch_one(&*c).await.unwrap();
        assert_eq!(b.0, Bit::new(&[true, true, true, false]));
    });
}
