//! The pq table's refine plane (issue 15): a second level of product quantization learnt on the
//! first level's residuals, shipped as its own file (`items.pq.refine.lrc`, role `items-pq-refine`)
//! and attached to a decoded pq table ([`Catalog::with_residual`]).
//!
//! Why a second file: the pq table is the large-catalog download (64 bytes an item at 384
//! dimensions) and answers at once; the plane doubles that, so the loader fetches it behind the first
//! answer and caches it, as the refine plane of an int8 table (the residual, quantized again) but
//! lazily. With it, the ranker keeps the pq scan's best `2k + 32` rows and re-scores them with both
//! levels, and the tower reads both levels' rows for the history. On Online Retail II the pq scan's
//! best 50 already hold the f32 scan's top 10; what pq loses is the order within them (tower alone,
//! Recall@10: f32 0.3049, pq 0.2854, pq re-scored with this plane 0.3009; `examples/pq_refine.rs`).
//!
//! File layout, version 1, little-endian:
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `89 4C 52 51 0D 0A 1A 0A` (`\x89LRQ\r\n\x1a\n`) |
//! | 8 | 2 | u16 | format version, `1` |
//! | 10 | 2 | u16 | reserved, 0 |
//! | 12 | 4 | u32 | dimension `d` (the pq table's stored dimension), 1..=4096 |
//! | 16 | 4 | u32 | sub-space count `m` (even, 2..=256, at most `d`) |
//! | 20 | 4 | u32 | row count `n`, 0..=2^26 |
//! | 24 | 8 | u64 | the fingerprint of the pq table it refines ([`Pq::fingerprint`]) |
//! | 32 | 64d | f32 × 16d | the residual codebook, as a pq file's |
//! | 32 + 64d | nm/2 | u8 × nm/2 | the residual codes, row-major, as a pq file's |
//!
//! The file ends exactly there. A plane is attached only to the table whose fingerprint it names
//! (the same codebook and codes, bit for bit), so a plane of another version is refused, never mixed in.

use super::pq::{self, Pq, CENTROIDS};
use super::{Catalog, Vectors, MAX_DIM, MAX_ROWS};
use crate::error::{Error, Result};

/// The first 8 bytes of a refine-plane file.
pub const MAGIC: [u8; 8] = [0x89, b'L', b'R', b'Q', b'\r', b'\n', 0x1a, b'\n'];
/// The version this build writes and reads.
pub const VERSION: u16 = 1;
const HEADER: usize = 32;

/// A pq table's refine plane: the second-level codes and the fingerprint of the table they refine.
#[derive(Debug, Clone, PartialEq)]
pub struct PqResidual {
    base: u64,
    plane: Pq,
}

impl PqResidual {
    #[cfg(feature = "fixtures")]
    /// Learns the plane for `table` (a pq catalog) from `source`, the same catalog's rows before
    /// quantization (any element type; f32 is what the trainer passes): the residuals
    /// `source - table`, on the table's axes when it has a projection, product-quantized with the
    /// table's sub-spaces ([`Pq::train`]).
    pub fn learn(table: &Catalog, source: &Catalog, seed: u64) -> Result<PqResidual> {
        let Vectors::Pq(first) = table.vectors() else {
            return Err(Error::InvalidArgument("a refine plane is learnt for a pq table".into()));
        };
        if source.len() != table.len() || source.dim() != table.dim() {
            return Err(Error::LengthMismatch {
                what: "refine plane source rows",
                expected: table.len() * table.dim(),
                got: source.len() * source.dim(),
            });
        }
        let d = first.dim();
        let mut residual = Vec::with_capacity(table.len() * d);
        let mut stored = Vec::new();
        for r in 0..table.len() {
            let x = source.vector(r as u32);
            let x = match table.projection() {
                Some(p) => {
                    p.project(&x, &mut stored);
                    std::mem::take(&mut stored)
                }
                None => x,
            };
            residual.extend(x.iter().zip(first.reconstruct(r)).map(|(a, b)| a - b));
        }
        let plane = Pq::train(&residual, d, first.subspaces(), 20, 1 << 16, seed)?;
        Ok(PqResidual { base: first.fingerprint(), plane })
    }

    /// The second-level table (rows in the first level's stored space).
    pub fn plane(&self) -> &Pq {
        &self.plane
    }

    /// The fingerprint of the pq table this plane refines.
    pub fn base_fingerprint(&self) -> u64 {
        self.base
    }

