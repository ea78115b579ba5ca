//! Fuzz-style in-server tests: random aggregate states (NaN, infinities,
//! huge values, NULLs, 2-D and empty arrays, lengths past 16000 and past
//! int16) and random vectors through `vector_accum`, `vector_combine`,
//! `vector_avg`, `||` and `subvector`. Each call is checked against a model
//! of pgvector's rules (sql-surface "Aggregate state"): it must return the
//! model's value or raise the model's error, message and SQLSTATE. A crash
//! ends the test backend and fails the test.

#[pgrx::pg_schema]
mod tests {
    use crate::rng::Rng;
    use crate::types::text::format_vector;
    use pgrx::prelude::*;

    /// A value, or (SQLSTATE, message).
    type Outcome<T> = Result<T, (String, String)>;

    const MAX_DIM: usize = 16000;

    fn sqlstate(code: i32) -> String {
        (0..5).map(|i| (((code >> (6 * i)) & 0x3f) as u8 + b'0') as char).collect()
    }

    fn err<T>(state: &str, message: impl Into<String>) -> Outcome<T> {
        Err((state.to_string(), message.into()))
    }

    /// Runs `query` for one value, turning an ERROR into (SQLSTATE, message).
    fn run<T: FromDatum + IntoDatum>(query: &str) -> Outcome<Option<T>> {
        PgTryBuilder::new(|| Ok(Spi::get_one::<T>(query).expect("SPI failed")))
            .catch_others(|e| match e {
                pg_sys::panic::CaughtError::PostgresError(r) | pg_sys::panic::CaughtError::ErrorReport(r) => {
                    Err((sqlstate(r.sql_error_code() as i32), r.message().to_string()))
                }
                other => panic!("{query}: not a Postgres error: {other:?}"),
            })
            .execute()
    }

    /// An aggregate state argument as SQL sees it.
    #[derive(Clone, Debug)]
    enum State {
        /// One-dimensional; `None` is SQL NULL.
        Flat(Vec<Option<f64>>),
        /// The same row twice: a 2 x n array.
        TwoD(Vec<f64>),
    }

    fn float8_literal(v: f64) -> String {
        if v.is_nan() {
            "NaN".into()
        } else if v.is_infinite() {
            if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
        } else {
            format!("{v:e}")
        }
    }

    impl State {
        /// The SQL expression for the array.
        fn sql(&self) -> String {
            let list = |xs: &[Option<f64>]| {
                xs.iter().map(|x| x.map_or("NULL".to_string(), float8_literal)).collect::<Vec<_>>().join(",")
            };
            match self {
                State::Flat(xs) if xs.len() > 64 && xs[1..].iter().all(|x| x.map(f64::to_bits) == xs[1].map(f64::to_bits)) => format!(
                    "array_prepend({}::float8, array_fill({}::float8, ARRAY[{}]))",
                    xs[0].map_or("NULL".to_string(), |v| format!("'{}'", float8_literal(v))),
                    xs[1].map_or("NULL".to_string(), |v| format!("'{}'", float8_literal(v))),
                    xs.len() - 1
                ),
                State::Flat(xs) => format!("'{{{}}}'::float8[]", list(xs)),
                State::TwoD(xs) => {
                    let row = list(&xs.iter().map(|x| Some(*x)).collect::<Vec<_>>());
                    format!("'{{{{{row}}},{{{row}}}}}'::float8[]")
                }
            }
        }

        /// The values if pgvector accepts the array as a state: 1-D,
        /// at least one element, no NULLs.
        fn valid(&self) -> Option<Vec<f64>> {
            match self {
                State::Flat(xs) if !xs.is_empty() => xs.iter().copied().collect(),
                _ => None,
            }
        }
    }

    fn check_state(s: &State, caller: &str) -> Outcome<Vec<f64>> {
        s.valid().map_or_else(|| err("XX000", format!("{caller}: expected state array")), Ok)
    }

    fn check_dim(d: usize) -> Outcome<()> {
        if d < 1 {
            err("22000", "vector must have at least 1 dimension")
        } else if d > MAX_DIM {
            err("54000", format!("vector cannot have more than {MAX_DIM} dimensions"))
        } else {
            Ok(())
        }
    }

    fn overflow<T>() -> Outcome<T> {
        err("22003", "value out of range: overflow")
    }

    fn model_accum(s: &State, x: &[f32]) -> Outcome<Vec<f64>> {
        let s = check_state(s, "vector_accum")?;
        let d = s.len() - 1;
        let mut out = vec![s[0] + 1.0];
        if d == 0 {
            out.extend(x.iter().map(|v| *v as f64));
            return Ok(out);
        }
        if d != x.len() {
            return err("22000", format!("expected {d} dimensions, not {}", x.len()));
        }
        for (s, v) in s[1..].iter().zip(x) {
            let sum = s + *v as f64;
            if sum.is_infinite() {
                return overflow();
            }
            out.push(sum);
        }
        Ok(out)
    }

