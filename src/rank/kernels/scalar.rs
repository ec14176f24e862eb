//! Reference kernels: the plainest correct loops. Every other kernel is tested against these.

/// See [`super::Kernel::scores_f32`]. Sums left to right in one accumulator.
pub fn scores_f32(query: &[f32], rows: &[f32], out: &mut [f32]) {
    for (row, o) in rows.chunks_exact(query.len()).zip(out.iter_mut()) {
        let mut sum = 0.0f32;
        for (a, b) in row.iter().zip(query) {
            sum += a * b;
        }
        *o = sum;
    }
}

/// See [`super::Kernel::scores_i8`].
pub fn scores_i8(q16: &[i16], qscale: f32, rows: &[i8], scales: &[f32], out: &mut [f32]) {
    for ((row, o), &s) in rows.chunks_exact(q16.len()).zip(out.iter_mut()).zip(scales) {
        let mut dot = 0i32;
        for (&x, &q) in row.iter().zip(q16) {
            dot += x as i32 * q as i32;
        }
        *o = (dot as f32 * s) * qscale;
    }
}

/// See [`super::Kernel::scores_pq`]: row by row, sub-space by sub-space.
pub fn scores_pq(lut: &[u8], m: usize, blocked: &[u8], out: &mut [u16]) {
    for (r, o) in out.iter_mut().enumerate() {
        let base = (r / 32) * m * 16 + r % 16;
        let shift = if r % 32 < 16 { 0 } else { 4 };
        let mut sum = 0u16;
        for j in 0..m {
            let code = (blocked[base + j * 16] >> shift) & 15;
            sum += lut[j * 16 + code as usize] as u16;
        }
        *o = sum;
    }
}
