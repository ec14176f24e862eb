//! Portable kernels: 16 independent lanes per row, written so that LLVM turns each lane group into
//! vector instructions on whatever target it compiles for (4 x SSE2 registers natively, 4 x v128 on
//! wasm with simd128), with no `unsafe` and no target-specific code.

const LANES: usize = 16;

/// See [`super::Kernel::scores_f32`].
pub fn scores_f32(query: &[f32], rows: &[f32], out: &mut [f32]) {
    let dim = query.len();
    let split = dim - dim % LANES;
    let (q_body, q_tail) = query.split_at(split);
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        let (r_body, r_tail) = row.split_at(split);
        let mut acc = [0.0f32; LANES];
        for (r, q) in r_body.chunks_exact(LANES).zip(q_body.chunks_exact(LANES)) {
            for l in 0..LANES {
                acc[l] += r[l] * q[l];
            }
        }
        // Pairwise reduction, then the tail in order.
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        let mut sum = acc[0];
        for (a, b) in r_tail.iter().zip(q_tail) {
            sum += a * b;
        }
        *o = sum;
    }
}

/// See [`super::Kernel::scores_i8`].
pub fn scores_i8(q16: &[i16], qscale: f32, rows: &[i8], scales: &[f32], out: &mut [f32]) {
    let dim = q16.len();
    let split = dim - dim % LANES;
    let (q_body, q_tail) = q16.split_at(split);
    for ((row, o), &s) in rows.chunks_exact(dim).zip(out.iter_mut()).zip(scales) {
        let (r_body, r_tail) = row.split_at(split);
        let mut acc = [0i32; LANES];
        for (r, q) in r_body.chunks_exact(LANES).zip(q_body.chunks_exact(LANES)) {
            for l in 0..LANES {
                acc[l] += r[l] as i32 * q[l] as i32;
            }
        }
        let mut dot: i32 = acc.iter().sum();
        for (&x, &q) in r_tail.iter().zip(q_tail) {
            dot += x as i32 * q as i32;
        }
        *o = (dot as f32 * s) * qscale;
    }
}

/// See [`super::Kernel::scores_pq`]: a block of 32 rows at a time, sub-space by sub-space, with 32
/// independent accumulators. Native builds only (wasm builds score pq with simd128 or the scalar loops).
#[cfg(not(target_arch = "wasm32"))]
pub fn scores_pq(lut: &[u8], m: usize, blocked: &[u8], out: &mut [u16]) {
    for (block, o) in blocked.chunks_exact(m * 16).zip(out.chunks_exact_mut(32)) {
        let mut acc = [0u16; 32];
        for (codes, table) in block.chunks_exact(16).zip(lut.chunks_exact(16)) {
            for i in 0..16 {
                acc[i] += table[(codes[i] & 15) as usize] as u16;
                acc[i + 16] += table[(codes[i] >> 4) as usize] as u16;
            }
        }
        o.copy_from_slice(&acc);
    }
}