    fn model_combine(a: &State, b: &State) -> Outcome<Vec<f64>> {
        let a = check_state(a, "vector_combine")?;
        let b = check_state(b, "vector_combine")?;
        let (d1, d2) = (a.len() - 1, b.len() - 1);
        let sums = if d1 == 0 && d2 == 0 {
            vec![]
        } else if d1 == 0 {
            check_dim(d2)?;
            b[1..].to_vec()
        } else if d2 == 0 {
            check_dim(d1)?;
            a[1..].to_vec()
        } else {
            check_dim(d1)?;
            if d1 != d2 {
                return err("22000", format!("expected {d1} dimensions, not {d2}"));
            }
            let mut sums = Vec::with_capacity(d1);
            for (x, y) in a[1..].iter().zip(&b[1..]) {
                if (x + y).is_infinite() {
                    return overflow();
                }
                sums.push(x + y);
            }
            sums
        };
        Ok([vec![a[0] + b[0]], sums].concat())
    }

    fn model_avg(s: &State) -> Outcome<Option<String>> {
        let s = check_state(s, "vector_avg")?;
        let n = s[0];
        if n == 0.0 {
            return Ok(None);
        }
        check_dim(s.len() - 1)?;
        let mut out = Vec::with_capacity(s.len() - 1);
        for v in &s[1..] {
            let r = (v / n) as f32;
            if r.is_nan() {
                return err("22000", "NaN not allowed in vector");
            }
            if r.is_infinite() {
                return err("22000", "infinite value not allowed in vector");
            }
            out.push(r);
        }
        Ok(Some(format_vector(&out)))
    }

    fn model_concat(a: &[f32], b: &[f32]) -> Outcome<Option<String>> {
        check_dim(a.len() + b.len())?;
        Ok(Some(format_vector(&[a, b].concat())))
    }

    fn model_subvector(a: &[f32], start: i32, count: i32) -> Outcome<Option<String>> {
        let dim = a.len() as i64;
        let too_few = || err("22000", "vector must have at least 1 dimension");
        if count < 1 {
            return too_few();
        }
        let (start, count) = (start as i64, count as i64);
        let end = if start > dim - count { dim + 1 } else { start + count };
        if start > dim {
            return too_few();
        }
        let start = start.max(1);
        check_dim(usize::try_from(end - start).unwrap_or(0))?;
        Ok(Some(format_vector(&a[(start - 1) as usize..(end - 1) as usize])))
    }

