//! In-server tests of `halfvec` and `bit`: values pgvector prints, and each
//! user error's wording and SQLSTATE.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql).expect("query failed").expect("NULL result")
    }

    fn text(sql: &str) -> String {
        one::<String>(sql)
    }

    /// The SQLSTATE and message of the error `sql` raises.
    fn error_of(sql: &str) -> (String, String) {
        PgTryBuilder::new(|| {
            Spi::run(sql).unwrap();
            panic!("no error from {sql}")
        })
        .catch_others(|e| match e {
            pg_sys::panic::CaughtError::PostgresError(r) | pg_sys::panic::CaughtError::ErrorReport(r) => {
                let code = r.sql_error_code() as i32;
                let state: String = (0..5).map(|i| (((code >> (6 * i)) & 0x3f) as u8 + b'0') as char).collect();
                (state, r.message().to_string())
            }
            other => panic!("{other:?}"),
        })
        .execute()
    }

    #[pg_test]
    fn halfvec_text_and_layout() {
        assert_eq!(text("SELECT '[1.23456]'::halfvec::text"), "[1.234375]");
        assert_eq!(text("SELECT '[65519,-65519]'::halfvec::text"), "[65504,-65504]");
        assert_eq!(text("SELECT '[1e-8,-1e-8,1e-46]'::halfvec::text"), "[0,-0,0]");
        assert_eq!(text("SELECT ' [ 1 , 2 ] '::halfvec(2)::text"), "[1,2]");
        assert_eq!(one::<i32>("SELECT pg_column_size('[1,2,3]'::halfvec)"), 14);
        assert_eq!(text("SELECT halfvec_send('[1,-2]')::text"), "\\x000200003c00c000");
    }

    #[pg_test]
    fn halfvec_functions() {
        assert_eq!(one::<f64>("SELECT l2_distance('[0,0]'::halfvec, '[3,4]')"), 5.0);
        assert_eq!(one::<f64>("SELECT '[1,2,3]'::halfvec <#> '[4,5,6]'"), -32.0);
        assert_eq!(one::<f64>("SELECT '[1,2]'::halfvec <+> '[3,5]'"), 5.0);
        assert_eq!(one::<f64>("SELECT '[1,1]'::halfvec <=> '[-1,-1]'"), 2.0);
        assert!(one::<f64>("SELECT cosine_distance('[0,0]'::halfvec, '[1,1]')").is_nan());
        assert_eq!(one::<i32>("SELECT vector_dims('[1,2,3]'::halfvec)"), 3);
        assert_eq!(one::<f64>("SELECT l2_norm('[3,4]'::halfvec)"), 5.0);
        assert_eq!(text("SELECT l2_normalize('[3,4]'::halfvec)::text"), "[0.60009766,0.7998047]");
        assert_eq!(text("SELECT l2_normalize('[0,0]'::halfvec)::text"), "[0,0]");
        assert_eq!(text("SELECT binary_quantize('[1,-1,0,2]'::halfvec)::text"), "1001");
        assert_eq!(text("SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 9)::text"), "[3,4,5]");
        assert_eq!(text("SELECT subvector('[1,2]'::halfvec, -2147483644, 2147483647)::text"), "[1,2]");
        assert_eq!(text("SELECT ('[1,2]'::halfvec + '[3,4]')::text"), "[4,6]");
        assert_eq!(text("SELECT ('[1,2]'::halfvec || '[3]')::text"), "[1,2,3]");
        assert!(one::<bool>("SELECT '[1,2]'::halfvec < '[1,2,0]' AND '[-0]'::halfvec = '[0]'"));
        assert_eq!(text("SELECT avg(v)::text FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v)"), "[65504]");
        assert_eq!(text("SELECT '[1.5,2]'::vector::halfvec::vector::text"), "[1.5,2]");
        assert_eq!(text("SELECT '{1,2}'::numeric[]::halfvec::real[]::text"), "{1,2}");
    }

    #[pg_test]
    fn halfvec_errors_and_sqlstates() {
        let cases = [
            ("SELECT '[65520]'::halfvec", "22003", "\"65520\" is out of range for type halfvec"),
            ("SELECT '[4e38]'::halfvec", "22003", "\"4e38\" is out of range for type halfvec"),
            ("SELECT '{65520}'::real[]::halfvec", "22003", "\"65520\" is out of range for type halfvec"),
            ("SELECT '{4e38}'::float8[]::halfvec", "22000", "infinite value not allowed in halfvec"),
            ("SELECT '[1e5]'::vector::halfvec", "22003", "\"100000\" is out of range for type halfvec"),
            ("SELECT '[nan]'::halfvec", "22000", "NaN not allowed in halfvec"),
            ("SELECT '[hello]'::halfvec", "22P02", "invalid input syntax for type halfvec: \"[hello]\""),
            ("SELECT '[]'::halfvec", "22000", "halfvec must have at least 1 dimension"),
            ("SELECT '[1,2]'::halfvec(3)", "22000", "expected 3 dimensions, not 2"),
            ("SELECT '[1]'::halfvec(16001)", "22023", "dimensions for type halfvec cannot exceed 16000"),
            ("SELECT '[1,2]'::halfvec <-> '[1]'", "22000", "different halfvec dimensions 2 and 1"),
            ("SELECT '[65519]'::halfvec + '[65519]'", "22003", "value out of range: overflow"),
            ("SELECT '[1e-7]'::halfvec * '[1e-7]'", "22003", "value out of range: underflow"),
            ("SELECT subvector('[1,2]'::halfvec, -1, 2)", "22000", "halfvec must have at least 1 dimension"),
            ("SELECT halfvec_accum('{{1}}', '[1]')", "XX000", "halfvec_accum: expected state array"),
            ("SELECT '101'::bit(3) <~> '10'::bit(2)", "22000", "different bit lengths 3 and 2"),
        ];
        for (sql, state, message) in cases {
            assert_eq!(error_of(sql), (state.to_string(), message.to_string()), "{sql}");
        }
    }

    #[pg_test]
    fn bit_distances() {
        assert_eq!(one::<f64>("SELECT hamming_distance('111', '001')"), 2.0);
        assert_eq!(one::<f64>("SELECT '1100'::bit(4) <%> '1000'"), 0.5);
        assert_eq!(one::<f64>("SELECT jaccard_distance('', '')"), 1.0);
        assert_eq!(one::<f64>("SELECT hamming_distance('', '')"), 0.0);
        assert_eq!(one::<f64>("SELECT jaccard_distance('0000', '0000')"), 1.0);
    }

    #[pg_test]
    fn hnsw_on_halfvec_and_bit() {
        Spi::run("CREATE TABLE hb (h halfvec(3), b bit(4))").unwrap();
        Spi::run("INSERT INTO hb SELECT ARRAY[i, i % 7, -i]::real[]::halfvec, (i % 16)::bit(4) FROM generate_series(1, 200) i").unwrap();
        for opclass in ["halfvec_l2_ops", "halfvec_ip_ops", "halfvec_cosine_ops", "halfvec_l1_ops"] {
            Spi::run(&format!("CREATE INDEX ON hb USING hnsw (h {opclass})")).unwrap();
        }
        Spi::run("CREATE INDEX ON hb USING hnsw (b bit_hamming_ops)").unwrap();
        Spi::run("CREATE INDEX ON hb USING hnsw (b bit_jaccard_ops)").unwrap();
        Spi::run("SET enable_seqscan = off").unwrap();
        assert_eq!(text("SELECT h::text FROM hb ORDER BY h <-> '[10,3,-10]' LIMIT 1"), "[10,3,-10]");
        assert_eq!(one::<f64>("SELECT b <~> '1010' FROM hb ORDER BY b <~> '1010' LIMIT 1"), 0.0);
        let (state, _) = error_of("SELECT 1 FROM hb ORDER BY h <-> '[1,2]' LIMIT 1");
        assert_eq!(state, "22000");
    }

    /// Beyond pgvector's 4,000 (halfvec) dimensions: vecstore chunks values,
    /// so halfvec indexes take the type's 16,000; bit(64000) too.
    #[pg_test]
    fn hnsw_high_dimensions() {
        Spi::run("CREATE TABLE hd (id int, h halfvec(16000), b bit(64000))").unwrap();
        Spi::run(
            "INSERT INTO hd SELECT i, array_fill(i::real / 10, ARRAY[16000])::halfvec, \
             repeat(CASE WHEN i % 2 = 0 THEN '1' ELSE '0' END, 64000)::bit(64000) FROM generate_series(1, 20) i",
        )
        .unwrap();
        Spi::run("CREATE INDEX ON hd USING hnsw (h halfvec_l2_ops)").unwrap();
        Spi::run("CREATE INDEX ON hd USING hnsw (b bit_hamming_ops)").unwrap();
        Spi::run("SET enable_seqscan = off").unwrap();
        let q = "array_fill(0.7::real, ARRAY[16000])::halfvec";
        assert_eq!(one::<i32>(&format!("SELECT id FROM hd ORDER BY h <-> {q} LIMIT 1")), 7);
        let nearest = "SELECT count(*) FROM (SELECT id FROM hd ORDER BY b <~> repeat('1', 64000)::bit(64000) LIMIT 5) s";
        assert_eq!(one::<i64>(nearest), 5);
        Spi::run("CREATE TABLE hx (b bit(64001))").unwrap();
        let (state, message) = error_of("CREATE INDEX ON hx USING hnsw (b bit_hamming_ops)");
        assert_eq!((state.as_str(), message.as_str()), ("54000", "column cannot have more than 64000 dimensions for hnsw index"));
    }

    #[pg_test(error = "type not supported for hnsw index")]
    fn hnsw_refuses_varbit() {
        Spi::run("CREATE TABLE vb (b varbit(4))").unwrap();
        Spi::run("CREATE INDEX ON vb USING hnsw (b bit_hamming_ops)").unwrap();
    }
}
