//! Byte codecs and small shared routines at the bottom of the crate: LEB128 varints (the compact
//! metadata, the ranking stage), the FNV-1a string hash (catalog id lookup, experiment
//! assignment, title tokens), the stable ordering by time every history goes through and IEEE 754
//! half precision (the user tower's weights). They import nothing of the crate, so every layer may
//! use them.

/// Appends `v` as LEB128 (7 bits a byte, low bits first).
pub fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an LEB128 u32 at `*pos` and moves past it; `None` (and `*pos` at the end or at the bad
/// byte) if the bytes end first or the number has bits past 32.
#[inline]
pub fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v = 0u32;
    for i in 0..5 {
        let b = *bytes.get(*pos)?;
        if i == 4 && b > 0x0f {
            return None;
        }
        // A last byte of 0 after the first is an overlong form: one number, one encoding.
        if i > 0 && b == 0 {
            return None;
        }
        *pos += 1;
        v |= ((b & 0x7f) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Sorts `order` (indices into `times`) by time, stably: equal times keep their order. The one
/// sort every history ordering of the crate goes through (one routine in the wasm, not one per
/// caller).
pub fn order_by_time(order: &mut [u32], times: &[f64]) {
    order.sort_by(|&a, &b| times[a as usize].total_cmp(&times[b as usize]));
}

/// FNV-1a, 64-bit: a stable string hash (the same on every platform and in every release).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The f32 value of an IEEE 754 binary16 (half precision): exact (every half is an f32).
pub fn f16_to_f32(h: u16) -> f32 {
    let exp = (h >> 10) & 0x1f;
    let man = u32::from(h & 0x3ff);
    let magnitude = match exp {
        // Zero and the subnormals: man × 2^-24, exact.
        0 => man as f32 * f32::from_bits(0x3380_0000),
        0x1f if man == 0 => f32::INFINITY,
        0x1f => f32::NAN,
        _ => f32::from_bits((u32::from(exp) + 127 - 15) << 23 | man << 13),
    };
    if h >> 15 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// The nearest IEEE 754 binary16 to `x` (ties to even), infinity beyond the largest half (65504).
pub fn f32_to_f16(x: f32) -> u16 {
    let sign = ((x.to_bits() >> 16) & 0x8000) as u16;
    let a = x.abs();
    if a.is_nan() {
        return sign | 0x7e00;
    }
    // 65520 is halfway between 65504 and 2^16: from there on, the nearest is infinity.
    if a >= 65520.0 {
        return sign | 0x7c00;
    }
    // Below 2^-14, the smallest normal half: a multiple of 2^-24 (1024 of them is 2^-14 itself,
    // whose bits are the same number).
    if a < f32::from_bits(0x3880_0000) {
        return sign | (a * 16_777_216.0).round_ties_even() as u16;
    }
    let bits = a.to_bits();
    let exp = (bits >> 23) + 15 - 127;
    let man = bits & 0x7f_ffff;
    let mut h = exp << 10 | man >> 13;
    let rest = man & 0x1fff;
    // A carry out of the mantissa moves to the next exponent, as it should.
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// Whether `x` is exactly a half (so `f32_to_f16` keeps it).
pub fn is_f16(x: f32) -> bool {
    f16_to_f32(f32_to_f16(x)).to_bits() == x.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips_and_rounding_is_to_nearest_even() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
                continue;
            }
            assert_eq!(f32_to_f16(x), h, "half {h:#06x} = {x}");
            assert!(is_f16(x));
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(1e9), 0x7c00);
        // Ties to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11) + 2f32.powi(-20)), 0x3c01);
        // Subnormals: 2^-25 is halfway between 0 and the smallest half.
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0);
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.01), 1);
        assert_eq!(f32_to_f16(2f32.powi(-14) * (1.0 - 2f32.powi(-12))), 0x0400);
        assert!(!is_f16(0.1));
        assert!((f16_to_f32(f32_to_f16(0.1)) - 0.1).abs() < 0.1 * 2f32.powi(-11));
    }
}
