//! Catalog deltas: a new catalog version described as changes to the previous one, so a
//! returning visitor downloads only the rows that changed.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `89 4C 52 44 0D 0A 1A 0A` (`\x89LRD\r\n\x1a\n`) |
//! | 8 | 2 | u16 | delta format version, `1` |
//! | 10 | 2 | u16 | reserved, 0 |
//! | 12 | 4 | u32 | rows of the base catalog (a delta applied to another base is refused) |
//! | 16 | 4 | u32 | removed row count `R` |
//! | 20 | 4R | u32 × R | removed base rows, strictly increasing |
//! | | | catalog v1 | the upserted rows as a complete catalog file ([`super::format`]) |
//!
//! Applying: drop the removed rows of the base, keeping the others in order; an upserted row whose id
//! is still there replaces that row in place; the other upserted rows are appended, in the delta's
//! order. The upserts carry the new version's element type, dimension, categories, refine plane and
//! projection, which must match the base's.
//!
//! The loader checks the result against the SHA-256 the manifest gives for the new full file before
//! it replaces anything, so a delta applied to the wrong base, or a wrong delta, never becomes the
//! cached version. [`Catalog::diff`] writes deltas and refuses pairs whose surviving rows changed
//! order (ship the full file then).

use super::{Catalog, Refine, Vectors};
use crate::error::{Error, Result};

/// The first 8 bytes of every delta file.
pub const DELTA_MAGIC: [u8; 8] = [0x89, b'L', b'R', b'D', b'\r', b'\n', 0x1a, b'\n'];
/// The delta format version this build writes and reads.
pub const DELTA_VERSION: u16 = 1;
const DELTA_HEADER_LEN: usize = 20;

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidDelta(reason.into())
}

/// One row of a catalog, borrowed: what a delta moves around.
struct RowRef<'a> {
    catalog: &'a Catalog,
    row: usize,
}

/// Rows gathered from one or more catalogs of the same shape, then assembled (and validated) once.
struct RowBuilder {
    dim: usize,
    ids: Vec<String>,
    categories: Option<Vec<u32>>,
    f32: Vec<f32>,
    i8: Vec<i8>,
    scales: Vec<f32>,
    refine: Option<(Vec<i8>, Vec<f32>)>,
    int8: bool,
    /// A pq table's sub-spaces and codebook (shared by every row), and the rows' codes.
    pq: Option<(usize, Vec<f32>)>,
    codes: Vec<u8>,
    /// The projection the rows are stored through (shared by every row).
    projection: Option<super::Projection>,
}

impl RowBuilder {
    fn like(c: &Catalog) -> RowBuilder {
        RowBuilder {
            dim: c.dim,
            ids: Vec::new(),
            categories: c.categories.as_ref().map(|_| Vec::new()),
            f32: Vec::new(),
            i8: Vec::new(),
            scales: Vec::new(),
            refine: c.refine.as_ref().map(|_| (Vec::new(), Vec::new())),
            int8: matches!(c.vectors, Vectors::Int8 { .. }),
            pq: match &c.vectors {
                Vectors::Pq(pq) => Some((pq.subspaces(), pq.codebook().to_vec())),
                _ => None,
            },
            codes: Vec::new(),
            projection: c.projection.clone(),
        }
    }

    fn push(&mut self, r: RowRef<'_>) {
        let (c, row, d) = (r.catalog, r.row, self.dim);
        self.ids.push(c.id(row as u32).to_owned());
        if let (Some(out), Some(src)) = (&mut self.categories, &c.categories) {
            out.push(src[row]);
        }
        match &c.vectors {
            Vectors::F32(v) => self.f32.extend_from_slice(&v[row * d..(row + 1) * d]),
            Vectors::Int8 { values, scales } => {
                self.i8.extend_from_slice(&values[row * d..(row + 1) * d]);
                self.scales.push(scales[row]);
            }
            Vectors::Pq(pq) => pq.push_row_codes(row, &mut self.codes),
        }
        if let (Some((rv, rs)), Some(src)) = (&mut self.refine, &c.refine) {
            rv.extend_from_slice(&src.values[row * d..(row + 1) * d]);
            rs.push(src.scales[row]);
        }
    }

