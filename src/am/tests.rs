//! In-server tests of the `hnsw` access method (DDL that cannot run in a
//! transaction, such as CREATE INDEX CONCURRENTLY, is in tests/regress).

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn ids(sql: &str) -> Vec<i32> {
        Spi::connect(|c| {
            c.select(sql, None, &[])
                .unwrap()
                .map(|row| row.get::<i32>(1).unwrap().unwrap())
                .collect()
        })
    }

    fn plan(sql: &str) -> String {
        Spi::connect(|c| {
            c.select(&format!("EXPLAIN (COSTS OFF) {sql}"), None, &[])
                .unwrap()
                .map(|row| row.get::<String>(1).unwrap().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    fn setup(n: i32) {
        Spi::run(&format!(
            "CREATE TABLE t (id int, v vector(4));
             INSERT INTO t SELECT i, ARRAY[sin(i), cos(i), sin(i * 2.1), cos(i * 0.7) + 1] FROM generate_series(1, {n}) i;
             SET enable_seqscan = off;"
        ))
        .unwrap();
    }

    /// Index order equals exact order for every opclass (small tables are
    /// searched exhaustively at ef_search >= n).
    #[pg_test]
    fn each_opclass_matches_exact_order() {
        setup(30);
        for (opclass, op) in
            [("vector_l2_ops", "<->"), ("vector_ip_ops", "<#>"), ("vector_cosine_ops", "<=>"), ("vector_l1_ops", "<+>")]
        {
            Spi::run(&format!("CREATE INDEX t_idx ON t USING hnsw (v {opclass})")).unwrap();
            let q = format!("SELECT id FROM t ORDER BY v {op} '[0.3,0.2,-0.5,1]' LIMIT 30");
            assert!(plan(&q).contains("Index Scan using t_idx"), "{opclass}: {}", plan(&q));
            let got = ids(&q);
            Spi::run("SET enable_indexscan = off; SET enable_seqscan = on").unwrap();
            let want = ids(&q);
            Spi::run("RESET enable_indexscan; SET enable_seqscan = off; DROP INDEX t_idx").unwrap();
            assert_eq!(got, want, "{opclass}");
        }
    }

    #[pg_test]
    fn inserts_nulls_duplicates_after_build() {
        setup(0);
        Spi::run("CREATE INDEX ON t USING hnsw (v vector_l2_ops)").unwrap();
        assert!(ids("SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 5").is_empty());
        Spi::run("INSERT INTO t VALUES (1, '[1,1,1,1]')").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 5"), vec![1]);
        Spi::run("INSERT INTO t VALUES (2, NULL), (3, '[0,0,0,0.5]')").unwrap();
        Spi::run("INSERT INTO t SELECT 100 + i, '[9,9,9,9]' FROM generate_series(1, 60) i").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 2"), vec![3, 1]);
        let dups = ids("SELECT id FROM t ORDER BY v <-> '[9,9,9,9]' LIMIT 10");
        assert_eq!(dups.len(), 10);
        assert!(dups.iter().all(|&i| i > 100));
        // the NULL row is never returned by the index
        assert!(!ids("SELECT id FROM t ORDER BY v <-> '[0,0,0,0]' LIMIT 100").contains(&2));
    }

    #[pg_test]
    fn truncate_reindex_drop() {
        setup(200);
        Spi::run("CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8)").unwrap();
        let before = ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 3");
        Spi::run("REINDEX INDEX t_idx").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 3").len(), 3);
        assert_eq!(before.len(), 3);
        Spi::run("TRUNCATE t").unwrap();
        assert!(ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 3").is_empty());
        Spi::run("INSERT INTO t VALUES (5, '[0,1,0,1]')").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 3"), vec![5]);
        Spi::run("DROP INDEX t_idx").unwrap();
        assert!(!plan("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 3").contains("Index Scan"));
    }

    #[pg_test]
    fn ef_search_limits_results_without_iterative_scan() {
        setup(300);
        Spi::run("CREATE INDEX ON t USING hnsw (v vector_l2_ops); SET hnsw.ef_search = 10").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 50").len(), 10);
        Spi::run("SET hnsw.iterative_scan = relaxed_order").unwrap();
        assert_eq!(ids("SELECT id FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 50").len(), 50);
        let filtered = ids("SELECT id FROM t WHERE id % 10 = 0 ORDER BY v <-> '[0,1,0,1]' LIMIT 20");
        assert_eq!(filtered.len(), 20);
        Spi::run("SET hnsw.iterative_scan = strict_order").unwrap();
        let strict = Spi::connect(|c| {
            c.select("SELECT v <-> '[0,1,0,1]' FROM t ORDER BY v <-> '[0,1,0,1]' LIMIT 40", None, &[])
                .unwrap()
                .map(|r| r.get::<f64>(1).unwrap().unwrap())
                .collect::<Vec<_>>()
        });
        assert!(strict.windows(2).all(|w| w[0] <= w[1]), "strict_order out of order");
    }

    #[pg_test(error = "ef_construction must be greater than or equal to 2 * m")]
    fn ef_construction_below_2m() {
        setup(1);
        Spi::run("CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 20)").unwrap();
    }

    #[pg_test(error = "value 101 out of bounds for option \"m\"")]
    fn m_out_of_range() {
        setup(1);
        Spi::run("CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (m = 101)").unwrap();
    }

    #[pg_test(error = "column does not have dimensions")]
    fn column_without_dimensions() {
        Spi::run("CREATE TABLE u (v vector); CREATE INDEX ON u USING hnsw (v vector_l2_ops)").unwrap();
    }

    #[pg_test]
    fn high_dimensional_vectors_are_indexed() {
        // beyond pgvector's 2,000: values span chunk tuples
        for dims in [2000, 2018, 2019, 3072, 16_000] {
            Spi::run(&format!(
                "DROP TABLE IF EXISTS u; CREATE TABLE u (id int, v vector({dims}));
                 INSERT INTO u SELECT i, array_fill(i::real, ARRAY[{dims}]) FROM generate_series(1, 30) i;
                 CREATE INDEX ON u USING hnsw (v vector_l2_ops);
                 INSERT INTO u SELECT i, array_fill(i::real, ARRAY[{dims}]) FROM generate_series(31, 60) i;"
            ))
            .unwrap();
            Spi::run("SET LOCAL enable_seqscan = off").unwrap();
            let q = format!("SELECT id FROM u ORDER BY v <-> array_fill(45.2::real, ARRAY[{dims}])::vector LIMIT 3");
            assert_eq!(ids(&q), vec![45, 46, 44], "dims {dims}");
        }
    }

    #[pg_test(error = "different vector dimensions 3 and 4")]
    fn query_of_wrong_size() {
        setup(5);
        Spi::run("CREATE INDEX ON t USING hnsw (v vector_l2_ops)").unwrap();
        ids("SELECT id FROM t ORDER BY v <-> '[1,2,3]' LIMIT 1");
    }
}
