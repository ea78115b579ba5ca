//! Distance kernels over `f32` slices: this crate's four-accumulator
//! kernels on x86-64 with AVX-512 or AVX2+FMA ([`wide`]), else simsimd
//! (runtime CPU dispatch: NEON or serial C), and a portable scalar reference.
//!
//! No Postgres here. Callers check that both slices have the same length;
//! every function below assumes it (debug builds assert it).

pub mod bits;
pub mod half;
pub mod scalar;
pub mod sparse;
pub mod sparse_table;
#[cfg(target_arch = "x86_64")]
pub mod wide;

use simsimd::SpatialSimilarity;

/// The metrics pgvector's operators expose (the last two for `bit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `<->`: Euclidean distance.
    L2,
    /// `<#>`: negative inner product.
    InnerProduct,
    /// `<=>`: cosine distance.
    Cosine,
    /// `<+>`: taxicab distance.
    L1,
    /// `<~>`: Hamming distance between bit strings.
    Hamming,
    /// `<%>`: Jaccard distance between bit strings.
    Jaccard,
}

/// A SIMD sum as pgvector returns it: a float4 value widened to float8.
/// simsimd's back-ends differ at the edges (AVX2 reduces its lanes in f64,
/// AVX-512 and NEON in f32), so a sum outside float4's range, or NaN, is
/// recomputed with the plain float4 loop pgvector runs. That costs one
/// comparison on ordinary inputs.
#[inline]
pub(crate) fn float4_sum(fast: f64, scalar: impl FnOnce() -> f64) -> f64 {
    let sum = fast as f32;
    if sum.is_finite() {
        sum as f64
    } else {
        scalar()
    }
}

/// Below this many elements pgvector's float4 loops run as plain
/// sequential code (its vectorised loop takes 8 at a time), so a running
/// total that overflows stays Infinity there (`[2e38,2e38,-2e38] <#>
/// [1,1,1]` is -Infinity) while lanes summed in another order may not
/// overflow at all: such short sums take the same sequential loop.
const SEQUENTIAL: usize = 8;

/// Squared Euclidean distance, summed in float4 as pgvector does.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < SEQUENTIAL {
        return scalar::l2_squared(a, b);
    }
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return float4_sum(unsafe { wide::l2_squared(a, b) } as f64, || scalar::l2_squared(a, b));
    }
    #[cfg(target_arch = "x86_64")]
    if wide::avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return float4_sum(unsafe { wide::avx2::l2_squared(a, b) } as f64, || scalar::l2_squared(a, b));
    }
    // simsimd only refuses slices of different lengths, excluded above.
    float4_sum(f32::l2sq(a, b).unwrap_or(f64::NAN), || scalar::l2_squared(a, b))
}

/// Inner (dot) product, summed in float4 as pgvector does.
#[inline]
pub fn inner_product(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < SEQUENTIAL {
        return scalar::inner_product(a, b);
    }
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return float4_sum(unsafe { wide::inner_product(a, b) } as f64, || scalar::inner_product(a, b));
    }
    #[cfg(target_arch = "x86_64")]
    if wide::avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return float4_sum(unsafe { wide::avx2::inner_product(a, b) } as f64, || scalar::inner_product(a, b));
    }
    float4_sum(f32::dot(a, b).unwrap_or(f64::NAN), || scalar::inner_product(a, b))
}

/// [`inner_product`] for an index's order, where only the order of
/// ordinary values matters: on AVX2 without AVX-512 the running sums go
/// unchecked (5-15 % faster), so with terms near float4's limit (running
/// sums past f32::MAX / 4n) the value may be finite where the operator's
/// is infinite.
#[inline]
pub fn index_inner_product(a: &[f32], b: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if a.len() >= SEQUENTIAL && !wide::available() && wide::avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return float4_sum(unsafe { wide::avx2::inner_product_unchecked(a, b) } as f64, || scalar::inner_product(a, b));
    }
    inner_product(a, b)
}

