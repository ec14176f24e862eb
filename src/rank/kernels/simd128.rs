//! Hand-written wasm SIMD kernels (`core::arch::wasm32`, fixed-width simd128).
//!
//! f32 scores one row at a time (see [`scores_f32`] for why). int8 scores four rows together: each
//! row keeps one i32 accumulator, the i16 query is loaded once per step for all four, and a 4x4
//! transpose-add reduces the four accumulators to one vector of four dot products, scaled and stored
//! with single instructions. Columns past the last full vector use the same arithmetic one by one.

use core::arch::wasm32::*;

/// `[a0+a1+a2+a3, b0+.., c0+.., d0+..]` for four f32x4 accumulators a, b, c, d.
#[inline(always)]
fn transpose_sum_f32(a: v128, b: v128, c: v128, d: v128) -> v128 {
    let ab = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a, b), i32x4_shuffle::<2, 6, 3, 7>(a, b));
    let cd = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(c, d), i32x4_shuffle::<2, 6, 3, 7>(c, d));
    f32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
}

/// The same for i32x4 accumulators (exact integer sums).
#[inline(always)]
fn transpose_sum_i32(a: v128, b: v128, c: v128, d: v128) -> v128 {
    let ab = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a, b), i32x4_shuffle::<2, 6, 3, 7>(a, b));
    let cd = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(c, d), i32x4_shuffle::<2, 6, 3, 7>(c, d));
    i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
}

#[inline(always)]
fn load(ptr: *const f32) -> v128 {
    // SAFETY: callers pass pointers with at least 4 readable f32 behind them (checked by the loop
    // bounds below); wasm loads have no alignment requirement.
    unsafe { v128_load(ptr as *const v128) }
}

/// See [`super::Kernel::scores_f32`].
///
/// One row at a time, front to back: a single sequential stream is what the hardware prefetcher
/// follows best once the catalog is larger than the caches. (Scoring four rows together, sharing
/// the query loads, was 1.7x slower at 1M x 64 in Chromium, though on par in cache; measured with
/// `Ranker.withKernel` in one page.) Four accumulators keep four add chains in flight.
pub fn scores_f32(query: &[f32], rows: &[f32], out: &mut [f32]) {
    let dim = query.len();
    let body16 = dim - dim % 16;
    let body4 = dim - dim % 4;
    assert!(rows.len() >= out.len() * dim);
    let q = query.as_ptr();
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        let r = row.as_ptr();
        let z = f32x4_splat(0.0);
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        let mut c = 0;
        while c < body16 {
            a0 = f32x4_add(a0, f32x4_mul(load(r.wrapping_add(c)), load(q.wrapping_add(c))));
            a1 = f32x4_add(a1, f32x4_mul(load(r.wrapping_add(c + 4)), load(q.wrapping_add(c + 4))));
            a2 = f32x4_add(a2, f32x4_mul(load(r.wrapping_add(c + 8)), load(q.wrapping_add(c + 8))));
            a3 = f32x4_add(a3, f32x4_mul(load(r.wrapping_add(c + 12)), load(q.wrapping_add(c + 12))));
            c += 16;
        }
        while c < body4 {
            a0 = f32x4_add(a0, f32x4_mul(load(r.wrapping_add(c)), load(q.wrapping_add(c))));
            c += 4;
        }
        let mut sum =
            f32x4_extract_lane::<0>(transpose_sum_f32(f32x4_add(f32x4_add(a0, a1), f32x4_add(a2, a3)), z, z, z));
        for c in body4..dim {
            sum += row[c] * query[c];
        }
        *o = sum;
    }
}

/// i8 x i16 dot product of 16 columns, accumulated into `acc` (i32x4).
///
/// Each half is loaded already widened (`v128.load8x8_s`, one `pmovsxbw` from memory on x86)
/// rather than loaded whole and widened twice: the high half's widening needs a shuffle first.
#[inline(always)]
fn dot16(acc: v128, row: *const i8, q_lo: v128, q_hi: v128) -> v128 {
    // SAFETY: callers guarantee 16 readable bytes at `row`.
    let (x_lo, x_hi) = unsafe { (i16x8_load_extend_i8x8(row), i16x8_load_extend_i8x8(row.add(8))) };
    i32x4_add(acc, i32x4_add(i32x4_dot_i16x8(x_lo, q_lo), i32x4_dot_i16x8(x_hi, q_hi)))
}

