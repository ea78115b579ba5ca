//! IEEE 754 binary16 ("half") conversions, scalar and exact: half to float4
//! is exact; float4 to half rounds to nearest, ties to even (what C's
//! `(_Float16)` cast and x86's F16C do, so values match pgvector's).
//! Halves are kept as their bit patterns (`u16`).

/// Largest finite half, 65504.
pub const MAX: f32 = 65504.0;

/// The float4 value of half `h` (exact; NaN payloads kept in the top bits).
/// Branch-free so loops over halves vectorise: the half's exponent and
/// mantissa, placed in a float4's low fields, are the value times 2^-112
/// (subnormals included), so one exact multiplication rescales them.
#[inline]
pub fn to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let em = h & 0x7fff;
    let scaled = (f32::from_bits(em << 13) * f32::from_bits(0x7780_0000)).to_bits(); // x 2^112
    let special = 0x7f80_0000 | ((em & 0x3ff) << 13); // infinity or NaN
    f32::from_bits(if em >= 0x7c00 { special } else { scaled } | sign)
}

/// `x` rounded to the nearest half (ties to even). Values of magnitude
/// 65520 and above become infinity; NaN stays NaN.
#[inline]
pub fn from_f32(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = b & 0x7fff_ffff;
    if a >= 0x7f80_0000 {
        // infinity, or NaN (kept quiet)
        return sign | 0x7c00 | if a > 0x7f80_0000 { 0x200 | ((a >> 13) & 0x3ff) as u16 } else { 0 };
    }
    if a >= 0x477f_f000 {
        // >= 65520: rounds up past 65504
        return sign | 0x7c00;
    }
    if a >= 0x3880_0000 {
        // normal half (>= 2^-14)
        let exp = (a >> 23) - 112;
        let mant = a & 0x7f_ffff;
        let mut h = (exp << 10) | (mant >> 13);
        let rest = mant & 0x1fff;
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
            h += 1; // a carry into the exponent is the right result
        }
        return sign | h as u16;
    }
    // subnormal or zero: the count of 2^-24 steps, rounded half to even;
    // scaling by a power of two is exact in float4
    let steps = (f32::from_bits(a) * 16_777_216.0).round_ties_even();
    sign | steps as u16
}

/// Whether half `h` is +-infinity.
#[inline]
pub fn is_inf(h: u16) -> bool {
    h & 0x7fff == 0x7c00
}

/// Whether half `h` is NaN.
#[inline]
pub fn is_nan(h: u16) -> bool {
    h & 0x7fff > 0x7c00
}

/// Whether half `h` is +-0.
#[inline]
pub fn is_zero(h: u16) -> bool {
    h & 0x7fff == 0
}

/// Halves of float4 values.
pub fn from_f32_slice(x: &[f32]) -> Vec<u16> {
    x.iter().map(|&v| from_f32(v)).collect()
}

/// Float4 values of halves.
pub fn to_f32_vec(h: &[u16]) -> Vec<f32> {
    h.iter().map(|&v| to_f32(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn every_half_round_trips() {
        for h in 0..=u16::MAX {
            let f = to_f32(h);
            if is_nan(h) {
                assert!(f.is_nan() && is_nan(from_f32(f)), "{h:#x}");
            } else {
                assert_eq!(from_f32(f), h, "{h:#x} -> {f}");
            }
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(to_f32(0x3c00), 1.0);
        assert_eq!(to_f32(0x7bff), 65504.0);
        assert_eq!(to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(to_f32(from_f32(1.23456)), 1.234375);
        assert_eq!(from_f32(65519.0), 0x7bff);
        assert_eq!(from_f32(65520.0), 0x7c00);
        assert_eq!(from_f32(-3e38), 0xfc00);
        assert_eq!(from_f32(1e-8), 0);
        assert_eq!(from_f32(-1e-8), 0x8000);
        assert_eq!(from_f32(2f32.powi(-25)), 0); // tie to even: 0
        assert_eq!(from_f32(3.0 * 2f32.powi(-25)), 2); // tie to even: 2 steps
        assert_eq!(from_f32(2f32.powi(-25) * 1.0001), 1);
        assert_eq!(from_f32(0.000_060_975_55), 0x03ff); // largest subnormal
        assert_eq!(from_f32(2f32.powi(-14)), 0x0400);
        assert!(is_inf(from_f32(f32::INFINITY)) && is_nan(from_f32(f32::NAN)));
        assert_eq!(from_f32(1.0 + 2f32.powi(-11)), 0x3c00); // tie to even (down)
        assert_eq!(from_f32(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02); // tie to even (up)
    }

    /// Random float4 values round to the nearest half, ties to even.
    #[test]
    fn rounding_is_nearest_even() {
        let seed = 0x4841_4c46;
        println!("half rounding seed {seed}");
        let mut rng = Rng::new(seed);
        for _ in 0..200_000 {
            let x = f32::from_bits(rng.next_u64() as u32);
            if !x.is_finite() || x.abs() >= 65520.0 {
                continue;
            }
            let h = from_f32(x);
            let v = to_f32(h) as f64;
            let err = (x as f64 - v).abs();
            for n in [h.wrapping_add(1), h.wrapping_sub(1)] {
                if is_nan(n) || is_inf(n) || (n ^ h) & 0x8000 != 0 {
                    continue;
                }
                let other = (x as f64 - to_f32(n) as f64).abs();
                assert!(err < other || (err == other && h & 1 == 0), "{x} -> {h:#x}");
            }
        }
    }
}
