//! Catalog format: round trips and every rejection, natively and in headless browsers.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{base_seed, gaussian_values, ids};
use localrec::catalog::format::{Source, HEADER_LEN, MAGIC};
use localrec::catalog::{synthetic, Catalog, ElementType};
use localrec::rng::Rng;
use localrec::Error;
use std::cell::Cell;

/// A small valid file: 3 rows, dim 2, ids of different lengths (one non-ASCII), categories.
fn sample(int8: bool, categories: bool) -> (Catalog, Vec<u8>) {
    let c = Catalog::from_f32(
        &["a", "bé", "sku-3"],
        2,
        vec![0.5, -1.0, 0.25, 0.0, 2.0, 3.0],
        categories.then(|| vec![0, 7, 3]),
    )
    .unwrap();
    let c = if int8 { c.to_int8() } else { c };
    let bytes = c.encode();
    (c, bytes)
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset of the first byte after the ids and padding for `sample`.
fn after_ids(bytes: &[u8]) -> usize {
    let n = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let blob = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let end = HEADER_LEN + 4 * n + blob;
    end + (4 - end % 4) % 4
}

#[test]
fn round_trips_every_variant() {
    let seed = base_seed();
    let mut rng = Rng::new(seed);
    for int8 in [false, true] {
        for categories in [false, true] {
            let (c, bytes) = sample(int8, categories);
            assert_eq!(Catalog::decode(&bytes).unwrap(), c);
            let refined = c.to_int8_refined();
            assert_eq!(Catalog::decode(&refined.encode()).unwrap(), refined);
            for &n in &[0usize, 1, 5, 333] {
                let dim = 1 + rng.below(70) as usize;
                let cats = categories.then(|| (0..n).map(|_| rng.below(1 << 20) as u32).collect());
                let f = Catalog::from_f32(&ids(n), dim, gaussian_values(&mut rng, n * dim), cats).unwrap();
                let f = if int8 {
                    if n % 2 == 1 {
                        f.to_int8_refined()
                    } else {
                        f.to_int8()
                    }
                } else {
                    f
                };
                let decoded = Catalog::decode(&f.encode()).unwrap();
                assert_eq!(decoded, f, "n={n} dim={dim} int8={int8} seed={seed}");
                assert_eq!(decoded.element_type(), if int8 { ElementType::Int8 } else { ElementType::F32 });
            }
        }
    }
}

#[test]
fn lookups_by_id_and_row() {
    let (c, _) = sample(false, true);
    assert_eq!(c.row_of("bé"), Some(1));
    assert_eq!(c.row_of("sku-3"), Some(2));
    assert_eq!(c.row_of("nope"), None);
    assert_eq!(c.get_id(2), Some("sku-3"));
    assert_eq!(c.get_id(3), None);
    assert_eq!(c.ids().collect::<Vec<_>>(), vec!["a", "bé", "sku-3"]);
    assert_eq!(c.categories(), Some(&[0, 7, 3][..]));
    assert_eq!(c.vector(2), vec![2.0, 3.0]);
}

#[test]
fn int8_quantization_is_within_half_a_step() {
    let c = synthetic::random_unit(200, 33, 0, 5);
    let q = c.to_int8();
    let localrec::catalog::Vectors::Int8 { scales, .. } = q.vectors() else { panic!("not int8") };
    for row in 0..200u32 {
        for (a, b) in c.vector(row).iter().zip(q.vector(row)) {
            assert!((a - b).abs() <= scales[row as usize] * 0.5 + 1e-7, "row {row}: {a} vs {b}");
        }
    }
}

#[test]
fn refine_plane_brings_values_within_a_fraction_of_a_step() {
    let c = synthetic::random_unit(200, 33, 0, 5);
    let plain = c.to_int8();
    let refined = c.to_int8_refined();
    let localrec::catalog::Vectors::Int8 { scales, .. } = plain.vectors() else { panic!("not int8") };
    let (mut err_plain, mut err_refined) = (0f64, 0f64);
    for row in 0..200u32 {
        for ((a, b), r) in c.vector(row).iter().zip(plain.vector(row)).zip(refined.vector(row)) {
            assert!((a - r).abs() <= scales[row as usize] * 0.01, "row {row}: {a} vs {r}");
            err_plain += ((a - b) as f64).powi(2);
            err_refined += ((a - r) as f64).powi(2);
        }
    }
    assert!(err_refined < err_plain / 1000.0, "{err_refined} vs {err_plain}");
    assert_eq!(refined.to_int8_refined(), refined);
}

#[test]
fn rejects_bad_refine_planes() {
    let (_, bytes) = sample(false, false);
    let mut b = bytes.clone();
    b[11] |= 2;
    assert_eq!(Catalog::decode(&b).unwrap_err(), Error::RefineRequiresInt8);
    let (c, _) = sample(true, false);
    let mut b = c.to_int8_refined().encode();
    let refine_scales = b.len() - 3 * 2 - 3 * 4;
    b[refine_scales + 4..refine_scales + 8].copy_from_slice(&(-0.5f32).to_le_bytes());
    assert!(matches!(Catalog::decode(&b), Err(Error::InvalidScale { row: 1, .. })));
    let full = c.to_int8_refined().encode();
    for len in 0..full.len() {
        assert!(
            matches!(Catalog::decode(&full[..len]), Err(Error::BadMagic { .. } | Error::Truncated { .. })),
            "len {len}"
        );
    }
}

#[test]
fn rejects_bad_magic_and_short_files() {
    let (_, bytes) = sample(false, false);
    assert!(matches!(Catalog::decode(&[]), Err(Error::BadMagic { .. })));
    assert!(matches!(Catalog::decode(&bytes[..5]), Err(Error::BadMagic { .. })));
    let mut b = bytes.clone();
    b[0] = b'L';
    assert!(matches!(Catalog::decode(&b), Err(Error::BadMagic { .. })));
    // A text-mode transfer turning CR LF into LF breaks the magic.
    let mut mangled = MAGIC.to_vec();
    mangled.remove(4);
    mangled.extend_from_slice(&bytes[8..]);
    assert!(matches!(Catalog::decode(&mangled), Err(Error::BadMagic { .. })));
}

#[test]
fn rejects_every_truncation() {
    for int8 in [false, true] {
        for categories in [false, true] {
            let (_, bytes) = sample(int8, categories);
            for len in 0..bytes.len() {
                let err = Catalog::decode(&bytes[..len]).unwrap_err();
                assert!(matches!(err, Error::BadMagic { .. } | Error::Truncated { .. }), "len {len}: {err}");
            }
        }
    }
}

/// A file read through [`Source`], remembering the largest single read.
struct Recording<'a> {
    bytes: &'a [u8],
    largest: Cell<usize>,
    total: Cell<u64>,
}

