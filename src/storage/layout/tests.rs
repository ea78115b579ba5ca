//! Layout sizes, kinds and the stored form of sparse values.

use super::*;

/// New value kinds and metric codes decode; existing codes keep their
/// meaning (vector indexes of format 2 read unchanged); kinds pair only
/// with their metrics.
#[test]
fn half_and_bit_kinds_and_metrics() {
    assert_eq!(ValueKind::from_byte(1), Some(ValueKind::F32));
    assert_eq!(ValueKind::from_byte(2), Some(ValueKind::Sq8));
    assert_eq!(ValueKind::from_byte(3), Some(ValueKind::F16));
    assert_eq!(ValueKind::from_byte(4), Some(ValueKind::Bit));
    // 5: the retired padded sparse layout (REINDEX)
    assert_eq!(ValueKind::from_byte(5), None);
    assert_eq!(ValueKind::from_byte(6), Some(ValueKind::Sparse));
    assert_eq!(ValueKind::from_byte(7), None);
    assert_eq!(ValueKind::F16.value_bytes(384), 768);
    // sparse: the metapage's dims is the room for non-zeros
    assert_eq!(ValueKind::Sparse.value_bytes(1000), 8008);
    assert_eq!(ValueKind::Sparse.max_dims(), 16_000);
    assert!(ValueKind::Sparse.pairs_with(Metric::InnerProduct) && !ValueKind::Sparse.pairs_with(Metric::Hamming));
    let big = Shape::new(16, ValueKind::Sparse.value_bytes(16_000));
    assert_eq!(big.inline_bytes + big.chunk_sizes().iter().map(|c| c - CHUNK_HEADER).sum::<usize>(), 128_008);
    assert_eq!(ValueKind::Bit.value_bytes(385), 49);
    assert_eq!(ValueKind::Bit.max_dims(), 64_000);
    for (m, c) in [(Metric::L2, 1), (Metric::InnerProduct, 2), (Metric::Cosine, 3), (Metric::L1, 4), (Metric::Hamming, 5), (Metric::Jaccard, 6)] {
        assert_eq!(metric_code(m), c);
        assert_eq!(metric_from_code(c), Some(m));
    }
    assert!(ValueKind::F16.pairs_with(Metric::Cosine) && !ValueKind::F16.pairs_with(Metric::Hamming));
    assert!(ValueKind::Bit.pairs_with(Metric::Jaccard) && !ValueKind::Bit.pairs_with(Metric::L2));
    assert!(ValueKind::F32.pairs_with(Metric::L1) && !ValueKind::Sq8.pairs_with(Metric::Hamming));
    let shape = Shape::new(16, ValueKind::Bit.value_bytes(64_000));
    assert!(shape.inline_bytes <= shape.value_bytes);
}

#[test]
fn every_tuple_of_every_shape_fits_a_page() {
    for m in [2, 4, 5, 16, 48, 100] {
        let top = max_level(m);
        assert!(item_space(neighbor_size(m, top)) <= PAGE_FREE, "m={m}");
        assert!(top >= 5, "m={m} allows only level {top}");
        for dims in (1..=200).chain([1535, 1536, 1950, 1999, 2000, 2001, 3072, 4096, 16_000]) {
            let s = Shape::new(m, ValueKind::F32.value_bytes(dims));
            assert!(item_space(s.element_size()) <= PAGE_FREE, "m={m} dims={dims}");
            for c in s.chunk_sizes() {
                assert!(item_space(c) <= PAGE_FREE);
            }
            let stored: usize = s.inline_bytes + s.chunk_sizes().iter().map(|c| c - CHUNK_HEADER).sum::<usize>();
            assert_eq!(stored, s.value_bytes, "m={m} dims={dims}");
            assert_eq!(s.chunks(), s.chunk_sizes().len());
        }
    }
}

/// Sparse values are stored unpadded; a variable shape sizes each
/// element by its own value, within the room.
#[test]
fn sparse_values_are_stored_at_their_own_size() {
    use crate::distance::sparse::{encode, pad};
    let words = encode(30_522, &[3, 70, 9000], &[0.5, -1.0, 2.0]);
    let padded = pad(&words, 1000);
    let bytes = |w: &[f32]| w.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
    let padded_bytes = bytes(&padded);
    let stored = stored_value(ValueKind::Sparse, &padded_bytes);
    assert_eq!(&stored[..], &bytes(&words)[..]);
    assert_eq!(stored.len(), 8 + 8 * 3);
    // unpadded already, full, or not sparse: unchanged
    assert_eq!(&stored_value(ValueKind::Sparse, &bytes(&words))[..], &bytes(&words)[..]);
    let full = bytes(&pad(&words, 3));
    assert_eq!(&stored_value(ValueKind::Sparse, &full)[..], &full[..]);
    assert_eq!(&stored_value(ValueKind::F32, &bytes(&padded))[..], &bytes(&padded)[..]);
    // malformed: left for the element view to refuse
    assert_eq!(&stored_value(ValueKind::Sparse, &[1, 2, 3])[..], &[1, 2, 3]);
    let s = Shape::for_kind(16, ValueKind::Sparse, 2000);
    assert!(s.variable && s.value_bytes == 16_008 && s.inline_bytes == MAX_INLINE);
    assert_eq!(s.stored_len(&stored), 32);
    assert_eq!(s.stored_len(&[1]), 0);
    assert_eq!(s.element_size_of(32), ELEMENT_HEADER + 32);
    assert_eq!(s.chunks_of(32), 0);
    assert_eq!(s.chunks_of(16_008), 1);
    assert_eq!(s.chunk_sizes_of(16_008), vec![CHUNK_HEADER + 16_008 - MAX_INLINE]);
    assert!(s.holds(8) && s.holds(16_008) && !s.holds(16_016) && !s.holds(0) && !s.holds(12));
    let f = Shape::for_kind(16, ValueKind::F32, 3);
    assert!(!f.variable && f.holds(12) && !f.holds(8) && f.stored_len(&[]) == 12 && f.inline_of(8) == 12);
}

#[test]
fn high_dimensional_values_are_chunked() {
    let s = Shape::new(16, 4 * 2000);
    assert_eq!(s.chunks(), 0);
    assert_eq!(Shape::new(16, 4 * 2018).chunks(), 0);
    assert_eq!(Shape::new(16, 4 * 2019).chunks(), 1);
    let s = Shape::new(16, 4 * 3072);
    assert_eq!(s.chunks(), 1);
    let s = Shape::new(16, 4 * 16_000);
    assert_eq!(s.chunks(), 7);
}

#[test]
fn tids_round_trip_through_node_ids() {
    for (b, o) in [(0u32, 1u16), (1, 7), (70000, 291), (u32::MAX - 1, 2)] {
        let t = DiskTid::new(b, o);
        assert_eq!(DiskTid::from_node(t.node()), t);
        assert_eq!(t.block(), b);
    }
    assert!(!DiskTid::NONE.is_valid());
}

#[test]
fn kinds_and_states_decode() {
    for s in [ElementState::Live, ElementState::Deleted, ElementState::Reusable] {
        assert_eq!(ElementState::from_byte(s as u8), Some(s));
    }
    assert_eq!(ElementState::from_byte(0), None);
    assert_eq!(ValueKind::from_byte(1), Some(ValueKind::F32));
    assert_eq!(ValueKind::from_byte(2), Some(ValueKind::Sq8));
    assert_eq!(ValueKind::from_byte(0), None);
}