    /// Bitwise equal, any NaN equal to any NaN.
    fn same(got: &[Option<f64>], want: &[f64]) -> bool {
        got.len() == want.len()
            && got.iter().zip(want).all(|(g, w)| {
                g.is_some_and(|g| g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()))
            })
    }

    fn state_value(rng: &mut Rng) -> f64 {
        match rng.below(24) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 1e308,
            4 => -f64::MAX,
            5 => 3e38,
            6 => -3.4e38,
            7 => 5e-324,
            8 => -0.0,
            9 | 10 => 0.0,
            11 => 1e300,
            _ => rng.normal() * 10f64.powi(rng.below(8) as i32 - 2),
        }
    }

    fn count_value(rng: &mut Rng) -> f64 {
        match rng.below(12) {
            0..=3 => 0.0,
            4 | 5 => 1.0,
            6 => 2.0,
            7 => -1.0,
            8 => 0.5,
            9 => 1e-300,
            _ => state_value(rng),
        }
    }

    fn big_len(rng: &mut Rng) -> usize {
        [16000, 16001, 16002, 20001, 32768, 32769, 40001, 65537, 70000][rng.below(9) as usize]
    }

    fn random_state(rng: &mut Rng, dims: usize) -> State {
        let len = match rng.below(24) {
            0 => 0,
            1 => big_len(rng),
            2..=12 => dims + 1,
            _ => 1 + rng.below(5) as usize,
        };
        let n = count_value(rng);
        if len > 64 {
            let fill = if rng.below(2) == 0 { 1.0 } else { state_value(rng) };
            let nulls = rng.below(8) == 0;
            let mut xs = vec![Some(fill); len];
            xs[0] = (!nulls).then_some(n);
            return State::Flat(xs);
        }
        let values: Vec<f64> = (0..len).map(|i| if i == 0 { n } else { state_value(rng) }).collect();
        match rng.below(10) {
            0 if len > 0 => State::TwoD(values),
            1 if len > 0 => {
                let mut xs: Vec<Option<f64>> = values.into_iter().map(Some).collect();
                let at = rng.below(len as u64) as usize;
                xs[at] = None;
                State::Flat(xs)
            }
            _ => State::Flat(values.into_iter().map(Some).collect()),
        }
    }

    fn vector_value(rng: &mut Rng) -> f32 {
        match rng.below(16) {
            0 => 3e38,
            1 => -3e38,
            2 => f32::MAX,
            3 => 1e-45,
            4 => 0.0,
            _ => (rng.normal() * 10f64.powi(rng.below(6) as i32 - 2)) as f32,
        }
    }

    /// A random vector of `dims` elements and its SQL expression.
    fn random_vector(rng: &mut Rng, dims: usize) -> (Vec<f32>, String) {
        if dims > 64 {
            let fill = vector_value(rng);
            let mut text = String::new();
            crate::types::text::write_float(&mut text, fill);
            return (vec![fill; dims], format!("array_fill('{text}'::real, ARRAY[{dims}])::vector"));
        }
        let x: Vec<f32> = (0..dims).map(|_| vector_value(rng)).collect();
        let sql = format!("'{}'::vector", format_vector(&x));
        (x, sql)
    }

    fn random_dims(rng: &mut Rng) -> usize {
        match rng.below(12) {
            0 => [7999, 8000, 8001, 15999, 16000][rng.below(5) as usize],
            _ => 1 + rng.below(5) as usize,
        }
    }

    /// Tallies outcomes so the test proves it reached both paths.
    #[derive(Default)]
    struct Tally {
        ok: usize,
        errors: usize,
    }

    impl Tally {
        fn add<T>(&mut self, outcome: &Outcome<T>) {
            if outcome.is_ok() {
                self.ok += 1
            } else {
                self.errors += 1
            }
        }
    }

    #[pg_test]
    fn fuzz_aggregate_states_and_concat() {
        let seed = 0xa66_5eed_u64;
        let mut rng = Rng::new(seed);
        let mut tallies: [Tally; 5] = Default::default();
        for round in 0..1500 {
            let dims = random_dims(&mut rng);
            let context = |query: &str| format!("seed {seed} round {round}: {query}");
            match round % 5 {
                0 => {
                    let s = random_state(&mut rng, dims);
                    let (x, v) = random_vector(&mut rng, dims);
                    let query = format!("SELECT vector_accum({}, {v})", s.sql());
                    let want = model_accum(&s, &x);
                    let got = run::<Vec<Option<f64>>>(&query);
                    match (&got, &want) {
                        (Ok(Some(g)), Ok(w)) => assert!(same(g, w), "{}: got {g:?}, want {w:?}", context(&query)),
                        (Err(g), Err(w)) => assert_eq!(g, w, "{}", context(&query)),
                        _ => panic!("{}: got {got:?}, want {want:?}", context(&query)),
                    }
                    tallies[0].add(&want);
                }
                1 => {
                    let a = random_state(&mut rng, dims);
                    let b = random_state(&mut rng, dims);
                    let query = format!("SELECT vector_combine({}, {})", a.sql(), b.sql());
                    let want = model_combine(&a, &b);
                    let got = run::<Vec<Option<f64>>>(&query);
                    match (&got, &want) {
                        (Ok(Some(g)), Ok(w)) => assert!(same(g, w), "{}: got {g:?}, want {w:?}", context(&query)),
                        (Err(g), Err(w)) => assert_eq!(g, w, "{}", context(&query)),
                        _ => panic!("{}: got {got:?}, want {want:?}", context(&query)),
                    }
                    tallies[1].add(&want);
                }
                2 => {
                    let s = random_state(&mut rng, dims);
                    let query = format!("SELECT vector_avg({})::text", s.sql());
                    let want = model_avg(&s);
                    assert_eq!(run::<String>(&query), want, "{}", context(&query));
                    tallies[2].add(&want);
                }
                3 => {
                    // half the operands near the limit, so sums pass 16000 often
                    let mut concat_dims =
                        || if rng.below(2) == 0 { 7999 + rng.below(8002) as usize } else { random_dims(&mut rng) };
                    let (da, db) = (concat_dims(), concat_dims());
                    let (a, va) = random_vector(&mut rng, da);
                    let (b, vb) = random_vector(&mut rng, db);
                    let query = format!("SELECT ({va} || {vb})::text");
                    let want = model_concat(&a, &b);
                    assert_eq!(run::<String>(&query), want, "{}", context(&query));
                    tallies[3].add(&want);
                }
                _ => {
                    let (a, va) = random_vector(&mut rng, dims);
                    let mut pick = || match rng.below(10) {
                        0 => i32::MIN,
                        1 => i32::MAX,
                        2 => dims as i32,
                        3 => dims as i32 + 1,
                        4 => i32::MAX - rng.below(4) as i32,
                        _ => rng.below(12) as i32 - 4,
                    };
                    let (start, count) = (pick(), pick());
                    let query = format!("SELECT subvector({va}, {start}, {count})::text");
                    let want = model_subvector(&a, start, count);
                    assert_eq!(run::<String>(&query), want, "{}", context(&query));
                    tallies[4].add(&want);
                }
            }
        }
        for (name, t) in ["accum", "combine", "avg", "concat", "subvector"].iter().zip(&tallies) {
            assert!(t.ok >= 20 && t.errors >= 20, "{name}: only {} results and {} errors", t.ok, t.errors);
        }
    }
}
