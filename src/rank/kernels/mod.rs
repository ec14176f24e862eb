//! Scoring kernels: the inner products of one query against a block of catalog rows.
//!
//! Every kernel has the same contract, and one conformance suite (`tests/ranker.rs`) runs against all
//! of them, natively and inside headless Chrome and Firefox:
//!
//! * [`scalar`]: the reference. Plain loops, one running sum, always compiled. The test oracle.
//! * [`portable`]: the same arithmetic written with 16 independent lanes so that LLVM vectorizes it
//!   on any target (SSE2 natively, simd128 on wasm). The native default, and the "native Rust scan"
//!   of the benchmark.
//! * `simd128`: hand-written `core::arch::wasm32` kernels, compiled only for
//!   `wasm32` with the `simd128` target feature; the default there.
//!
//! The SIMD baseline is chosen at compile time, not at run time: a wasm module is validated as a whole,
//! so one binary cannot both use SIMD and run where SIMD is missing. This crate's wasm build requires
//! fixed-width SIMD (`+simd128`, set in `.cargo/config.toml`), which every current engine has (Chrome
//! 91, Firefox 89, Safari 16.4). Relaxed SIMD is not used: its int8 dot product
//! (`i32x4.relaxed_dot_i8x16_i7x16_add_s`) takes the query as 7-bit values, losing precision the i16
//! query below keeps, and it would make the module fail to load in engines without relaxed SIMD,
//! so it would need a second build and feature detection to pay off.
//!
//! int8 scoring: the query is quantized to i16 with one scale (`q16 = round(q / qscale)`); the score of
//! row r is `((Σ q16·x8) as f32 * scale[r]) * qscale`. The integer sum is exact in every kernel, and
//! the two final multiplies happen in the same order everywhere, so all kernels return bit-identical
//! int8 scores. [`query_i16_max`] bounds `|q16|` so that the i32 sum cannot overflow.

pub mod portable;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

/// A scoring implementation. All are selectable for testing; [`Kernel::BEST`] is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Reference loops ([`scalar`]).
    Scalar,
    /// Lane-chunked loops that the compiler vectorizes ([`portable`]).
    Portable,
    /// Hand-written wasm SIMD (only in `+simd128` wasm builds).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

impl Kernel {
    /// The fastest kernel of this build.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub const BEST: Kernel = Kernel::Simd128;
    /// The fastest kernel of this build.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    pub const BEST: Kernel = Kernel::Portable;

    /// Every kernel compiled into this build.
    pub const ALL: &'static [Kernel] = &[
        Kernel::Scalar,
        Kernel::Portable,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Kernel::Simd128,
    ];

    /// A short name for reports: `scalar`, `portable`, `simd128`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Portable => "portable",
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => "simd128",
        }
    }

    /// `out[i] = query · rows[i*dim..(i+1)*dim]` for each of `out.len()` rows.
    #[inline]
    pub fn scores_f32(self, query: &[f32], rows: &[f32], out: &mut [f32]) {
        debug_assert_eq!(rows.len(), out.len() * query.len());
        match self {
            Kernel::Scalar => scalar::scores_f32(query, rows, out),
            Kernel::Portable => portable::scores_f32(query, rows, out),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::scores_f32(query, rows, out),
        }
    }

    /// `out[i] = ((q16 · rows[i]) as f32 * scales[i]) * qscale` for each of `out.len()` rows.
    #[inline]
    pub fn scores_i8(self, q16: &[i16], qscale: f32, rows: &[i8], scales: &[f32], out: &mut [f32]) {
        debug_assert_eq!(rows.len(), out.len() * q16.len());
        debug_assert_eq!(scales.len(), out.len());
        match self {
            Kernel::Scalar => scalar::scores_i8(q16, qscale, rows, scales, out),
            Kernel::Portable => portable::scores_i8(q16, qscale, rows, scales, out),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::scores_i8(q16, qscale, rows, scales, out),
        }
    }
}

impl Kernel {
    /// Byte-table scores of product-quantized rows ([`crate::catalog::pq`]): for each row of
    /// `blocked` (whole blocks of 32 rows in the scan layout, `m · 16` bytes each), the sum of its `m`
    /// entries of `lut` (`16 · m` bytes). Exact integer sums (at most `256 · 255`), so every kernel
    /// returns the same values. `out.len()` is 32 per block.
    #[inline]
    pub fn scores_pq(self, lut: &[u8], m: usize, blocked: &[u8], out: &mut [u16]) {
        debug_assert_eq!(lut.len(), 16 * m);
        debug_assert_eq!(blocked.len() * 2, out.len() * m);
        match self {
            Kernel::Scalar => scalar::scores_pq(lut, m, blocked, out),
            // In wasm, where simd128 scans pq, the portable variant would be code shipped for
            // benchmarks alone: it scores with the scalar loops there (the same exact sums).
            #[cfg(not(target_arch = "wasm32"))]
            Kernel::Portable => portable::scores_pq(lut, m, blocked, out),
            #[cfg(target_arch = "wasm32")]
            Kernel::Portable => scalar::scores_pq(lut, m, blocked, out),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::scores_pq(lut, m, blocked, out),
        }
    }
}

/// Largest `|q16|` for dimension `dim` such that `dim * 127 * max` fits in an i32.
pub fn query_i16_max(dim: usize) -> i32 {
    let bound = i32::MAX as i64 / (127 * dim.max(1) as i64);
    bound.min(i16::MAX as i64) as i32
}

/// Quantizes `query` to i16 into `out`, returning the scale (`query[i] ≈ out[i] * scale`).
pub fn quantize_query(query: &[f32], out: &mut Vec<i16>) -> f32 {
    let max_q = query_i16_max(query.len()) as f32;
    let max_abs = query.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = max_abs / max_q;
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    out.clear();
    out.extend(query.iter().map(|x| (x * inv).round().clamp(-max_q, max_q) as i16));
    scale
}
