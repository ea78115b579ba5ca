//! Parser, printer and binary codec of sparsevec: pgvector's accepted
//! forms and each rejection in its check order.

use super::*;

fn p(s: &str) -> Result<SparseParts, SparseError> {
    parse(s.as_bytes(), -1)
}

fn parts(dim: i32, indices: &[i32], values: &[f32]) -> SparseParts {
    SparseParts { dim, indices: indices.to_vec(), values: values.to_vec() }
}

#[test]
fn accepts_pgvector_forms() {
    assert_eq!(p("{1:1.5,3:3.5}/5").unwrap(), parts(5, &[0, 2], &[1.5, 3.5]));
    assert_eq!(p(" { 1 : 1.5 ,  3  :  3.5  } / 5 ").unwrap(), parts(5, &[0, 2], &[1.5, 3.5]));
    assert_eq!(p("{}/5").unwrap(), parts(5, &[], &[]));
    assert_eq!(p("{1:0,2:1,3:-0}/3").unwrap(), parts(3, &[1], &[1.0]));
    assert_eq!(p("{5:0}/3").unwrap(), parts(3, &[], &[]));
    assert_eq!(p("{2:1,1:2}/2").unwrap(), parts(2, &[0, 1], &[2.0, 1.0]));
    assert_eq!(p("{+1:1}/+2").unwrap(), parts(2, &[0], &[1.0]));
}

#[test]
fn rejects_in_pgvector_order() {
    let syntax = SparseError::Vector(VectorError::Syntax { detail: None });
    let detail = |d| SparseError::Vector(VectorError::Syntax { detail: Some(d) });
    assert_eq!(p("[1]/1"), Err(detail("Vector contents must start with \"{\".")));
    assert_eq!(p("{}"), Err(detail("Unexpected end of input.")));
    assert_eq!(p("{}/1a"), Err(detail("Junk after closing.")));
    for s in ["{}/", "{1:}/1", "{1,}/1", "{1:1,}/1", "{1a:1}/1"] {
        assert_eq!(p(s), Err(syntax.clone()), "{s}");
    }
    assert_eq!(p("{1:NaN}/1"), Err(VectorError::NaN.into()));
    assert_eq!(p("{1:-inf}/1"), Err(VectorError::Infinite.into()));
    assert_eq!(p("{1:4e38}/1"), Err(VectorError::OutOfRange("4e38".into()).into()));
    assert_eq!(p("{1:1e-46}/1"), Err(VectorError::OutOfRange("1e-46".into()).into()));
    assert_eq!(p("{}/0"), Err(VectorError::TooFewDims.into()));
    assert_eq!(p("{}/2147483648"), Err(SparseError::TooManyDims));
    assert_eq!(parse(b"{}/3", 2), Err(VectorError::ExpectedDims { expected: 2, got: 3 }.into()));
    assert_eq!(p("{0:1}/1"), Err(SparseError::OutOfBounds));
    assert_eq!(p("{2:1}/1"), Err(SparseError::OutOfBounds));
    assert_eq!(p("{1:1,1:1}/2"), Err(SparseError::Duplicates));
    let many = format!("{{{}}}/20000", vec!["1:1"; 16001].join(","));
    assert_eq!(p(&many), Err(SparseError::TooManyNnz));
}

#[test]
fn prints_and_round_trips() {
    let v = p("{3:2,1:1.5}/5").unwrap();
    assert_eq!(format(v.dim, &v.indices, &v.values), "{1:1.5,3:2}/5");
    assert_eq!(format(7, &[], &[]), "{}/7");
    let mut b = Vec::new();
    encode(v.dim, &v.indices, &v.values, &mut b);
    assert_eq!(b.len(), 12 + 16);
    assert_eq!(decode(&b, -1).unwrap(), (v, 28));
}

#[test]
fn binary_checks() {
    let enc = |dim: i32, nnz: i32, unused: i32, idx: &[i32], val: &[f32]| {
        let mut b = Vec::new();
        for w in [dim, nnz, unused].iter().chain(idx) {
            b.extend_from_slice(&w.to_be_bytes());
        }
        val.iter().for_each(|v| b.extend_from_slice(&v.to_be_bytes()));
        b
    };
    let d = |b: Vec<u8>| decode(&b, -1).map(|r| r.0);
    assert_eq!(d(enc(3, -1, 0, &[], &[])), Err(SparseError::NegativeNnz));
    assert_eq!(d(enc(3, 4, 0, &[], &[])), Err(SparseError::NnzOverDim));
    assert_eq!(d(enc(3, 1, 7, &[0], &[1.0])), Err(VectorError::UnusedNotZero(7).into()));
    assert_eq!(d(enc(3, 2, 0, &[1, 0], &[1.0, 1.0])), Err(SparseError::NotAscending));
    assert_eq!(d(enc(3, 2, 0, &[1, 1], &[1.0, 1.0])), Err(SparseError::Duplicates));
    assert_eq!(d(enc(3, 1, 0, &[3], &[1.0])), Err(SparseError::OutOfBounds));
    assert_eq!(d(enc(3, 1, 0, &[0], &[0.0])), Err(SparseError::ZeroValue));
    assert_eq!(d(enc(3, 1, 0, &[0], &[f32::NAN])), Err(VectorError::NaN.into()));
    assert_eq!(d(enc(3, 1, 0, &[0], &[])), Err(VectorError::Truncated.into()));
}
