//! Byte codecs and small shared routines at the bottom of the crate: LEB128 varints (the compact
//! metadata, the ranking stage), the FNV-1a string hash (catalog id lookup, experiment
//! assignment, title tokens) and the stable ordering by time every history goes through. They
//! import nothing of the crate, so every layer may use them.

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
