//! Parser and printer: pgvector's accepted forms, each rejection, round
//! trips of random floats, and a fuzzer over random bytes.

use super::*;
use crate::rng::Rng;

fn p(s: &str) -> Result<Vec<f32>, VectorError> {
    parse_vector(s.as_bytes(), -1)
}

#[test]
fn accepts_pgvector_forms() {
    assert_eq!(p("[1,2,3]").unwrap(), vec![1.0, 2.0, 3.0]);
    assert_eq!(p("  [ 1 , -2.5 ,3e2 ]  ").unwrap(), vec![1.0, -2.5, 300.0]);
    assert_eq!(p("[+1,.5,1.,1e-46]").unwrap(), vec![1.0, 0.5, 1.0, 0.0]);
    assert_eq!(p("[0x10,-0x1.8p1]").unwrap(), vec![16.0, -3.0]);
    assert_eq!(p("[\t1\n]").unwrap(), vec![1.0]);
    assert_eq!(p("[1.5e38,-1.5e38]").unwrap(), vec![1.5e38, -1.5e38]);
}

#[test]
fn rejects_with_pgvector_errors() {
    let starts = VectorError::Syntax { detail: Some("Vector contents must start with \"[\".") };
    let junk = VectorError::Syntax { detail: Some("Junk after closing right brace.") };
    assert_eq!(p(""), Err(starts.clone()));
    assert_eq!(p("1,2"), Err(starts));
    assert_eq!(p("[1,2]x"), Err(junk.clone()));
    assert_eq!(p("[1,2]]"), Err(junk));
    assert_eq!(p("[hello,1]"), Err(SYNTAX));
    assert_eq!(p("[1,,2]"), Err(SYNTAX));
    assert_eq!(p("[1 2]"), Err(SYNTAX));
    assert_eq!(p("[1,"), Err(SYNTAX));
    assert_eq!(p("[1"), Err(SYNTAX));
    assert_eq!(p("[1,]"), Err(SYNTAX));
    assert_eq!(p("[0x]"), Err(SYNTAX));
    assert_eq!(p("[]"), Err(VectorError::TooFewDims));
    assert_eq!(p("[ ]"), Err(VectorError::TooFewDims));
    assert_eq!(p("[4e38]"), Err(VectorError::OutOfRange("4e38".into())));
    assert_eq!(p("[1,-1e39]"), Err(VectorError::OutOfRange("-1e39".into())));
    assert_eq!(p("[NaN]"), Err(VectorError::NaN));
    assert_eq!(p("[nan(123)]"), Err(VectorError::NaN));
    assert_eq!(p("[inf]"), Err(VectorError::Infinite));
    assert_eq!(p("[-Infinity]"), Err(VectorError::Infinite));
    assert_eq!(parse_vector(b"[1,2]", 3), Err(VectorError::ExpectedDims { expected: 3, got: 2 }));
    let big = format!("[{}]", vec!["1"; 16001].join(","));
    assert_eq!(p(&big), Err(VectorError::TooManyDims));
    let max = format!("[{}]", vec!["1"; 16000].join(","));
    assert_eq!(p(&max).unwrap().len(), 16000);
}

#[test]
fn prints_like_postgres_float4() {
    let cases: &[(f32, &str)] = &[
        (1.0, "1"),
        (-0.0, "-0"),
        (0.0, "0"),
        (1.5e38, "1.5e+38"),
        (-1.5e38, "-1.5e+38"),
        (1.23456, "1.23456"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.1, "0.1"),
        (100.0, "100"),
        (3.4028235e38, "3.4028235e+38"),
        (1e-45, "1e-45"),
        (0.33333334, "0.33333334"),
    ];
    for (v, want) in cases {
        let mut s = String::new();
        write_float(&mut s, *v);
        assert_eq!(&s, want, "printing {v:e}");
    }
    assert_eq!(format_vector(&[1.0, 2.5, -3.0]), "[1,2.5,-3]");
}