impl Source for Recording<'_> {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, at: u64, out: &mut [u8]) {
        self.largest.set(self.largest.get().max(out.len()));
        self.total.set(self.total.get() + out.len() as u64);
        out.copy_from_slice(&self.bytes[at as usize..at as usize + out.len()]);
    }
}

#[test]
fn streamed_decode_reads_large_sections_a_piece_at_a_time() {
    // Files of several MiB in each element type: every large section spans pieces, and no read is
    // larger than a piece (1 MiB) but the id blob's.
    let mut rng = Rng::new(base_seed());
    let (n, dim) = (12_000, 96);
    let f32 = Catalog::from_f32(&ids(n), dim, gaussian_values(&mut rng, n * dim), Some(vec![3; n])).unwrap();
    let pq = synthetic::random_pq(50_000, 64, 64, 5, base_seed()).unwrap(); // 32 bytes a row: 1.6 MB of codes
    for c in [f32.clone(), f32.to_int8_refined(), pq] {
        let bytes = c.encode();
        assert!(bytes.len() > 3 << 19, "{} bytes", bytes.len());
        let src = Recording { bytes: &bytes, largest: Cell::new(0), total: Cell::new(0) };
        assert_eq!(Catalog::decode_from(&src).unwrap(), c);
        let blob = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
        assert!(src.largest.get() <= (1 << 20).max(blob), "largest read {} bytes", src.largest.get());
        // Each byte is read once (the projection's dimension, peeked before the size check, twice).
        assert!(src.total.get() <= bytes.len() as u64 + 4, "{} of {}", src.total.get(), bytes.len());
        // Truncated at and around a piece's boundary inside the last section: a typed error.
        for cut in [bytes.len() - 1, bytes.len() - (1 << 20), bytes.len() - (1 << 20) - 1] {
            let err = Catalog::decode(&bytes[..cut]).unwrap_err();
            assert!(matches!(err, Error::Truncated { .. }), "cut {cut}: {err}");
        }
    }
}

