//! k-means samples in their compact form: float4, half precision (bit
//! patterns) or packed bits, so a build holds what its memory check counts
//! (a `bit(64000)` sample is 8000 bytes, not 256,000). Sample-to-sample
//! distances run on that form; a sample is widened to float4 only for the
//! comparisons with (float4) centers, one sample at a time.

use super::kmeans::Kind;
use super::kernel;
use crate::distance::{bits, half};

/// How far (relative) from their mean the norms of samples on one sphere
/// may be ([`Samples::sphere_radius`]): float4 normalised vectors are within
/// 1e-6, half precision ones within 1e-3.
pub const SPHERE_TOLERANCE: f64 = 1e-2;

/// Samples of `dims` elements each, row after row.
#[derive(Clone, Copy, Debug)]
pub enum Samples<'a> {
    /// float4 values.
    F32 {
        /// The values.
        data: &'a [f32],
        /// Elements per sample.
        dims: usize,
    },
    /// half-precision values (IEEE bit patterns).
    F16 {
        /// The values.
        data: &'a [u16],
        /// Elements per sample.
        dims: usize,
    },
    /// bit strings of `dims` bits packed most significant bit first
    /// ([`bits::bytes_for`] bytes a sample); a set bit is 1.0, a clear one 0.0.
    Bits {
        /// The packed samples.
        data: &'a [u8],
        /// Bits per sample.
        dims: usize,
    },
}

