//! In-server tests of `sparsevec`: values pgvector prints, and each user
//! error's wording and SQLSTATE (the full surface is in
//! tests/regress/sql/sparsevec.sql).

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
    fn sparsevec_text_binary_and_layout() {
        assert_eq!(text("SELECT ' { 3 : 2 , 1 : 1.5 , 2 : 0 } / 5 '::sparsevec::text"), "{1:1.5,3:2}/5");
        assert_eq!(text("SELECT '{5:0}/3'::sparsevec::text"), "{}/3");
        assert_eq!(one::<i32>("SELECT pg_column_size('{1:1,3:2}/5'::sparsevec)"), 32);
        assert_eq!(text("SELECT sparsevec_send('{1:1.5}/2')::text"), "\\x000000020000000100000000000000003fc00000");
    }

    #[pg_test]
    fn sparsevec_functions() {
        assert_eq!(one::<f64>("SELECT l2_distance('{1:3,2:4}/2'::sparsevec, '{}/2')"), 5.0);
        assert_eq!(one::<f64>("SELECT inner_product('{1:1,2:2,4:4}/4'::sparsevec, '{2:3,3:5,4:-1}/4')"), 2.0);
        assert_eq!(one::<f64>("SELECT l1_distance('{1:1,3:2}/4'::sparsevec, '{2:1,3:-2,4:3}/4')"), 9.0);
        assert!(one::<f64>("SELECT cosine_distance('{}/2'::sparsevec, '{2:1}/2')").is_nan());
        assert_eq!(text("SELECT l2_normalize('{1:3,3:4}/5'::sparsevec)::text"), "{1:0.6,3:0.8}/5");
        assert!(one::<bool>("SELECT '{1:1,2:2}/2'::sparsevec < '{1:1,2:2,3:3}/3'"));
        assert_eq!(text("SELECT '{1:1.5,3:-2}/4'::sparsevec::vector::text"), "[1.5,0,-2,0]");
        assert_eq!(text("SELECT '[1,0,-0,2.5]'::vector::sparsevec::text"), "{1:1,4:2.5}/4");
    }

    #[pg_test]
    fn sparsevec_errors() {
        let cases = [
            ("SELECT '[1]/1'::sparsevec", "22P02", "invalid input syntax for type sparsevec: \"[1]/1\""),
            ("SELECT '{1:1e-46}/1'::sparsevec", "22003", "\"1e-46\" is out of range for type sparsevec"),
            ("SELECT '{}/1000000001'::sparsevec", "54000", "sparsevec cannot have more than 1000000000 dimensions"),
            ("SELECT '{2:1}/1'::sparsevec", "22000", "sparsevec index out of bounds"),
            ("SELECT '{1:1,1:1}/2'::sparsevec", "22000", "sparsevec indices must not contain duplicates"),
            ("SELECT '{1:1}/2'::sparsevec <-> '{1:1}/1'", "22000", "different sparsevec dimensions 2 and 1"),
            ("SELECT '{}/3'::sparsevec(1000000001)", "22023", "dimensions for type sparsevec cannot exceed 1000000000"),
            ("SELECT array_fill(1, ARRAY[16001])::sparsevec", "54000", "sparsevec cannot have more than 16000 non-zero elements"),
        ];
        for (sql, state, message) in cases {
            assert_eq!(error_of(sql), (state.to_string(), message.to_string()), "{sql}");
        }
    }
}