#[test]
fn rejects_trailing_bytes() {
    let (_, mut bytes) = sample(true, true);
    bytes.extend_from_slice(&[0, 0, 0]);
    assert_eq!(Catalog::decode(&bytes).unwrap_err(), Error::TrailingBytes { extra: 3 });
}

#[test]
fn rejects_header_fields() {
    let (_, bytes) = sample(false, true);
    let patched = |at: usize, v: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + v.len()].copy_from_slice(v);
        Catalog::decode(&b).unwrap_err()
    };
    assert_eq!(patched(8, &2u16.to_le_bytes()), Error::UnsupportedVersion { found: 2, supported: 1 });
    assert_eq!(patched(8, &0u16.to_le_bytes()), Error::UnsupportedVersion { found: 0, supported: 1 });
    assert_eq!(patched(10, &[4]), Error::UnknownElementType(4));
    assert_eq!(patched(10, &[0]), Error::UnknownElementType(0));
    // pq needs a sub-space count where f32 and int8 have the reserved field.
    assert_eq!(patched(10, &[3]), Error::InvalidSubspaces { m: 0, dim: 2 });
    assert_eq!(patched(11, &[0x81]), Error::UnknownFlags(0x80));
    assert_eq!(patched(12, &0u32.to_le_bytes()), Error::InvalidDimension { dim: 0, max: 4096 });
    assert_eq!(patched(12, &5000u32.to_le_bytes()), Error::InvalidDimension { dim: 5000, max: 4096 });
    assert_eq!(patched(16, &u32::MAX.to_le_bytes()), Error::TooManyRows { count: u32::MAX, max: 1 << 26 });
    assert_eq!(patched(24, &1u32.to_le_bytes()), Error::ReservedNotZero(1));
    // A count or dimension that disagrees with the payload shows as truncation or trailing bytes.
    assert!(matches!(patched(12, &3u32.to_le_bytes()), Error::Truncated { .. }));
    assert!(matches!(patched(12, &1u32.to_le_bytes()), Error::TrailingBytes { .. }));
    assert!(matches!(patched(16, &4u32.to_le_bytes()), Error::Truncated { .. } | Error::BadIdOffsets { .. }));
    // Huge claims are rejected before anything is allocated.
    let mut huge = bytes.clone();
    put_u32(&mut huge, 12, 4096);
    put_u32(&mut huge, 16, 1 << 26);
    assert!(matches!(Catalog::decode(&huge), Err(Error::Truncated { .. })));
}

