//! Scalar reference kernels: the same loops pgvector runs (f32 accumulation),
//! plus f64 "truth" used by tests to bound the error of every kernel.

/// Squared Euclidean distance, f32 accumulation.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s as f64
}

/// Inner product, f32 accumulation.
pub fn inner_product(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s as f64
}

/// Cosine distance with pgvector's clamping and zero-norm NaN. Its three
/// sums are fused multiply-adds, as pgvector's compiled loop keeps them
/// (unlike its inner-product and L2 loops, whose products round first).
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot = x.mul_add(*y, dot);
        na = x.mul_add(*x, na);
        nb = y.mul_add(*y, nb);
    }
    let sim = dot as f64 / ((na as f64) * (nb as f64)).sqrt();
    1.0 - sim.clamp(-1.0, 1.0)
}

/// Taxicab distance, f32 accumulation.
pub fn l1_distance(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s += (x - y).abs();
    }
    s as f64
}

/// f64 references: exact enough to judge the f32 kernels.
pub mod exact {
    /// Squared Euclidean distance in f64.
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum()
    }
    /// Inner product in f64.
    pub fn inner_product(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }
    /// Cosine distance in f64.
    pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
        let d = inner_product(a, b);
        let n = (inner_product(a, a) * inner_product(b, b)).sqrt();
        1.0 - (d / n).clamp(-1.0, 1.0)
    }
    /// Taxicab distance in f64.
    pub fn l1_distance(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum()
    }
}