    /// The file's bytes (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let p = &self.plane;
        let mut out = Vec::with_capacity(HEADER + 4 * p.codebook().len() + p.rows() * p.subspaces() / 2);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        for v in [p.dim(), p.subspaces(), p.rows()] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.base.to_le_bytes());
        p.codebook().iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        out.extend(p.codes());
        out
    }

    /// Decodes and checks a refine-plane file: magic, version, reserved field, shape, exact length
    /// (sizes checked against the header before anything is allocated) and a finite codebook.
    pub fn decode(bytes: &[u8]) -> Result<PqResidual> {
        if bytes.len() < 8 || bytes[..8] != MAGIC {
            return Err(Error::BadMagic { found: bytes[..bytes.len().min(8)].to_vec() });
        }
        if bytes.len() < HEADER {
            return Err(Error::Truncated {
                section: "refine plane header",
                needed: HEADER as u64,
                available: bytes.len() as u64,
            });
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let version = u16_at(8);
        if version != VERSION {
            return Err(Error::UnsupportedVersion { found: version, supported: VERSION });
        }
        if u16_at(10) != 0 {
            return Err(Error::ReservedNotZero(u16_at(10) as u32));
        }
        let (dim, m, n) = (u32_at(12), u32_at(16), u32_at(20));
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::InvalidDimension { dim, max: MAX_DIM });
        }
        if n > MAX_ROWS {
            return Err(Error::TooManyRows { count: n, max: MAX_ROWS });
        }
        pq::check_shape(dim as usize, m as usize)?;
        let base = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
        let (book, codes) = (4 * CENTROIDS as u64 * dim as u64, n as u64 * m as u64 / 2);
        let mut at = HEADER as u64;
        for (section, len) in [("refine plane codebook", book), ("refine plane codes", codes)] {
            let available = bytes.len() as u64 - at;
            if len > available {
                return Err(Error::Truncated { section, needed: len, available });
            }
            at += len;
        }
        if bytes.len() as u64 > at {
            return Err(Error::TrailingBytes { extra: bytes.len() as u64 - at });
        }
        let book_end = HEADER + book as usize;
        let codebook: Vec<f32> =
            bytes[HEADER..book_end].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let plane = Pq::new(dim as usize, m as usize, codebook, &bytes[book_end..])?;
        if plane.rows() != n as usize {
            // Only with m / 2 code bytes and zero rows read as zero: the header says otherwise.
            return Err(Error::LengthMismatch { what: "refine plane rows", expected: n as usize, got: plane.rows() });
        }
        Ok(PqResidual { base, plane })
    }
}

impl Catalog {
    /// This pq catalog with `plane` attached: the ranker re-scores the pq scan's best `2k + 32`
    /// rows with both levels, and [`Catalog::vector`] reads rows back with both. Refused
    /// ([`Error::RefineMismatch`]) unless this is the pq table the plane was learnt for (same
    /// dimension, sub-spaces, rows and fingerprint). A plane already attached is replaced.
    pub fn with_residual(mut self, plane: PqResidual) -> Result<Catalog> {
        self.attach_residual(plane)?;
        Ok(self)
    }

    /// [`Catalog::with_residual`] in place (the browser's catalog is shared; no copy is made).
    pub fn attach_residual(&mut self, plane: PqResidual) -> Result<()> {
        let Vectors::Pq(first) = &self.vectors else {
            return Err(Error::RefineMismatch("a pq refine plane needs a pq item table"));
        };
        let p = &plane.plane;
        if p.dim() != first.dim() || p.subspaces() != first.subspaces() {
            return Err(Error::RefineMismatch("the plane's dimension or sub-spaces differ from the table's"));
        }
        if p.rows() != first.rows() {
            return Err(Error::RefineMismatch("the plane's row count differs from the table's"));
        }
        if plane.base != first.fingerprint() {
            return Err(Error::RefineMismatch("the plane was learnt for another version of the table"));
        }
        self.residual = Some(plane.plane);
        Ok(())
    }

    /// Removes the attached plane and returns it (as its file would hold it), leaving the plain pq
    /// table.
    pub fn take_residual(&mut self) -> Option<PqResidual> {
        let plane = self.residual.take()?;
        let Vectors::Pq(first) = &self.vectors else { unreachable!("a plane is only ever attached to pq") };
        Some(PqResidual { base: first.fingerprint(), plane })
    }