impl<'a> Samples<'a> {
    /// Elements per sample.
    pub fn dims(&self) -> usize {
        match *self {
            Samples::F32 { dims, .. } | Samples::F16 { dims, .. } | Samples::Bits { dims, .. } => dims,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match *self {
            Samples::F32 { data, dims } => data.len().checked_div(dims).unwrap_or(0),
            Samples::F16 { data, dims } => data.len().checked_div(dims).unwrap_or(0),
            Samples::Bits { data, dims } => data.len().checked_div(bits::bytes_for(dims)).unwrap_or(0),
        }
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The k-means distance between samples `i` and `j`, on the compact form.
    #[inline]
    pub fn between(&self, kind: Kind, i: usize, j: usize) -> f64 {
        match *self {
            Samples::F32 { data, dims } => kind.distance(&data[i * dims..(i + 1) * dims], &data[j * dims..(j + 1) * dims]),
            Samples::F16 { data, dims } => {
                let (a, b) = (&data[i * dims..(i + 1) * dims], &data[j * dims..(j + 1) * dims]);
                match kind {
                    Kind::Spherical => chord(half::inner_product(a, b)),
                    _ => half::l2_squared(a, b).max(0.0).sqrt(),
                }
            }
            Samples::Bits { data, dims } => {
                let n = bits::bytes_for(dims);
                // 0/1 elements: the squared Euclidean distance is the Hamming one
                bits::hamming(&data[i * n..(i + 1) * n], &data[j * n..(j + 1) * n]).sqrt()
            }
        }
    }

    /// [`Samples::between`] of samples `first..first + count` (at most 4;
    /// the rest of the result is NaN) and sample `p`: float4 samples share
    /// one pass of `p` (the kernel's sums, see [`super::kernel`]).
    #[inline]
    pub fn between4(&self, kind: Kind, first: usize, count: usize, p: usize) -> [f64; 4] {
        let mut out = [f64::NAN; 4];
        match *self {
            Samples::F32 { data, dims } if count == 4 => {
                let row = |i: usize| &data[i * dims..(i + 1) * dims];
                let s = kind.sums4(row(p), [row(first), row(first + 1), row(first + 2), row(first + 3)]);
                out.iter_mut().zip(s).for_each(|(o, s)| *o = kind.from_sum(s));
            }
            _ => out.iter_mut().take(count).enumerate().for_each(|(o, d)| *d = self.between(kind, first + o, p)),
        }
        out
    }

    /// Sample `i` as float4: a borrow of the data for float4 samples, else
    /// widened into `buf` (one buffer per worker, reused).
    #[inline]
    pub fn row<'b>(&'b self, i: usize, buf: &'b mut Vec<f32>) -> &'b [f32] {
        match *self {
            Samples::F32 { data, dims } => &data[i * dims..(i + 1) * dims],
            Samples::F16 { data, dims } => {
                buf.clear();
                buf.extend(data[i * dims..(i + 1) * dims].iter().map(|&h| crate::half::to_f32(h)));
                buf
            }
            Samples::Bits { data, dims } => {
                let n = bits::bytes_for(dims);
                let row = &data[i * n..(i + 1) * n];
                buf.clear();
                buf.extend((0..dims).map(|e| ((row[e / 8] >> (7 - e % 8)) & 1) as f32));
                buf
            }
        }
    }

    /// The radius of the sphere about the origin that every sample lies
    /// on, if they do: their mean norm, when no norm is more than
    /// [`SPHERE_TOLERANCE`] (relative) from it (normalised embeddings, for
    /// one). None for bit samples, no sample, or a zero or non-finite mean,
    /// and for a sphere wider than the samples' largest finite element
    /// (with a margin): a unit center scaled back onto it could then
    /// overflow to infinity (elements at 3e38 make norms past f32::MAX;
    /// half ones at 60000 past 65504), where the Euclidean mean cannot.
    /// One pass, no buffer (maintenance_work_mem counts only the samples).
    pub fn sphere_radius(&self) -> Option<f64> {
        let ((sum, lo, hi, n), limit) = match *self {
            Samples::F32 { data, dims } if dims > 0 => (spread(data.chunks_exact(dims).map(crate::distance::norm)), f32::MAX as f64),
            Samples::F16 { data, dims } if dims > 0 => (spread(data.chunks_exact(dims).map(half::norm)), crate::half::MAX as f64),
            _ => return None,
        };
        let mean = sum / n as f64;
        let near = |x: f64| (x - mean).abs() <= SPHERE_TOLERANCE * mean;
        let fits = mean * (1.0 + SPHERE_TOLERANCE) <= limit;
        (n > 0 && mean > 0.0 && mean.is_finite() && near(lo) && near(hi) && fits).then_some(mean)
    }

    /// Sample `i` as float4, owned.
    pub fn to_vec(&self, i: usize) -> Vec<f32> {
        let mut buf = Vec::new();
        self.row(i, &mut buf).to_vec()
    }
}

impl Kind {
    /// The k-means distance, a metric (needed by the bounds).
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f64 {
        match self {
            Kind::Euclidean | Kind::Binary => self.from_sum(kernel::l2sq(a, b)),
            Kind::Spherical => self.from_sum(kernel::dot(a, b)),
        }
    }

    /// The k-means distance from a kernel's sum: the squared Euclidean
    /// distance, or for [`Kind::Spherical`] the dot product (see [`chord`]).
    #[inline]
    pub fn from_sum(self, sum: f32) -> f64 {
        match self {
            Kind::Euclidean | Kind::Binary => (sum as f64).max(0.0).sqrt(),
            Kind::Spherical => chord(sum as f64),
        }
    }

    /// The kernel sums of center `c` with four rows.
    #[inline]
    pub fn sums4(self, c: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
        match self {
            Kind::Euclidean | Kind::Binary => kernel::l2sq4(c, x),
            Kind::Spherical => kernel::dot4(c, x),
        }
    }
}

/// The sum, least, greatest and count of `norms`.
fn spread(norms: impl Iterator<Item = f64>) -> (f64, f64, f64, usize) {
    norms.fold((0.0, f64::INFINITY, f64::NEG_INFINITY, 0), |(s, lo, hi, n), x| (s + x, lo.min(x), hi.max(x), n + 1))
}

/// The distance between unit vectors of dot product `dot`: the chord,
/// sqrt(2 - 2 dot), the Euclidean distance on the sphere. It orders
/// centers as the angle does (pgvector's k-means distance for cosine; the
/// chord is monotonic in it), so assignments and means are the same, and
/// it is a metric, as Elkan's bounds need; a square root instead of an
/// arccosine per distance.
#[inline]
pub fn chord(dot: f64) -> f64 {
    (2.0 - 2.0 * dot.clamp(-1.0, 1.0)).sqrt()
}