#[test]
fn rejects_bad_ids() {
    let (_, bytes) = sample(false, false);
    let offsets = HEADER_LEN; // ends: [1, 4, 9] for "a", "bé", "sku-3"
    let blob = offsets + 12;
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        f(&mut b);
        Catalog::decode(&b).unwrap_err()
    };
    assert!(matches!(with(&|b| put_u32(b, offsets + 4, 0)), Error::BadIdOffsets { row: 1, .. }));
    assert!(matches!(with(&|b| put_u32(b, offsets, 50)), Error::BadIdOffsets { row: 0, .. }));
    assert!(matches!(with(&|b| put_u32(b, offsets + 8, 8)), Error::BadIdOffsets { .. }));
    assert_eq!(with(&|b| put_u32(b, offsets, 0)), Error::InvalidId { row: 0, reason: "empty id" });
    assert!(matches!(with(&|b| put_u32(b, offsets + 4, 3)), Error::InvalidId { row: 1, .. }), "boundary inside 'é'");
    assert!(matches!(with(&|b| b[blob + 1] = 0xFF), Error::InvalidId { row: 1, .. }), "invalid UTF-8");
    let dup = Catalog::from_f32(&["x", "y", "x"], 1, vec![1.0, 2.0, 3.0], None).unwrap_err();
    assert_eq!(dup, Error::DuplicateId { id: "x".into(), first: 0, second: 2 });
    assert_eq!(
        Catalog::from_f32(&[""], 1, vec![1.0], None).unwrap_err(),
        Error::InvalidId { row: 0, reason: "empty id" }
    );
    let long = "x".repeat(1025);
    assert!(matches!(Catalog::from_f32(&[long], 1, vec![1.0], None), Err(Error::InvalidId { row: 0, .. })));
    // Duplicate ids inside a file.
    let two = Catalog::from_f32(&["ab", "cd"], 1, vec![1.0, 2.0], None).unwrap().encode();
    let mut b = two.clone();
    b[HEADER_LEN + 8 + 2..HEADER_LEN + 8 + 4].copy_from_slice(b"ab");
    assert_eq!(Catalog::decode(&b).unwrap_err(), Error::DuplicateId { id: "ab".into(), first: 0, second: 1 });
}

#[test]
fn rejects_bad_values() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (_, mut b) = sample(false, true);
        let vectors = after_ids(&b) + 12; // after 3 category codes
        b[vectors + 4 * 3..vectors + 4 * 4].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(Catalog::decode(&b), Err(Error::NonFinite { row: 1, col: 1, .. })), "{bad}");
        assert!(matches!(
            Catalog::from_f32(&["a"], 2, vec![0.0, bad], None),
            Err(Error::NonFinite { row: 0, col: 1, .. })
        ));
    }
    for bad in [-1.0f32, f32::NAN, f32::INFINITY] {
        let (_, mut b) = sample(true, false);
        let scales = after_ids(&b);
        b[scales + 8..scales + 12].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(Catalog::decode(&b), Err(Error::InvalidScale { row: 2, .. })), "{bad}");
    }
    let (_, mut b) = sample(false, true);
    let cats = after_ids(&b);
    put_u32(&mut b, cats + 4, 1 << 20);
    assert_eq!(
        Catalog::decode(&b).unwrap_err(),
        Error::CategoryOutOfRange { row: 1, code: 1 << 20, max: (1 << 20) - 1 }
    );
    // Nonzero padding between ids and the next section.
    let (_, mut b) = sample(false, false);
    let pad_start = HEADER_LEN + 12 + 9;
    assert!(after_ids(&b) > pad_start);
    b[pad_start] = 1;
    assert!(matches!(Catalog::decode(&b), Err(Error::ReservedNotZero(_))));
}

#[test]
fn constructors_reject_inconsistent_lengths() {
    assert_eq!(
        Catalog::from_f32(&["a", "b"], 2, vec![1.0; 3], None).unwrap_err(),
        Error::LengthMismatch { what: "f32 vector values", expected: 4, got: 3 }
    );
    assert_eq!(
        Catalog::from_f32(&["a", "b"], 1, vec![1.0; 2], Some(vec![1])).unwrap_err(),
        Error::LengthMismatch { what: "category codes", expected: 2, got: 1 }
    );
    assert_eq!(
        Catalog::from_int8(&["a"], 2, vec![1, 2], vec![], None).unwrap_err(),
        Error::LengthMismatch { what: "int8 row scales", expected: 1, got: 0 }
    );
    assert_eq!(Catalog::from_f32(&["a"], 0, vec![], None).unwrap_err(), Error::InvalidDimension { dim: 0, max: 4096 });
}