    /// The second pq level attached by [`Catalog::with_residual`], if any.
    pub fn residual(&self) -> Option<&Pq> {
        self.residual.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn source(n: usize, d: usize, seed: u64) -> Catalog {
        let mut rng = Rng::new(seed);
        let ids: Vec<String> = (0..n).map(|i| format!("item-{i}")).collect();
        let v: Vec<f32> = (0..n * d).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let cats = Some((0..n as u32).map(|i| i % 5).collect());
        Catalog::from_f32(&ids, d, v, cats).unwrap()
    }

    #[test]
    fn a_plane_round_trips_and_brings_rows_closer() {
        let src = source(300, 24, 1);
        let table = src.to_rotated_pq(8, 3).unwrap();
        let plane = PqResidual::learn(&table, &src, 5).unwrap();
        let bytes = plane.encode();
        assert_eq!(bytes.len(), 32 + 64 * 24 + 300 * 4);
        assert_eq!(PqResidual::decode(&bytes).unwrap(), plane);
        let refined = table.clone().with_residual(plane.clone()).unwrap();
        let mut back = refined.clone();
        assert_eq!(back.take_residual(), Some(plane));
        assert_eq!(back, table);
        let err = |c: &Catalog| -> f32 {
            (0..300u32)
                .map(|r| c.vector(r).iter().zip(src.vector(r)).map(|(a, b)| (a - b) * (a - b)).sum::<f32>())
                .sum()
        };
        let (one, two) = (err(&table), err(&refined));
        assert!(two < 0.6 * one, "two levels {two} against one {one}");
    }

    #[test]
    fn every_damaged_file_is_a_typed_error() {
        let src = source(70, 12, 2);
        let table = src.to_pq(4, 1).unwrap();
        let bytes = PqResidual::learn(&table, &src, 2).unwrap().encode();
        for len in 0..bytes.len() {
            let e = PqResidual::decode(&bytes[..len]).unwrap_err();
            assert!(matches!(e, Error::BadMagic { .. } | Error::Truncated { .. }), "{len}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(PqResidual::decode(&longer).unwrap_err(), Error::TrailingBytes { extra: 1 });
        let patch = |at: usize, b: &[u8]| {
            let mut x = bytes.clone();
            x[at..at + b.len()].copy_from_slice(b);
            PqResidual::decode(&x).unwrap_err()
        };
        assert!(matches!(patch(1, b"X"), Error::BadMagic { .. }));
        assert_eq!(patch(8, &2u16.to_le_bytes()), Error::UnsupportedVersion { found: 2, supported: 1 });
        assert_eq!(patch(10, &1u16.to_le_bytes()), Error::ReservedNotZero(1));
        assert!(matches!(patch(12, &0u32.to_le_bytes()), Error::InvalidDimension { .. }));
        assert!(matches!(patch(16, &3u32.to_le_bytes()), Error::InvalidSubspaces { .. }));
        assert!(matches!(patch(20, &(MAX_ROWS + 1).to_le_bytes()), Error::TooManyRows { .. }));
        // A huge row count is refused from the header, before any allocation.
        assert!(matches!(patch(20, &MAX_ROWS.to_le_bytes()), Error::Truncated { section: "refine plane codes", .. }));
        assert!(matches!(patch(32 + 4 * 7, &f32::NAN.to_le_bytes()), Error::InvalidCodebook { index: 7, .. }));
    }

    #[test]
    fn a_plane_fits_only_its_own_table() {
        let src = source(90, 12, 3);
        let table = src.to_pq(4, 1).unwrap();
        let plane = PqResidual::learn(&table, &src, 2).unwrap();
        // Another version of the table: the same codebook, one row's codes changed.
        let mut moved: Vec<f32> = (0..90u32).flat_map(|r| src.vector(r)).collect();
        moved[..12].iter_mut().for_each(|x| *x = -*x);
        let ids: Vec<String> = src.ids().map(String::from).collect();
        let other = Catalog::from_f32(&ids, 12, moved, None).unwrap().to_pq_like(&table).unwrap();
        assert!(matches!(other.with_residual(plane.clone()), Err(Error::RefineMismatch(_))));
        assert!(matches!(src.clone().with_residual(plane.clone()), Err(Error::RefineMismatch(_))));
        let fewer = source(89, 12, 3).to_pq(4, 1).unwrap();
        assert!(matches!(fewer.with_residual(plane.clone()), Err(Error::RefineMismatch(_))));
        assert!(table.with_residual(plane).is_ok());
    }
}
