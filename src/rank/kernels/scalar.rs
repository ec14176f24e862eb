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