/// See [`super::Kernel::scores_i8`].
///
/// Loading each half widened was 10% faster than one load and two widenings at 100k x 384 and 7%
/// at 100k x 64 in Chromium 156 (2.93 against 3.30 ms, 0.433 against 0.465 ms, one run side by
/// side); eight rows per step instead of four was 31% slower at 384 dimensions (3.84 ms).
pub fn scores_i8(q16: &[i16], qscale: f32, rows: &[i8], scales: &[f32], out: &mut [f32]) {
    let dim = q16.len();
    let body = dim - dim % 16;
    let n = out.len();
    assert!(rows.len() >= n * dim && scales.len() >= n);
    let q = q16.as_ptr();
    let tail = |row: &[i8]| -> i32 { (body..dim).map(|c| row[c] as i32 * q16[c] as i32).sum() };
    let mut i = 0;
    while i + 4 <= n {
        let base = rows[i * dim..].as_ptr();
        let (r0, r1, r2, r3) = (base, base.wrapping_add(dim), base.wrapping_add(2 * dim), base.wrapping_add(3 * dim));
        let (mut a0, mut a1, mut a2, mut a3) = (i32x4_splat(0), i32x4_splat(0), i32x4_splat(0), i32x4_splat(0));
        let mut c = 0;
        while c < body {
            // SAFETY: c + 16 <= body <= dim, so 16 i16 of the query are readable.
            let (q_lo, q_hi) = unsafe { (v128_load(q.add(c) as *const v128), v128_load(q.add(c + 8) as *const v128)) };
            a0 = dot16(a0, r0.wrapping_add(c), q_lo, q_hi);
            a1 = dot16(a1, r1.wrapping_add(c), q_lo, q_hi);
            a2 = dot16(a2, r2.wrapping_add(c), q_lo, q_hi);
            a3 = dot16(a3, r3.wrapping_add(c), q_lo, q_hi);
            c += 16;
        }
        let mut dots = transpose_sum_i32(a0, a1, a2, a3);
        if body < dim {
            let t: [i32; 4] = core::array::from_fn(|j| tail(&rows[(i + j) * dim..(i + j + 1) * dim]));
            // SAFETY: `t` holds exactly 16 bytes.
            dots = i32x4_add(dots, unsafe { v128_load(t.as_ptr() as *const v128) });
        }
        // Same operation order as the scalar kernel: (dot as f32 * scale) * qscale.
        let s = load(scales[i..i + 4].as_ptr());
        let scores = f32x4_mul(f32x4_mul(f32x4_convert_i32x4(dots), s), f32x4_splat(qscale));
        // SAFETY: out[i..i + 4] is in bounds (i + 4 <= n).
        unsafe { v128_store(out[i..i + 4].as_mut_ptr() as *mut v128, scores) };
        i += 4;
    }
    for j in i..n {
        let row = &rows[j * dim..(j + 1) * dim];
        let mut acc = i32x4_splat(0);
        let mut c = 0;
        while c < body {
            // SAFETY: c + 16 <= body <= dim.
            let (q_lo, q_hi) = unsafe { (v128_load(q.add(c) as *const v128), v128_load(q.add(c + 8) as *const v128)) };
            acc = dot16(acc, row[c..].as_ptr(), q_lo, q_hi);
            c += 16;
        }
        let z = i32x4_splat(0);
        let dot = i32x4_extract_lane::<0>(transpose_sum_i32(acc, z, z, z)) + tail(row);
        out[j] = (dot as f32 * scales[j]) * qscale;
    }
}

/// See [`super::Kernel::scores_pq`]: the fast scan. Per block of 32 rows and sub-space, one 16-byte
/// load holds the 32 codes; `i8x16.swizzle` looks up 16 rows' entries of the sub-space's 16-byte
/// table at once, and the bytes are widened into four u16x8 accumulators (exact: at most 256 × 255).
pub fn scores_pq(lut: &[u8], m: usize, blocked: &[u8], out: &mut [u16]) {
    assert!(lut.len() >= 16 * m && blocked.len() * 2 >= out.len() * m && out.len() % 32 == 0);
    let low = u8x16_splat(15);
    for (b, o) in out.chunks_exact_mut(32).enumerate() {
        let codes = blocked[b * m * 16..].as_ptr();
        let (mut a0, mut a1, mut a2, mut a3) = (u16x8_splat(0), u16x8_splat(0), u16x8_splat(0), u16x8_splat(0));
        for j in 0..m {
            // SAFETY: j < m, so 16 bytes of the table and of the block's codes are in bounds (asserted).
            let (table, c) = unsafe {
                (v128_load(lut.as_ptr().add(j * 16) as *const v128), v128_load(codes.add(j * 16) as *const v128))
            };
            let lo = u8x16_swizzle(table, v128_and(c, low));
            let hi = u8x16_swizzle(table, u8x16_shr(c, 4));
            a0 = u16x8_add(a0, u16x8_extend_low_u8x16(lo));
            a1 = u16x8_add(a1, u16x8_extend_high_u8x16(lo));
            a2 = u16x8_add(a2, u16x8_extend_low_u8x16(hi));
            a3 = u16x8_add(a3, u16x8_extend_high_u8x16(hi));
        }
        let p = o.as_mut_ptr() as *mut v128;
        // SAFETY: `o` holds 32 u16, four v128.
        unsafe {
            v128_store(p, a0);
            v128_store(p.add(1), a1);
            v128_store(p.add(2), a2);
            v128_store(p.add(3), a3);
        }
    }
}