    fn build(self) -> Result<Catalog> {
        let (id_blob, id_ends) = super::build_id_blob(&self.ids)?;
        let vectors = match self.pq {
            Some((m, codebook)) => Vectors::Pq(super::Pq::new(self.dim, m, codebook, &self.codes)?),
            None if self.int8 => Vectors::Int8 { values: self.i8, scales: self.scales },
            None => Vectors::F32(self.f32),
        };
        let refine = self.refine.map(|(values, scales)| Refine { values, scales });
        let catalog = Catalog::assemble(self.dim, id_blob, id_ends, self.categories, vectors, refine)?;
        match self.projection {
            Some(p) => catalog.with_projection(p),
            None => Ok(catalog),
        }
    }
}

/// Same dimension, element type, category presence and refine presence.
fn same_shape(a: &Catalog, b: &Catalog) -> std::result::Result<(), String> {
    if a.dim != b.dim {
        return Err(format!("dimension {} vs {}", a.dim, b.dim));
    }
    if a.element_type() != b.element_type() {
        return Err(format!("element type {} vs {}", a.element_type().name(), b.element_type().name()));
    }
    if a.categories.is_some() != b.categories.is_some() {
        return Err("one has category codes, the other not".into());
    }
    if a.refine.is_some() != b.refine.is_some() {
        return Err("one has a refine plane, the other not".into());
    }
    let bits = |p: &super::Projection| (p.dim(), p.axes().iter().map(|x| x.to_bits()).collect::<Vec<u32>>());
    if a.projection.as_ref().map(bits) != b.projection.as_ref().map(bits) {
        return Err("the projections differ (new axes ship the whole file)".into());
    }
    if let (Vectors::Pq(x), Vectors::Pq(y)) = (&a.vectors, &b.vectors) {
        if !x.same_codebook(y) {
            return Err("the pq codebooks differ (a new codebook ships the whole file)".into());
        }
    }
    Ok(())
}

#[cfg(feature = "fixtures")]
/// Row `ra` of `a` and row `rb` of `b` hold the same bytes (category, vector, scales, refine).
fn same_row(a: &Catalog, ra: usize, b: &Catalog, rb: usize) -> bool {
    let d = a.dim;
    let cat = match (&a.categories, &b.categories) {
        (Some(x), Some(y)) => x[ra] == y[rb],
        _ => true,
    };
    let vec = match (&a.vectors, &b.vectors) {
        (Vectors::F32(x), Vectors::F32(y)) => {
            x[ra * d..(ra + 1) * d].iter().zip(&y[rb * d..(rb + 1) * d]).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (Vectors::Int8 { values: xv, scales: xs }, Vectors::Int8 { values: yv, scales: ys }) => {
            xs[ra].to_bits() == ys[rb].to_bits() && xv[ra * d..(ra + 1) * d] == yv[rb * d..(rb + 1) * d]
        }
        (Vectors::Pq(x), Vectors::Pq(y)) => (0..x.subspaces()).all(|j| x.code(ra, j) == y.code(rb, j)),
        _ => false,
    };
    let refine = match (&a.refine, &b.refine) {
        (Some(x), Some(y)) => {
            x.scales[ra].to_bits() == y.scales[rb].to_bits()
                && x.values[ra * d..(ra + 1) * d] == y.values[rb * d..(rb + 1) * d]
        }
        _ => true,
    };
    cat && vec && refine
}

/// What a delta file says, decoded and structurally checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// Row count of the catalog this delta applies to.
    pub base_rows: u32,
    /// Base rows to drop, strictly increasing.
    pub removed: Vec<u32>,
    /// Rows to replace (same id) or append (new id).
    pub upserts: Catalog,
}

impl Delta {
    /// Decodes a delta file.
    pub fn decode(bytes: &[u8]) -> Result<Delta> {
        if bytes.len() < DELTA_HEADER_LEN {
            return Err(invalid(format!("{} bytes is shorter than the {DELTA_HEADER_LEN}-byte header", bytes.len())));
        }
        if bytes[..8] != DELTA_MAGIC {
            return Err(invalid("bad magic bytes (not a localrec catalog delta)"));
        }
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u16_at(8);
        if version != DELTA_VERSION {
            return Err(invalid(format!("unsupported delta version {version} (this build reads {DELTA_VERSION})")));
        }
        if u16_at(10) != 0 {
            return Err(invalid("reserved header field is not 0"));
        }
        let base_rows = u32_at(12);
        let removed_count = u32_at(16) as usize;
        if removed_count > base_rows as usize {
            return Err(invalid(format!("removes {removed_count} rows of a {base_rows}-row base")));
        }
        let end = DELTA_HEADER_LEN + 4 * removed_count;
        if bytes.len() < end {
            return Err(invalid("truncated removed-row table"));
        }
        let removed: Vec<u32> = (0..removed_count).map(|i| u32_at(DELTA_HEADER_LEN + 4 * i)).collect();
        if removed.windows(2).any(|w| w[0] >= w[1]) || removed.last().is_some_and(|&r| r >= base_rows) {
            return Err(invalid("removed rows are not strictly increasing base rows"));
        }
        let upserts = Catalog::decode(&bytes[end..])?;
        Ok(Delta { base_rows, removed, upserts })
    }