/// Postgres prints with Ryu: when the value lies exactly halfway between
/// the two shortest candidates, the even last digit wins (halves hit this
/// often: -7.41015625 has shortest forms -7.4101562 and -7.4101563).
#[test]
fn shortest_ties_round_to_even_like_ryu() {
    let cases: &[(f32, &str)] = &[
        (-7.41015625, "-7.4101562"),
        (0.251953125, "0.25195312"),
        (-2.66015625, "-2.6601562"),
        (7.44140625, "7.4414062"),
        (-0.267578125, "-0.26757812"),
        (3.72265625, "3.7226562"),
        (0.6171875, "0.6171875"),
        (65504.0, "65504"),
    ];
    for (v, want) in cases {
        let mut s = String::new();
        write_float(&mut s, *v);
        assert_eq!(&s, want, "printing {v:e}");
    }
}

#[test]
fn random_floats_round_trip() {
    let seed = 0x71e7_u64;
    println!("text round-trip seed {seed}");
    let mut rng = Rng::new(seed);
    let mut xs = Vec::new();
    while xs.len() < 100_000 {
        let v = f32::from_bits(rng.next_u64() as u32);
        if v.is_finite() {
            xs.push(v);
        }
    }
    for chunk in xs.chunks(1000) {
        let text = format_vector(chunk);
        let back = p(&text).unwrap();
        for (a, b) in chunk.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a:e} printed in {text}");
        }
    }
}

/// Random byte strings (biased towards vector-like characters) never panic;
/// every accepted literal re-parses from its printed form to the same values.
#[test]
fn fuzz_parser() {
    let seed = 0xf022_u64;
    println!("text fuzz seed {seed}");
    let mut rng = Rng::new(seed);
    let alphabet = b"[]0123456789.,eE+-xXpP infINFnaN()\t\n";
    let mut accepted = 0;
    for _ in 0..200_000 {
        let len = rng.below(24) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(10) == 0 {
                    rng.next_u64() as u8
                } else {
                    alphabet[rng.below(alphabet.len() as u64) as usize]
                }
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let text = if rng.below(2) == 0 { format!("[{text}]") } else { text.into_owned() };
        if let Ok(v) = p(&text) {
            accepted += 1;
            assert!(!v.is_empty() && v.iter().all(|x| x.is_finite()), "{text:?}");
            assert_eq!(p(&format_vector(&v)).unwrap(), v, "{text:?}");
        }
    }
    assert!(accepted > 1000, "fuzzer accepted only {accepted} inputs");
}

/// Raw bytes (any encoding: the grammar is ASCII) never panic any of the
/// three parsers, and a syntax error's message echoes them byte for byte.
#[test]
fn raw_bytes_never_panic_and_are_echoed() {
    let seed = 0x1a71_u64;
    let mut rng = Rng::new(seed);
    let alphabet = b"{}[]:/,0123456789.eE+-xXpP infINFnaN\t";
    for round in 0..100_000 {
        let len = rng.below(24) as usize;
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| if rng.below(6) == 0 { rng.next_u64() as u8 } else { alphabet[rng.below(alphabet.len() as u64) as usize] })
            .collect();
        match rng.below(3) {
            0 => bytes = [b"[".as_slice(), &bytes, b"]"].concat(),
            1 => bytes = [b"{".as_slice(), &bytes, b"}/7"].concat(),
            _ => {}
        }
        let echoed = |m: Vec<u8>, ty: &str| {
            let want = [format!("invalid input syntax for type {ty}: \"").as_bytes(), &bytes, b"\""].concat();
            assert_eq!(m, want, "seed {seed} round {round}");
        };
        if let Err(e) = parse_vector(&bytes, -1) {
            if matches!(e, VectorError::Syntax { .. }) {
                echoed(e.message_bytes_for("vector", &bytes), "vector");
            }
        }
        if let Err(e) = parse_halfvec(&bytes, -1) {
            if matches!(e, VectorError::Syntax { .. }) {
                echoed(e.message_bytes_for("halfvec", &bytes), "halfvec");
            }
        }
        if let Err(e) = crate::types::sparse::parse(&bytes, -1) {
            if matches!(e, crate::types::sparse::SparseError::Vector(VectorError::Syntax { .. })) {
                echoed(e.message_bytes(&bytes), "sparsevec");
            }
        }
    }
    // a byte that is not ASCII is a syntax error wherever it stands
    assert!(matches!(parse_vector(b"[1,\xe9]", -1), Err(VectorError::Syntax { .. })));
    assert!(matches!(parse_vector(b"[1]\xe9", -1), Err(VectorError::Syntax { .. })));
    assert!(matches!(parse_halfvec(b"[\xff]", -1), Err(VectorError::Syntax { .. })));
}