#[test]
fn random_corruption_never_panics() {
    // A cheap in-suite cousin of the fuzz target (fuzz/), so browsers run it too.
    let seed = base_seed() ^ 9;
    let mut rng = Rng::new(seed);
    let (_, bytes) = sample(true, true);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len() as u64) as usize;
            b[i] = rng.next_u64() as u8;
        }
        if let Ok(c) = Catalog::decode(&b) {
            // Whatever decodes must re-encode to the same bytes.
            assert_eq!(c.encode(), b, "seed={seed}");
        }
    }
}

/// A product-quantized catalog of 40 rows, dim 12, 6 sub-spaces (of two columns), categories.
fn sample_pq() -> (Catalog, Vec<u8>) {
    let mut rng = Rng::new(11);
    let n = 40;
    let c =
        Catalog::from_f32(&ids(n), 12, gaussian_values(&mut rng, n * 12), Some((0..n as u32).map(|r| r % 3).collect()))
            .unwrap()
            .to_pq(6, 1)
            .unwrap();
    let bytes = c.encode();
    (c, bytes)
}

#[test]
fn pq_round_trips_and_rejects_bad_shapes() {
    let (c, bytes) = sample_pq();
    assert_eq!(c.element_type(), ElementType::Pq);
    assert_eq!(bytes[10], 3);
    let back = Catalog::decode(&bytes).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.encode(), bytes);
    // 64 x dim codebook bytes, then 3 code bytes a row.
    assert_eq!(bytes.len(), after_ids(&bytes) + 4 * 40 + 64 * 12 + 40 * 3);
    for m in [0u32, 1, 5, 14, 258] {
        let mut b = bytes.clone();
        put_u32(&mut b, 24, m);
        assert!(matches!(Catalog::decode(&b), Err(Error::InvalidSubspaces { .. })), "m = {m}");
    }
    // A sub-space count that changes the size is caught as a size error, not read past the end.
    let mut b = bytes.clone();
    put_u32(&mut b, 24, 4);
    assert!(matches!(Catalog::decode(&b), Err(Error::Truncated { .. }) | Err(Error::TrailingBytes { .. })));
    // A NaN in the codebook.
    let mut b = bytes.clone();
    let at = after_ids(&bytes) + 4 * 40 + 8;
    b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(Catalog::decode(&b), Err(Error::InvalidCodebook { index: 2, .. })));
    // A refine plane is int8's alone.
    let mut b = bytes.clone();
    b[11] |= 2;
    assert_eq!(Catalog::decode(&b), Err(Error::RefineRequiresInt8));
    // Every truncation is an error, never a panic.
    for len in 0..bytes.len() {
        assert!(Catalog::decode(&bytes[..len]).is_err(), "len {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(Catalog::decode(&longer), Err(Error::TrailingBytes { extra: 1 })));
}

#[test]
fn pq_rows_are_rebuilt_from_their_centroids() {
    let (c, _) = sample_pq();
    let localrec::catalog::Vectors::Pq(pq) = c.vectors() else { panic!("pq") };
    assert_eq!(pq.subspaces(), 6);
    for r in 0..c.len() as u32 {
        let v = c.vector(r);
        for j in 0..6 {
            let code = pq.code(r as usize, j) as usize;
            assert_eq!(&v[2 * j..2 * j + 2], &pq.codebook()[32 * j + 2 * code..32 * j + 2 * code + 2]);
        }
    }
}

/// A catalog stored on 3 principal axes of its 10 dimensions, in int8: 30 rows, categories.
fn sample_pca() -> (Catalog, Vec<u8>) {
    let mut rng = Rng::new(12);
    let n = 30;
    let c =
        Catalog::from_f32(&ids(n), 10, gaussian_values(&mut rng, n * 10), Some((0..n as u32).map(|r| r % 4).collect()))
            .unwrap()
            .to_projected_int8(3)
            .unwrap();
    let bytes = c.encode();
    (c, bytes)
}

#[test]
fn pca_round_trips_and_rejects_bad_projections() {
    let (c, bytes) = sample_pca();
    assert_eq!((c.element_type(), c.precision(), c.dim(), c.stored_dim()), (ElementType::Int8, "pca", 10, 3));
    assert_eq!((bytes[10], bytes[11]), (2, 1 | 4));
    let back = Catalog::decode(&bytes).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.encode(), bytes);
    assert_eq!(back.vector(5).len(), 10);
    // Categories, then the projection (its dimension, 3 axes of 10 values), then 4 + 3 bytes a row.
    let proj = after_ids(&bytes) + 4 * 30;
    assert_eq!(u32::from_le_bytes(bytes[proj..proj + 4].try_into().unwrap()), 10);
    assert_eq!(bytes.len(), proj + 4 + 4 * 3 * 10 + 30 * (4 + 3));
    // Its dimension below the axes' count, or above the maximum.
    for d in [0u32, 2, 4097] {
        let mut b = bytes.clone();
        put_u32(&mut b, proj, d);
        assert!(matches!(Catalog::decode(&b), Err(Error::InvalidProjection(_))), "D = {d}");
    }
    // A dimension that changes the size is a size error, never a read past the end.
    let mut b = bytes.clone();
    put_u32(&mut b, proj, 11);
    assert!(matches!(Catalog::decode(&b), Err(Error::Truncated { .. })));
    let mut b = bytes.clone();
    put_u32(&mut b, proj, 9);
    assert!(matches!(Catalog::decode(&b), Err(Error::TrailingBytes { .. })));
    // A NaN or an infinity in the axes.
    for bad in [f32::NAN, f32::INFINITY, 2.5] {
        let mut b = bytes.clone();
        b[proj + 8..proj + 12].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(Catalog::decode(&b), Err(Error::InvalidProjection(_))));
    }
    // Without the flag, the section is read as rows: a size error.
    let mut b = bytes.clone();
    b[11] &= !4;
    assert!(Catalog::decode(&b).is_err());
    // Every truncation is an error, never a panic; so is one more byte.
    for len in 0..bytes.len() {
        assert!(Catalog::decode(&bytes[..len]).is_err(), "len {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(Catalog::decode(&longer), Err(Error::TrailingBytes { extra: 1 })));
    // A projected catalog is not projected twice, and the axes must match the stored rows.
    assert!(matches!(c.to_projected_int8(2), Err(Error::InvalidProjection(_))));
    let p = c.projection().unwrap().clone();
    let (plain, _) = sample(false, false);
    assert!(plain.with_projection(p).is_err());
}

#[test]
fn rotated_pq_round_trips_with_its_rotation() {
    let mut rng = Rng::new(13);
    let f = Catalog::from_f32(&ids(40), 12, gaussian_values(&mut rng, 40 * 12), None).unwrap();
    let c = f.to_rotated_pq(6, 1).unwrap();
    assert_eq!((c.precision(), c.dim(), c.stored_dim()), ("pq", 12, 12));
    let bytes = c.encode();
    assert_eq!((bytes[10], bytes[11]), (3, 4));
    let back = Catalog::decode(&bytes).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.encode(), bytes);
    // The rotation's 12 x 12 values and its dimension come before the codebook and the codes.
    assert_eq!(bytes.len(), after_ids(&bytes) + 4 + 4 * 144 + 64 * 12 + 40 * 3);
    // Read back, a row is its centroids rotated back: closer to the row than zero is.
    for r in 0..40u32 {
        let (x, y) = (f.vector(r), c.vector(r));
        let err: f32 = x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum();
        let norm: f32 = x.iter().map(|a| a * a).sum();
        assert!(err < norm, "row {r}: {err} vs {norm}");
    }
    for len in 0..bytes.len() {
        assert!(Catalog::decode(&bytes[..len]).is_err(), "len {len}");
    }
}

