#![allow(clippy::missing_safety_doc)]
use core::arch::wasm32::*;

#[no_mangle]
pub extern "C" fn alloc(bytes: usize) -> *mut u8 {
    let mut v = vec![0u8; bytes];
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p
}

#[inline(always)]
fn transpose_sum_i32(a: v128, b: v128, c: v128, d: v128) -> v128 {
    let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
    let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
    let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
    let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
    let s1 = i32x4_add(ab_lo, ab_hi); // a0+a2, b0+b2, a1+a3, b1+b3
    let s2 = i32x4_add(cd_lo, cd_hi);
    let lo = i64x2_shuffle::<0, 2>(s1, s2); // a02 b02 c02 d02
    let hi = i64x2_shuffle::<1, 3>(s1, s2); // a13 b13 c13 d13
    i32x4_add(lo, hi)
}

#[inline(always)]
unsafe fn dot16(acc: v128, row: *const i8, q_lo: v128, q_hi: v128) -> v128 {
    let (x_lo, x_hi) = (i16x8_load_extend_i8x8(row), i16x8_load_extend_i8x8(row.add(8)));
    i32x4_add(acc, i32x4_add(i32x4_dot_i16x8(x_lo, q_lo), i32x4_dot_i16x8(x_hi, q_hi)))
}

/// Today's kernel: i8 rows x i16 query, 4 rows in flight. Writes raw i32 dots.
#[no_mangle]
pub unsafe extern "C" fn plain(q: *const i16, dim: usize, rows: *const i8, n: usize, out: *mut i32) {
    let mut i = 0;
    while i + 4 <= n {
        let base = rows.add(i * dim);
        let (r0, r1, r2, r3) = (base, base.add(dim), base.add(2 * dim), base.add(3 * dim));
        let (mut a0, mut a1, mut a2, mut a3) = (i32x4_splat(0), i32x4_splat(0), i32x4_splat(0), i32x4_splat(0));
        let mut c = 0;
        while c < dim {
            let (q_lo, q_hi) = (v128_load(q.add(c) as *const v128), v128_load(q.add(c + 8) as *const v128));
            a0 = dot16(a0, r0.add(c), q_lo, q_hi);
            a1 = dot16(a1, r1.add(c), q_lo, q_hi);
            a2 = dot16(a2, r2.add(c), q_lo, q_hi);
            a3 = dot16(a3, r3.add(c), q_lo, q_hi);
            c += 16;
        }
        v128_store(out.add(i) as *mut v128, transpose_sum_i32(a0, a1, a2, a3));
        i += 4;
    }
}

/// Relaxed: i8 rows x 7-bit unsigned query (q + 64), one instruction per 16 bytes; the caller
/// subtracts 64 * rowsum.
#[no_mangle]
#[target_feature(enable = "relaxed-simd")]
pub unsafe extern "C" fn relaxed(q7: *const u8, dim: usize, rows: *const i8, n: usize, out: *mut i32) {
    let mut i = 0;
    while i + 4 <= n {
        let base = rows.add(i * dim);
        let (r0, r1, r2, r3) = (base, base.add(dim), base.add(2 * dim), base.add(3 * dim));
        let (mut a0, mut a1, mut a2, mut a3) = (i32x4_splat(0), i32x4_splat(0), i32x4_splat(0), i32x4_splat(0));
        let mut c = 0;
        while c < dim {
            let qv = v128_load(q7.add(c) as *const v128);
            a0 = i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(r0.add(c) as *const v128), qv, a0);
            a1 = i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(r1.add(c) as *const v128), qv, a1);
            a2 = i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(r2.add(c) as *const v128), qv, a2);
            a3 = i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(r3.add(c) as *const v128), qv, a3);
            c += 16;
        }
        v128_store(out.add(i) as *mut v128, transpose_sum_i32(a0, a1, a2, a3));
        i += 4;
    }
}

/// Plain SIMD with an 8-bit query: extmul i8 x i8 -> i16, pairwise add to i32.
#[no_mangle]
pub unsafe extern "C" fn plain8(q8: *const i8, dim: usize, rows: *const i8, n: usize, out: *mut i32) {
    let mut i = 0;
    while i + 4 <= n {
        let base = rows.add(i * dim);
        let rs = [base, base.add(dim), base.add(2 * dim), base.add(3 * dim)];
        let mut a = [i32x4_splat(0); 4];
        let mut c = 0;
        while c < dim {
            let qv = v128_load(q8.add(c) as *const v128);
            for j in 0..4 {
                let x = v128_load(rs[j].add(c) as *const v128);
                let lo = i16x8_extmul_low_i8x16(x, qv);
                let hi = i16x8_extmul_high_i8x16(x, qv);
                a[j] = i32x4_add(a[j], i32x4_add(i32x4_extadd_pairwise_i16x8(lo), i32x4_extadd_pairwise_i16x8(hi)));
            }
            c += 16;
        }
        v128_store(out.add(i) as *mut v128, transpose_sum_i32(a[0], a[1], a[2], a[3]));
        i += 4;
    }
}
