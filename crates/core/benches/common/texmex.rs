//! The texmex `.fvecs` / `.ivecs` format the benches and examples read:
//! rows of a little-endian u32 dimension count followed by that many
//! 4-byte words (float4 bits or u32 ids).

/// The dimension and all rows' words, the count words dropped (ids as
/// they are; float4 rows through `f32::from_bits`).
pub fn read_rows(path: &str) -> (usize, Vec<u32>) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dims = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    let words: Vec<u32> = raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    (dims, words.chunks_exact(dims + 1).flat_map(|r| r[1..].to_vec()).collect())
}