    /// Encodes this delta (the inverse of [`Delta::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DELTA_HEADER_LEN + 4 * self.removed.len());
        out.extend_from_slice(&DELTA_MAGIC);
        out.extend_from_slice(&DELTA_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.base_rows.to_le_bytes());
        out.extend_from_slice(&(self.removed.len() as u32).to_le_bytes());
        self.removed.iter().for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
        out.extend_from_slice(&self.upserts.encode());
        out
    }

    /// The new catalog: `base` with this delta applied (see the module docs).
    pub fn apply(&self, base: &Catalog) -> Result<Catalog> {
        if base.len() != self.base_rows as usize {
            return Err(Error::DeltaBaseMismatch { expected: self.base_rows, got: base.len() as u32 });
        }
        same_shape(base, &self.upserts).map_err(|e| invalid(format!("upserts do not match the base: {e}")))?;
        let mut out = RowBuilder::like(base);
        let mut removed = self.removed.iter().peekable();
        for row in 0..base.len() {
            if removed.next_if(|&&r| r as usize == row).is_some() {
                continue;
            }
            match self.upserts.row_of(base.id(row as u32)) {
                Some(u) => out.push(RowRef { catalog: &self.upserts, row: u as usize }),
                None => out.push(RowRef { catalog: base, row }),
            }
        }
        for u in 0..self.upserts.len() {
            let id = self.upserts.id(u as u32);
            let kept = base.row_of(id).is_some_and(|r| self.removed.binary_search(&r).is_err());
            if !kept {
                out.push(RowRef { catalog: &self.upserts, row: u });
            }
        }
        out.build()
    }
}

impl Catalog {
    #[cfg(feature = "fixtures")]
    /// The delta that turns `self` (the version a visitor has) into `new`: removed rows, changed
    /// rows, added rows. Errors if the two differ in shape, or if the rows both keep are not in the
    /// same relative order with every added row after them (a delta cannot reorder; ship `new` whole).
    pub fn diff(&self, new: &Catalog) -> Result<Delta> {
        same_shape(self, new).map_err(|e| invalid(format!("cannot diff catalogs of different shape: {e}")))?;
        let mut removed = Vec::new();
        let mut kept = 0usize; // rows of `new` matched so far, in order
        let mut upserts = RowBuilder::like(new);
        for row in 0..self.len() {
            match new.row_of(self.id(row as u32)) {
                None => removed.push(row as u32),
                Some(r) if r as usize == kept => {
                    if !same_row(self, row, new, kept) {
                        upserts.push(RowRef { catalog: new, row: kept });
                    }
                    kept += 1;
                }
                Some(r) => {
                    return Err(invalid(format!(
                        "item {:?} moved from row {row} to row {r}: deltas keep the surviving rows' order",
                        self.id(row as u32)
                    )))
                }
            }
        }
        for row in kept..new.len() {
            upserts.push(RowRef { catalog: new, row });
        }
        Ok(Delta { base_rows: self.len() as u32, removed, upserts: upserts.build()? })
    }
}

/// Applies an encoded delta to an encoded base catalog and returns the new catalog's file bytes
/// (what the loader hashes and stores). A metadata delta ([`super::meta::MetaDelta`], told apart by
/// its magic) rebuilds a compact metadata file the same way.
pub fn apply_delta_bytes(base: &[u8], delta: &[u8]) -> Result<Vec<u8>> {
    if delta.starts_with(&super::meta::META_DELTA_MAGIC) {
        return super::meta::apply_meta_delta_bytes(base, delta);
    }
    let base = Catalog::decode(base)?;
    Ok(Delta::decode(delta)?.apply(&base)?.encode())
}