/// Cosine distance `1 - cos`, clamped to [0, 2]; NaN when a norm is zero
/// (pgvector's rule: such a pair has no angle), and, as in pgvector, when a
/// float4 sum of squares overflows or underflows (`[3e38]`, `[1e-30]`).
#[inline]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    if a.len() < SEQUENTIAL {
        return scalar::cosine_distance(a, b);
    }
    let dot = inner_product(a, b);
    let norms = inner_product(a, a) * inner_product(b, b);
    let similarity = dot / norms.sqrt();
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// Taxicab distance. simsimd has no f32 L1 kernel; this loop keeps eight
/// independent accumulators so the compiler vectorises it.
#[inline]
pub fn l1_distance(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += (x[i] - y[i]).abs();
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += (x - y).abs();
    }
    (acc.iter().sum::<f32>() + tail) as f64
}

/// Euclidean norm, accumulated in f64 as pgvector's `vector_norm` and
/// `l2_normalize` do: a float4 square is exact in f64, so only the sum
/// rounds, and `[3e37,4e37]` has norm 5e37 where a float4 sum overflows.
/// Eight independent accumulators let the compiler vectorise the loop.
#[inline]
pub fn norm(a: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let mut chunks = a.chunks_exact(8);
    for x in &mut chunks {
        for i in 0..8 {
            acc[i] += x[i] as f64 * x[i] as f64;
        }
    }
    let mut tail = 0f64;
    for x in chunks.remainder() {
        tail += *x as f64 * *x as f64;
    }
    (acc.iter().sum::<f64>() + tail).sqrt()
}

/// The distance an index orders by for `metric`: monotone in the operator's
/// value and cheaper (squared L2; for cosine, `1 - dot` of vectors the index
/// normalised). Zero for identical vectors except with inner product. Kept
/// in f64 so huge (but finite) vectors still order correctly.
#[inline]
pub fn index_distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    match metric {
        Metric::L2 => l2_squared(a, b),
        Metric::InnerProduct => -index_inner_product(a, b),
        Metric::Cosine => 1.0 - index_inner_product(a, b),
        Metric::L1 => l1_distance(a, b),
        // bit metrics never pair with float values (the metapage check
        // ties them to the bit value kind)
        Metric::Hamming | Metric::Jaccard => f64::NAN,
    }
}

impl Metric {
    /// Whether identical vectors are at distance 0 (all but inner product).
    pub fn zero_on_identical(self) -> bool {
        self != Metric::InnerProduct
    }

    /// Whether the index stores and queries unit vectors.
    pub fn normalizes(self) -> bool {
        self == Metric::Cosine
    }
}

/// Asks the CPU to start loading `x` into its caches (a hint; no effect
/// on results). Graph searches touch vectors at random, so the loads of
/// the next few overlap the arithmetic on the current one.
#[inline]
pub fn prefetch<T>(x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(x);
        let p = x.as_ptr().cast::<i8>();
        let mut off = 0;
        while off < bytes {
            // SAFETY: a prefetch is only a hint: it never faults or changes
            // memory, and the address lies within `x`.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Names of the SIMD back-ends simsimd selected on this CPU, best first.
pub fn simd_capabilities() -> Vec<&'static str> {
    use simsimd::capabilities as c;
    let mut found = Vec::new();
    for (on, name) in [
        (c::uses_sapphire(), "sapphire"),
        (c::uses_genoa(), "genoa"),
        (c::uses_ice(), "ice"),
        (c::uses_skylake(), "skylake"),
        (c::uses_haswell(), "haswell"),
        (c::uses_sve(), "sve"),
        (c::uses_neon(), "neon"),
    ] {
        if on {
            found.push(name);
        }
    }
    if found.is_empty() {
        found.push("serial");
    }
    found
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_half_bits;

#[cfg(test)]
mod tests_avx2_edges;