// ---- compact item metadata (items.meta.lrc) ----------------------------------------------------

mod meta {
    use super::{base_seed, put_u32, Catalog, Error, Rng};
    use localrec::catalog::meta::{apply_meta_delta_bytes, ItemMeta, MetaDelta, MAX_TITLE_BYTES, META_MAGIC};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> ItemMeta {
        let titles = ["Vintage Green Colander", "", "Crème brûlée torch — 日本", "x"];
        ItemMeta::new(&titles, vec!["Kitchen".into(), "Garden".into()], vec![2, 0]).unwrap()
    }

    #[test]
    fn compact_metadata_round_trips() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(&bytes[..8], &META_MAGIC);
        let back = ItemMeta::decode(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.title(2), Some("Crème brûlée torch — 日本"));
        assert_eq!(back.title(1), Some(""));
        assert_eq!(back.title(4), None);
        assert_eq!(back.popular(), &[2, 0]);
        assert_eq!(back.categories(), &["Kitchen".to_string(), "Garden".to_string()]);
        let empty = ItemMeta::new::<&str>(&[], vec![], vec![]).unwrap();
        assert_eq!(ItemMeta::decode(&empty.encode()).unwrap(), empty);
        // A title of the longest length (its length takes two varint bytes).
        let long = ItemMeta::new(&["é".repeat(MAX_TITLE_BYTES / 2)], vec![], vec![0]).unwrap();
        assert_eq!(ItemMeta::decode(&long.encode()).unwrap(), long);
    }

    #[test]
    fn compact_metadata_is_checked_against_its_catalog() {
        let cat = Catalog::from_f32(&["a", "b", "c", "d"], 1, vec![0.0; 4], Some(vec![0, 1, 1, 0])).unwrap();
        sample().check_against(&cat).unwrap();
        let three = Catalog::from_f32(&["a", "b", "c"], 1, vec![0.0; 3], None).unwrap();
        assert!(matches!(sample().check_against(&three), Err(Error::InvalidMetadata(_))));
        let codes = Catalog::from_f32(&["a", "b", "c", "d"], 1, vec![0.0; 4], Some(vec![0, 1, 2, 0])).unwrap();
        let err = sample().check_against(&codes).unwrap_err();
        assert!(err.to_string().contains("category code 2"), "{err}");
    }

    #[test]
    fn every_damaged_compact_file_is_a_typed_error() {
        let bytes = sample().encode();
        // Every truncation, and one byte too many.
        for len in 0..bytes.len() {
            assert!(ItemMeta::decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(ItemMeta::decode(&long), Err(Error::TrailingBytes { extra: 1 })));
        // Every single-byte change decodes to something valid or is an error, never a panic.
        for at in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xc3, 0xff] {
                let mut b = bytes.clone();
                b[at] = v;
                let _ = ItemMeta::decode(&b);
            }
        }
        let mut b = bytes.clone();
        b[0] = b'{';
        assert!(matches!(ItemMeta::decode(&b), Err(Error::BadMagic { .. })));
        let mut b = bytes.clone();
        b[8] = 2;
        assert!(matches!(ItemMeta::decode(&b), Err(Error::UnsupportedVersion { found: 2, .. })));
        // A header claiming 2^26 rows in a file of a few bytes: refused before allocating for them.
        let mut b = bytes.clone();
        put_u32(&mut b, 12, 1 << 26);
        assert!(ItemMeta::decode(&b).is_err());
        // A popular row past the end; a title split inside a UTF-8 character.
        let mut b = bytes.clone();
        let popular_at = bytes.len() - "Vintage Green Colander".len() - "Crème brûlée torch — 日本".len() - 1 - 4 - 8;
        put_u32(&mut b, popular_at, 9);
        assert!(ItemMeta::decode(&b).unwrap_err().to_string().contains("popular row 9"));
        let split = ItemMeta::new(&["é"], vec![], vec![]).unwrap().encode();
        let mut b = split.clone();
        let n = b.len();
        b[n - 3] = 1; // title length 1: "é" is 2 bytes
        b[24] = 1;
        b.truncate(n - 1);
        assert!(ItemMeta::decode(&b).is_err());
        // Too long a title, an empty or unnamed category, a popular row twice.
        assert!(ItemMeta::new(&["x".repeat(MAX_TITLE_BYTES + 1)], vec![], vec![]).is_err());
        assert!(ItemMeta::new(&["x"], vec![String::new()], vec![]).is_err());
        assert!(ItemMeta::new(&["x", "y"], vec![], vec![1, 1]).is_err());
        assert!(ItemMeta::new(&["x"], vec![], vec![1]).is_err());
    }

    #[test]
    fn metadata_deltas_rebuild_the_new_file() {
        let seed = base_seed() ^ 0x4D44;
        let mut rng = Rng::new(seed);
        for case in 0..40 {
            let n = rng.below(60) as u32;
            let old_ids: Vec<String> = (0..n).map(|i| format!("sku-{i}")).collect();
            let old_titles: Vec<String> = (0..n).map(|i| format!("title {i}")).collect();
            // Keep most rows in order, retitle some, append new ones.
            let kept: Vec<u32> = (0..n).filter(|_| rng.below(5) > 0).collect();
            let mut new_ids: Vec<String> = kept.iter().map(|&i| old_ids[i as usize].clone()).collect();
            let mut new_titles: Vec<String> = kept
                .iter()
                .map(|&i| if rng.below(6) == 0 { format!("new title {i}") } else { old_titles[i as usize].clone() })
                .collect();
            for j in 0..rng.below(10) {
                new_ids.push(format!("added-{j}"));
                new_titles.push(format!("added title {j}"));
            }
            let cats = vec!["A".to_string(), format!("B{case}")];
            let old = ItemMeta::new(&old_titles, vec!["A".into()], (0..n.min(3)).collect()).unwrap();
            let popular: Vec<u32> = (0..new_ids.len() as u32).rev().take(4).collect();
            let new = ItemMeta::new(&new_titles, cats, popular).unwrap();
            let delta = old.diff(&old_ids, &new, &new_ids).unwrap();
            let bytes = delta.encode();
            assert_eq!(MetaDelta::decode(&bytes).unwrap(), delta, "seed {seed} case {case}");
            assert_eq!(apply_meta_delta_bytes(&old.encode(), &bytes).unwrap(), new.encode(), "seed {seed} case {case}");
            // The catalog's delta entry point takes it too (told apart by its magic).
            let via = localrec::catalog::delta::apply_delta_bytes(&old.encode(), &bytes).unwrap();
            assert_eq!(via, new.encode());
            let changed = new_titles
                .iter()
                .zip(&new_ids)
                .filter(|(t, id)| old_ids.iter().position(|o| o == *id).is_none_or(|r| &old_titles[r] != *t))
                .count();
            assert_eq!(delta.upserts.len(), changed, "only changed and added titles travel");
        }
    }

    #[test]
    fn bad_metadata_deltas_are_typed_errors() {
        let ids = ["a", "b", "c", "d"];
        let old = sample();
        let new = ItemMeta::new(&["Vintage Green Colander", "retitled", "x"], vec!["K".into()], vec![0]).unwrap();
        let new_ids = ["a", "b", "d"];
        let delta = old.diff(&ids, &new, &new_ids).unwrap();
        let bytes = delta.encode();
        assert_eq!(apply_meta_delta_bytes(&old.encode(), &bytes).unwrap(), new.encode());
        // Another base: refused by its row count.
        let other = ItemMeta::new(&["a"], vec![], vec![]).unwrap();
        assert!(matches!(delta.apply(&other), Err(Error::DeltaBaseMismatch { expected: 4, got: 1 })));
        // Reordered survivors cannot be a delta.
        assert!(matches!(old.diff(&ids, &new, &["b", "a", "d"]), Err(Error::InvalidDelta(_))));
        // Every truncation and every byte change: an error or a valid delta, never a panic.
        for len in 0..bytes.len() {
            assert!(MetaDelta::decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0xff;
            if let Ok(d) = MetaDelta::decode(&b) {
                let _ = d.apply(&old);
            }
        }
    }
}
