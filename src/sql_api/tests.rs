//! In-server tests: SQL behaviour and every user error's SQLSTATE.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// The five-character SQLSTATE of a packed error code.
    fn sqlstate(code: i32) -> String {
        (0..5).map(|i| (((code >> (6 * i)) & 0x3f) as u8 + b'0') as char).collect()
    }

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql).expect("query failed").expect("NULL result")
    }

    #[pg_test]
    fn text_round_trip() {
        assert_eq!(one::<String>("SELECT '[1,2.5,-3]'::vector::text"), "[1,2.5,-3]");
        assert_eq!(one::<String>("SELECT '[1.5e38,-1.5e38]'::vector::text"), "[1.5e+38,-1.5e+38]");
        assert_eq!(one::<String>("SELECT '[1e-46]'::vector::text"), "[0]");
    }

    #[pg_test]
    fn worked_example() {
        let ip = one::<f64>("SELECT inner_product('[2,3,4]'::vector, '[1,2,3]')");
        assert_eq!(ip, 20.0);
        let l2 = one::<f64>("SELECT '[2,3,4]'::vector <-> '[1,2,3]'");
        assert!((l2 - 3f64.sqrt()).abs() < 1e-7, "{l2}");
        let cos = one::<f64>("SELECT '[2,3,4]'::vector <=> '[1,2,3]'");
        let want = 1.0 - 20.0 / (29f64.sqrt() * 14f64.sqrt());
        assert!((cos - want).abs() < 1e-7 && (cos - 0.00742).abs() < 1e-5, "{cos}");
    }

    #[pg_test]
    fn on_disk_size() {
        assert_eq!(one::<i32>("SELECT pg_column_size('[1,2,3]'::vector)"), 20);
        assert_eq!(one::<i32>("SELECT pg_column_size(array_fill(1, ARRAY[1000])::vector)"), 4008);
    }

    #[pg_test]
    fn typmod_enforced() {
        Spi::run("CREATE TABLE t (v vector(3))").unwrap();
        Spi::run("INSERT INTO t VALUES ('[1,2,3]')").unwrap();
        assert_eq!(one::<String>("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v'"), "vector(3)");
    }

    #[pg_test(error = "expected 3 dimensions, not 2")]
    fn typmod_insert_error() {
        Spi::run("CREATE TABLE t (v vector(3))").unwrap();
        Spi::run("INSERT INTO t VALUES ('[1,2]')").unwrap();
    }

    #[pg_test(error = "different vector dimensions 3 and 2")]
    fn different_dims_error() {
        Spi::run("SELECT '[1,2,3]'::vector <-> '[1,2]'").unwrap();
    }

    #[pg_test(error = "invalid input syntax for type vector: \"[hello,1]\"")]
    fn syntax_error() {
        Spi::run("SELECT '[hello,1]'::vector").unwrap();
    }

    #[pg_test(error = "\"4e38\" is out of range for type vector")]
    fn range_error() {
        Spi::run("SELECT '[4e38]'::vector").unwrap();
    }

    #[pg_test(error = "array must not contain nulls")]
    fn array_null_error() {
        Spi::run("SELECT ARRAY[1,NULL]::vector").unwrap();
    }

    /// A state longer than int16 once crashed the server (the dim field
    /// wrapped); it is pgvector's dimension error now.
    #[pg_test(error = "vector cannot have more than 16000 dimensions")]
    fn avg_state_beyond_int16() {
        Spi::run("SELECT vector_avg(array_fill(1::float8, ARRAY[40001]))").unwrap();
    }

    #[pg_test(error = "vector must have at least 1 dimension")]
    fn avg_state_without_sums() {
        Spi::run("SELECT vector_avg('{1}')").unwrap();
    }

    #[pg_test(error = "NaN not allowed in vector")]
    fn avg_state_nan() {
        Spi::run("SELECT vector_avg('{1,NaN}')").unwrap();
    }

    #[pg_test(error = "vector_accum: expected state array")]
    fn accum_two_dimensional_state() {
        Spi::run("SELECT vector_accum('{{1,2},{3,4}}', '[1]')").unwrap();
    }

    #[pg_test(error = "expected 1 dimensions, not 3")]
    fn accum_state_dims() {
        Spi::run("SELECT vector_accum('{0,0}', '[1,2,3]')").unwrap();
    }

    #[pg_test]
    fn combine_empty_states() {
        assert_eq!(one::<Vec<f64>>("SELECT vector_combine('{2}', '{3}')"), vec![5.0]);
        assert_eq!(one::<Vec<f64>>("SELECT vector_accum('{5}', '[1,2]')"), vec![6.0, 1.0, 2.0]);
    }

    /// pgvector's arithmetic: distance sums in float4, norms in float8.
    #[pg_test]
    fn float4_edges() {
        assert_eq!(one::<f32>("SELECT vector_norm('[3e37,4e37]')::real"), 5e37);
        assert_eq!(one::<f32>("SELECT vector_norm('[1e-30]')::real"), 1e-30);
        assert_eq!(one::<String>("SELECT l2_normalize('[3e38]'::vector)::text"), "[1]");
        assert_eq!(one::<String>("SELECT l2_normalize('[3e37,4e37]'::vector)::text"), "[0.6,0.8]");
        assert_eq!(one::<f64>("SELECT l2_distance('[3e38]'::vector, '[-3e38]')"), f64::INFINITY);
        assert_eq!(one::<f64>("SELECT inner_product('[3e38]'::vector, '[3e38]')"), f64::INFINITY);
        assert_eq!(one::<f64>("SELECT l1_distance('[3e38]'::vector, '[-3e38]')"), f64::INFINITY);
        assert!(one::<f64>("SELECT cosine_distance('[3e38]'::vector, '[3e38]')").is_nan());
        assert_eq!(one::<String>("SELECT avg(v)::text FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)"), "[3e+38]");
    }

    #[pg_test(error = "value out of range: overflow")]
    fn sum_overflows_float4() {
        Spi::run("SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)").unwrap();
    }

    /// Random strings through the real input function: every rejection is
    /// an ERROR with one of pgvector's SQLSTATEs, never XX000 or a crash.
    #[pg_test]
    fn fuzz_input_function() {
        let mut rng = crate::rng::Rng::new(0xf0f0);
        let alphabet = b"[]0123456789.,eE+-xX infINFnaN";
        let allowed = ["22P02", "22003", "22000", "54000"];
        let mut errors = 0;
        for _ in 0..2000 {
            let len = rng.below(16) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char)
                .collect();
            let s = format!("[{s}]");
            let result = PgTryBuilder::new(|| {
                Spi::get_one_with_args::<String>("SELECT $1::vector::text", &[s.as_str().into()]).map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .catch_others(|e| match e {
                pg_sys::panic::CaughtError::PostgresError(r) | pg_sys::panic::CaughtError::ErrorReport(r) => {
                    Err(format!("SQLSTATE {}", sqlstate(r.sql_error_code() as i32)))
                }
                other => Err(format!("{other:?}")),
            })
            .execute();
            if let Err(msg) = result {
                errors += 1;
                assert!(allowed.iter().any(|c| msg.ends_with(c)), "{s:?}: {msg}");
            }
        }
        assert!(errors > 100);
    }
}
