//! The item-embedding table ("catalog"): item ids, optional category codes and one vector per item,
//! stored as `f32` or as `int8` with a per-row scale. See [`format`] for the binary file layout.
//!
//! A [`Catalog`] is immutable once built and always valid: every constructor (from vectors, from
//! bytes) checks ids, dimensions, category codes and finiteness, so the ranker never meets bad data.

pub mod delta;
pub mod format;
pub mod meta;
pub mod pq;
pub mod residual;
pub mod rotation;
pub mod synthetic;

pub use pq::Pq;
pub use residual::PqResidual;
pub use rotation::Projection;

use crate::error::{Error, Result};

/// Largest embedding dimension accepted.
pub const MAX_DIM: u32 = 4096;
/// Largest number of rows accepted (2^26, about 67 million).
pub const MAX_ROWS: u32 = 1 << 26;
/// Largest category code (codes are small dense integers chosen by the exporter).
pub const MAX_CATEGORY: u32 = (1 << 20) - 1;
/// Largest item id, in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// How vector values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// 32-bit IEEE floats.
    F32,
    /// Signed bytes; value = byte * row scale. A quarter of the size, slightly less exact.
    Int8,
    /// Product quantization, 4-bit codes ([`pq`]): `m / 2` bytes a row (64 at 384 dimensions), for
    /// large catalogs.
    Pq,
}

impl ElementType {
    /// `"f32"` or `"int8"`.
    pub fn name(self) -> &'static str {
        match self {
            ElementType::F32 => "f32",
            ElementType::Int8 => "int8",
            ElementType::Pq => "pq",
        }
    }
}

/// The vectors of a catalog, row-major (`row * dim + col`).
#[derive(Debug, Clone, PartialEq)]
pub enum Vectors {
    /// `len = rows * dim`.
    F32(Vec<f32>),
    /// `values.len() = rows * dim`, `scales.len() = rows`; element = `values[i] as f32 * scales[row]`.
    Int8 { values: Vec<i8>, scales: Vec<f32> },
    /// Product-quantized rows.
    Pq(Pq),
}

/// An optional second int8 plane for an int8 catalog: the rounding residual of each row, quantized
/// again with its own per-row scale (`x ≈ v1 * s1 + v2 * s2`). The scan never reads it; the ranker
/// uses it only to re-score the best few dozen candidates, which brings int8 results back to f32
/// quality (see [`crate::rank`]) at the cost of a second byte per value in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Refine {
    /// `rows * dim` residual values, row-major.
    pub values: Vec<i8>,
    /// One residual scale per row (finite, >= 0).
    pub scales: Vec<f32>,
}

/// An int8 copy of a large f32 catalog, with a bound on each row's quantization error, for the
/// ranker's bounded scan: it reads one byte per value instead of four and re-scores in f32 only the
/// rows whose bound can still reach the top k, so the result is the f32 scan's, bit for bit (see
/// [`crate::rank`]). Built when the catalog is assembled, for tables of at least
/// [`SHADOW_MIN_VALUES`] values and [`SHADOW_MIN_DIM`] dimensions: about 1.25 bytes per value more
/// memory (the f32 table stays; it scores the shortlist).
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    /// `rows * dim` values, quantized as [`Catalog::to_int8`] does.
    pub values: Vec<i8>,
    pub scales: Vec<f32>,
    /// Per row, the factor of the query's L1 norm in the error radius: `s * (1/2 + margin)`.
    pub radius_l1: Vec<f32>,
    /// Per row, the factor of the query's own quantization scale: `s * Σ|v| * (1/2 + margin)`.
    pub radius_q: Vec<f32>,
}

/// f32 tables with fewer values than this (4 MiB) fit the caches and are scanned directly.
pub const SHADOW_MIN_VALUES: usize = 1 << 20;
/// Below this dimension the per-row work of the bounded scan outweighs the bytes it saves.
pub const SHADOW_MIN_DIM: usize = 32;

impl Shadow {
    /// The radius of row `r` for a query with L1 norm `l1` and quantization scale `qscale`: the f32
    /// kernel's score of the row is within `approx ± radius`, where `approx` is the int8 kernel's.
    ///
    /// Why: with `x ≈ s·v` (`|x - s·v| ≤ s/2` per value) and `q ≈ qs·u` (`|q - qs·u| ≤ qs/2`),
    /// `q·x - qs·s·(u·v) = Σ q(x - s·v) + s·Σ v(q - qs·u)`, whose size is at most
    /// `s/2·‖q‖₁ + qs/2·s·‖v‖₁`. The margins cover the f32 kernel's own rounding (at most
    /// `(dim + 1)·2⁻²⁴·‖q‖₁·max|x|`, with `max|x| = 127·s`) and the int8 score's three roundings.
    #[inline]
    pub fn radius(&self, r: usize, l1: f32, qscale: f32) -> f32 {
        self.radius_l1[r] * l1 + self.radius_q[r] * qscale
    }

    fn build(v: &[f32], dim: usize) -> Shadow {
        let (values, scales) = quantize_rows(v, dim);
        // Kernel rounding: (dim + 1) 2^-24 * 127 (relative to s * |q|_1), doubled for safety.
        let m_l1 = 0.5 + 2.0 * (dim as f32 + 1.0) * 127.0 / 16_777_216.0;
        // The int8 score's roundings (3 * 2^-24 relative, and |score| <= |q|_inf * s * |v|_1 with
        // |q|_inf <= 32767 * qs) and the quantized query's rounding, with room to spare.
        let m_q = 0.5 + 2.0 * 32767.0 * 4.0 / 16_777_216.0;
        let mut radius_l1 = Vec::with_capacity(scales.len());
        let mut radius_q = Vec::with_capacity(scales.len());
        for (row, &s) in values.chunks_exact(dim).zip(&scales) {
            let l1: f32 = row.iter().map(|&x| (x as i32).unsigned_abs()).sum::<u32>() as f32;
            radius_l1.push(s * m_l1);
            radius_q.push(s * l1 * m_q);
        }
        Shadow { values, scales, radius_l1, radius_q }
    }
}

/// A validated item-embedding table.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    dim: usize,
    /// All ids concatenated; `id_ends[r]` is where row r's id ends (it starts at `id_ends[r-1]` or 0).
    id_blob: String,
    id_ends: Vec<u32>,
    /// id -> row: an open-addressing hash table of row numbers (`EMPTY` where none), a power of two
    /// long, probed linearly from the id's hash. Built in one pass, no string allocated per id.
    by_id: Vec<u32>,
    categories: Option<Vec<u32>>,
    vectors: Vectors,
    refine: Option<Refine>,
    /// A pq table's second level ([`residual`]), attached after decoding; never in the table's file.
    residual: Option<Pq>,
    /// The bounded scan's int8 copy of a large f32 table (derived, never stored in a file).
    shadow: Option<Shadow>,
    /// Rows stored on principal axes ([`rotation::Projection`]): `dim` is then the number of axes,
    /// and queries and [`Catalog::vector`] are in the projection's (the tower's) dimension.
    projection: Option<Projection>,
}

impl Catalog {
    /// Builds an `f32` catalog. `vectors` is row-major with `ids.len() * dim` values.
    pub fn from_f32<S: AsRef<str>>(
        ids: &[S],
        dim: usize,
        vectors: Vec<f32>,
        categories: Option<Vec<u32>>,
    ) -> Result<Catalog> {
        let (id_blob, id_ends) = build_id_blob(ids)?;
        Catalog::assemble(dim, id_blob, id_ends, categories, Vectors::F32(vectors), None)
    }

    /// Builds an `int8` catalog from quantized values and per-row scales.
    pub fn from_int8<S: AsRef<str>>(
        ids: &[S],
        dim: usize,
        values: Vec<i8>,
        scales: Vec<f32>,
        categories: Option<Vec<u32>>,
    ) -> Result<Catalog> {
        let (id_blob, id_ends) = build_id_blob(ids)?;
        Catalog::assemble(dim, id_blob, id_ends, categories, Vectors::Int8 { values, scales }, None)
    }

    /// Builds a product-quantized catalog ([`Pq`]); its rows and dimension must match `ids`.
    pub fn from_pq<S: AsRef<str>>(ids: &[S], pq: Pq, categories: Option<Vec<u32>>) -> Result<Catalog> {
        let (id_blob, id_ends) = build_id_blob(ids)?;
        Catalog::assemble(pq.dim(), id_blob, id_ends, categories, Vectors::Pq(pq), None)
    }

    /// Checks every invariant and builds the id index. All constructors end here.
    pub(crate) fn assemble(
        dim: usize,
        id_blob: String,
        id_ends: Vec<u32>,
        categories: Option<Vec<u32>>,
        vectors: Vectors,
        refine: Option<Refine>,
    ) -> Result<Catalog> {
        if dim == 0 || dim > MAX_DIM as usize {
            return Err(Error::InvalidDimension { dim: dim.min(u32::MAX as usize) as u32, max: MAX_DIM });
        }
        let n = id_ends.len();
        if n > MAX_ROWS as usize {
            return Err(Error::TooManyRows { count: n.min(u32::MAX as usize) as u32, max: MAX_ROWS });
        }
        if let Some(c) = &categories {
            if c.len() != n {
                return Err(Error::LengthMismatch { what: "category codes", expected: n, got: c.len() });
            }
            if let Some((row, &code)) = c.iter().enumerate().find(|(_, &c)| c > MAX_CATEGORY) {
                return Err(Error::CategoryOutOfRange { row: row as u32, code, max: MAX_CATEGORY });
            }
        }
        match &vectors {
            Vectors::F32(v) => {
                if v.len() != n * dim {
                    return Err(Error::LengthMismatch { what: "f32 vector values", expected: n * dim, got: v.len() });
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(Error::NonFinite { row: (i / dim) as u32, col: (i % dim) as u32, value: v[i] });
                }
            }
            Vectors::Int8 { values, scales } => {
                if values.len() != n * dim {
                    return Err(Error::LengthMismatch {
                        what: "int8 vector values",
                        expected: n * dim,
                        got: values.len(),
                    });
                }
                if scales.len() != n {
                    return Err(Error::LengthMismatch { what: "int8 row scales", expected: n, got: scales.len() });
                }
                if let Some(row) = scales.iter().position(|s| !(s.is_finite() && *s >= 0.0)) {
                    return Err(Error::InvalidScale { row: row as u32, value: scales[row] });
                }
            }
            Vectors::Pq(pq) => {
                if pq.rows() != n {
                    return Err(Error::LengthMismatch { what: "pq rows", expected: n, got: pq.rows() });
                }
                if pq.dim() != dim {
                    return Err(Error::LengthMismatch { what: "pq dimension", expected: dim, got: pq.dim() });
                }
            }
        }
        if let Some(r) = &refine {
            if !matches!(vectors, Vectors::Int8 { .. }) {
                return Err(Error::RefineRequiresInt8);
            }
            if r.values.len() != n * dim {
                return Err(Error::LengthMismatch {
                    what: "int8 refine values",
                    expected: n * dim,
                    got: r.values.len(),
                });
            }
            if r.scales.len() != n {
                return Err(Error::LengthMismatch { what: "int8 refine scales", expected: n, got: r.scales.len() });
            }
            if let Some(row) = r.scales.iter().position(|s| !(s.is_finite() && *s >= 0.0)) {
                return Err(Error::InvalidScale { row: row as u32, value: r.scales[row] });
            }
        }
        let shadow = match &vectors {
            Vectors::F32(v) if v.len() >= SHADOW_MIN_VALUES && dim >= SHADOW_MIN_DIM => Some(Shadow::build(v, dim)),
            _ => None,
        };
        let mut catalog = Catalog {
            dim,
            id_blob,
            id_ends,
            by_id: Vec::new(),
            categories,
            vectors,
            refine,
            residual: None,
            shadow,
            projection: None,
        };
        catalog.by_id = catalog.index_ids()?;
        Ok(catalog)
    }

    fn index_ids(&self) -> Result<Vec<u32>> {
        let n = self.len();
        // At most 4/5 full: short probes (a sorted index took 22 ms for 100k lookups natively, and
        // its sort most of a 100k-row decode).
        let mut slots = vec![EMPTY; (n + n / 4 + 1).next_power_of_two()];
        let mask = slots.len() - 1;
        for r in 0..n as u32 {
            let id = self.id(r);
            let mut i = id_slot(id, mask);
            loop {
                let s = slots[i];
                if s == EMPTY {
                    slots[i] = r;
                    break;
                }
                if self.id(s) == id {
                    return Err(Error::DuplicateId { id: id.to_owned(), first: s, second: r });
                }
                i = (i + 1) & mask;
            }
        }
        Ok(slots)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.id_ends.len()
    }

    /// True when the catalog has no items.
    pub fn is_empty(&self) -> bool {
        self.id_ends.is_empty()
    }

    /// Embedding dimension: the length of a query and of [`Catalog::vector`] (the tower's). With a
    /// [`Projection`] the rows are stored with fewer values, [`Catalog::stored_dim`].
    pub fn dim(&self) -> usize {
        self.projection.as_ref().map_or(self.dim, |p| p.dim())
    }

    /// Values stored per row: [`Catalog::dim`], or the projection's number of axes.
    pub fn stored_dim(&self) -> usize {
        self.dim
    }

    /// The projection the rows are stored through, if any.
    pub fn projection(&self) -> Option<&Projection> {
        self.projection.as_ref()
    }

    /// This catalog read as stored on `projection`'s axes: its rows must have as many values as
    /// the projection has axes, and it must not have one already. Queries then have the
    /// projection's dimension.
    pub fn with_projection(mut self, projection: Projection) -> Result<Catalog> {
        if self.projection.is_some() {
            return Err(Error::InvalidProjection("the catalog is already projected"));
        }
        if projection.space() != self.dim {
            return Err(Error::LengthMismatch { what: "projection axes", expected: self.dim, got: projection.space() });
        }
        self.projection = Some(projection);
        Ok(self)
    }

    /// A query in the stored space: projected when the catalog has a projection, else itself.
    /// Its inner product with a stored row is the query's with [`Catalog::vector`].
    pub fn stored_query<'q>(&self, query: &'q [f32]) -> std::borrow::Cow<'q, [f32]> {
        match &self.projection {
            Some(p) => {
                let mut out = Vec::with_capacity(p.space());
                p.project(query, &mut out);
                std::borrow::Cow::Owned(out)
            }
            None => std::borrow::Cow::Borrowed(query),
        }
    }

    /// How values are stored.
    pub fn element_type(&self) -> ElementType {
        match self.vectors {
            Vectors::F32(_) => ElementType::F32,
            Vectors::Int8 { .. } => ElementType::Int8,
            Vectors::Pq(_) => ElementType::Pq,
        }
    }

    /// The table's name as a manifest and the JS API say it: the element type's name, or `"pca"` for
    /// a table stored on principal axes ([`Projection`]) in int8.
    pub fn precision(&self) -> &'static str {
        match (&self.projection, &self.vectors) {
            (Some(_), Vectors::Int8 { .. }) => "pca",
            _ => self.element_type().name(),
        }
    }

    /// The stored vectors.
    pub fn vectors(&self) -> &Vectors {
        &self.vectors
    }

    /// This f32 catalog with a [`Shadow`] whatever its size (one is built on its own for tables of
    /// at least [`SHADOW_MIN_VALUES`] values and [`SHADOW_MIN_DIM`] dimensions). An int8 catalog is
    /// returned unchanged.
    pub fn with_shadow(mut self) -> Catalog {
        if let (Vectors::F32(v), None) = (&self.vectors, &self.shadow) {
            self.shadow = Some(Shadow::build(v, self.dim));
        }
        self
    }

    /// The bounded scan's int8 copy of a large f32 table ([`Shadow`]), if built.
    pub fn shadow(&self) -> Option<&Shadow> {
        self.shadow.as_ref()
    }

    /// The residual plane of an int8 catalog made with [`Catalog::to_int8_refined`], if any.
    pub fn refine(&self) -> Option<&Refine> {
        self.refine.as_ref()
    }

    /// The id of row `row`. Panics if `row >= len()`; see [`Catalog::get_id`].
    pub fn id(&self, row: u32) -> &str {
        let r = row as usize;
        let start = if r == 0 { 0 } else { self.id_ends[r - 1] as usize };
        &self.id_blob[start..self.id_ends[r] as usize]
    }

    /// The id of row `row`, or `None` past the end.
    pub fn get_id(&self, row: u32) -> Option<&str> {
        ((row as usize) < self.len()).then(|| self.id(row))
    }

    /// The row of item `id`, if the catalog has it (binary search, O(log n)).
    pub fn row_of(&self, id: &str) -> Option<u32> {
        let mask = self.by_id.len() - 1;
        let mut i = id_slot(id, mask);
        loop {
            match self.by_id[i] {
                EMPTY => return None,
                r if self.id(r) == id => return Some(r),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Iterates over ids in row order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len() as u32).map(move |r| self.id(r))
    }

    /// Per-item category codes, if the catalog has them.
    pub fn categories(&self) -> Option<&[u32]> {
        self.categories.as_deref()
    }

    /// Row `row` as `f32` (dequantized for int8, with the refine plane if present; rebuilt from its
    /// centroids for pq; read back from the projection's axes), [`Catalog::dim`] values. Panics if
    /// `row >= len()`.
    pub fn vector(&self, row: u32) -> Vec<f32> {
        let v = self.stored_vector(row);
        match &self.projection {
            Some(p) => p.lift(&v),
            None => v,
        }
    }

    /// Row `row` as stored ([`Catalog::stored_dim`] values, dequantized).
    pub fn stored_vector(&self, row: u32) -> Vec<f32> {
        let (d, r) = (self.dim, row as usize);
        match &self.vectors {
            Vectors::F32(v) => v[r * d..(r + 1) * d].to_vec(),
            Vectors::Int8 { values, scales } => {
                let mut v: Vec<f32> = values[r * d..(r + 1) * d].iter().map(|&q| q as f32 * scales[r]).collect();
                if let Some(refine) = &self.refine {
                    let residual = &refine.values[r * d..(r + 1) * d];
                    v.iter_mut().zip(residual).for_each(|(x, &q)| *x += q as f32 * refine.scales[r]);
                }
                v
            }
            Vectors::Pq(pq) => {
                let mut v = pq.reconstruct(r);
                if let Some(second) = &self.residual {
                    v.iter_mut().zip(second.reconstruct(r)).for_each(|(x, y)| *x += y);
                }
                v
            }
        }
    }

    #[cfg(feature = "fixtures")]
    /// This catalog product-quantized with `m` sub-spaces ([`pq::default_subspaces`] for the
    /// default), the codebook learnt from its own rows ([`Pq::train`]: 20 k-means rounds on at most
    /// 65,536 rows). A pq catalog is returned unchanged.
    pub fn to_pq(&self, m: usize, seed: u64) -> Result<Catalog> {
        if matches!(self.vectors, Vectors::Pq(_)) {
            return Ok(self.clone());
        }
        let v: Vec<f32> = match &self.vectors {
            Vectors::F32(v) => v.clone(),
            _ => (0..self.len() as u32).flat_map(|r| self.stored_vector(r)).collect(),
        };
        let pq = Pq::train(&v, self.dim, m, 20, 1 << 16, seed)?;
        Ok(Catalog { vectors: Vectors::Pq(pq), ..self.clone_without_vectors() })
    }

    #[cfg(feature = "fixtures")]
    /// This catalog rotated onto its principal axes, interleaved across the `m` sub-spaces
    /// ([`Projection::interleaved`]), then product-quantized there ([`Catalog::to_pq`]): the same
    /// bytes a row as plain pq, plus the rotation once (`4·dim²` bytes, 590 KB at 384 dimensions).
    /// On a trained tower's items the sub-spaces of raw columns hold very unequal energy; rotated and
    /// balanced, the 16 centroids of each are spent where the table varies (Online Retail II: tower
    /// Recall@10 0.2584 against plain pq's 0.2507 and f32's 0.2817; the synthetic shop at 2,000
    /// items, 0.3110 against 0.2010 and 0.3480; `examples/pq_rotation.rs`). Queries are rotated once
    /// each (`dim²` multiply-adds). The catalog must not be projected already.
    pub fn to_rotated_pq(&self, m: usize, seed: u64) -> Result<Catalog> {
        if self.projection.is_some() {
            return Err(Error::InvalidProjection("the catalog is already projected"));
        }
        pq::check_shape(self.dim, m)?;
        let v: Vec<f32> = match &self.vectors {
            Vectors::F32(v) => v.clone(),
            _ => (0..self.len() as u32).flat_map(|r| self.vector(r)).collect(),
        };
        let projection = Projection::learn(&v, self.dim, self.dim)?.interleaved(m);
        let rotated = projection.project_rows(&v);
        let pq = Pq::train(&rotated, self.dim, m, 20, 1 << 16, seed)?;
        Ok(Catalog { vectors: Vectors::Pq(pq), projection: Some(projection), ..self.clone_without_vectors() })
    }

    #[cfg(feature = "fixtures")]
    /// This catalog product-quantized with the codebook (and rotation, if any) of `like`, another
    /// version's pq table: rows both versions share keep their codes, so the new version can ship
    /// as a delta. This catalog must not be projected.
    pub fn to_pq_like(&self, like: &Catalog) -> Result<Catalog> {
        let Vectors::Pq(pq) = &like.vectors else {
            return Err(Error::InvalidArgument("to_pq_like needs a pq table to copy".into()));
        };
        if self.projection.is_some() {
            return Err(Error::InvalidProjection("the catalog is already projected"));
        }
        if like.dim() != self.dim {
            return Err(Error::LengthMismatch { what: "pq codebook dimension", expected: self.dim, got: like.dim() });
        }
        let v: Vec<f32> = (0..self.len() as u32).flat_map(|r| self.vector(r)).collect();
        let v = match &like.projection {
            Some(p) => p.project_rows(&v),
            None => v,
        };
        Ok(Catalog {
            vectors: Vectors::Pq(pq.encode(&v)?),
            projection: like.projection.clone(),
            ..self.clone_without_vectors()
        })
    }

    /// This catalog with vectors quantized to int8, one symmetric scale per row
    /// (`scale = max|x| / 127`, `q = round(x / scale)`), the usual per-channel scheme of int8 inference.
    /// An int8 catalog is returned unchanged.
    pub fn to_int8(&self) -> Catalog {
        let Vectors::F32(v) = &self.vectors else { return self.clone() };
        let (values, scales) = quantize_rows(v, self.dim);
        Catalog { vectors: Vectors::Int8 { values, scales }, ..self.clone_without_vectors() }
    }

    /// Like [`Catalog::to_int8`], plus the [`Refine`] plane: the residual `x - v1 * s1` quantized the
    /// same way. An int8 catalog is returned unchanged.
    pub fn to_int8_refined(&self) -> Catalog {
        let Vectors::F32(v) = &self.vectors else { return self.clone() };
        let (values, scales) = quantize_rows(v, self.dim);
        let residual: Vec<f32> =
            v.iter().zip(&values).enumerate().map(|(i, (x, &q))| x - q as f32 * scales[i / self.dim]).collect();
        let (rv, rs) = quantize_rows(&residual, self.dim);
        Catalog {
            vectors: Vectors::Int8 { values, scales },
            refine: Some(Refine { values: rv, scales: rs }),
            ..self.clone_without_vectors()
        }
    }

    #[cfg(feature = "fixtures")]
    /// This catalog stored on its first `axes` principal axes ([`Projection::learn`], learnt from
    /// its own rows) and quantized to int8 there, one scale per row: `axes + 4` bytes a row (64 at
    /// 384 dimensions with [`rotation::default_axes`]), the large-catalog table. The catalog
    /// must not be projected already.
    pub fn to_projected_int8(&self, axes: usize) -> Result<Catalog> {
        if self.projection.is_some() {
            return Err(Error::InvalidProjection("the catalog is already projected"));
        }
        let v: Vec<f32> = match &self.vectors {
            Vectors::F32(v) => v.clone(),
            _ => (0..self.len() as u32).flat_map(|r| self.vector(r)).collect(),
        };
        let projection = Projection::learn(&v, self.dim, axes)?;
        self.to_projected_int8_like(&projection)
    }

    /// This catalog stored on `projection`'s axes (another version's: rows both versions share
    /// keep their values, so the new version can ship as a delta) and quantized to int8 there.
    pub fn to_projected_int8_like(&self, projection: &Projection) -> Result<Catalog> {
        if self.projection.is_some() {
            return Err(Error::InvalidProjection("the catalog is already projected"));
        }
        if projection.dim() != self.dim {
            return Err(Error::LengthMismatch {
                what: "projection dimension",
                expected: self.dim,
                got: projection.dim(),
            });
        }
        let v: Vec<f32> = match &self.vectors {
            Vectors::F32(v) => projection.project_rows(v),
            _ => projection.project_rows(&(0..self.len() as u32).flat_map(|r| self.vector(r)).collect::<Vec<_>>()),
        };
        let (values, scales) = quantize_rows(&v, projection.space());
        Ok(Catalog {
            dim: projection.space(),
            vectors: Vectors::Int8 { values, scales },
            projection: Some(projection.clone()),
            ..self.clone_without_vectors()
        })
    }

    fn clone_without_vectors(&self) -> Catalog {
        Catalog {
            dim: self.dim,
            id_blob: self.id_blob.clone(),
            id_ends: self.id_ends.clone(),
            by_id: self.by_id.clone(),
            categories: self.categories.clone(),
            vectors: Vectors::F32(Vec::new()),
            refine: None,
            residual: None,
            shadow: None,
            projection: self.projection.clone(),
        }
    }

    pub(crate) fn id_parts(&self) -> (&str, &[u32]) {
        (&self.id_blob, &self.id_ends)
    }
}

/// Symmetric per-row int8 quantization: `scale = max|x| / 127`, `q = round(x / scale)`.
fn quantize_rows(v: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut values = Vec::with_capacity(v.len());
    let mut scales = Vec::with_capacity(v.len() / dim);
    for row in v.chunks_exact(dim) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = max / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        values.extend(row.iter().map(|x| (x * inv).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (values, scales)
}

/// Concatenates ids into one blob with end offsets, rejecting empty or oversized ids.
fn build_id_blob<S: AsRef<str>>(ids: &[S]) -> Result<(String, Vec<u32>)> {
    if ids.len() > MAX_ROWS as usize {
        return Err(Error::TooManyRows { count: ids.len().min(u32::MAX as usize) as u32, max: MAX_ROWS });
    }
    let mut blob = String::new();
    let mut ends = Vec::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        let id = id.as_ref();
        check_id(row as u32, id)?;
        blob.push_str(id);
        let end = u32::try_from(blob.len())
            .map_err(|_| Error::InvalidId { row: row as u32, reason: "id blob exceeds 4 GiB" })?;
        ends.push(end);
    }
    Ok((blob, ends))
}

/// An empty slot of the id index.
const EMPTY: u32 = u32::MAX;

/// Where the id index starts probing for `id` (FNV-1a, its high bits spread by a multiply).
#[inline]
fn id_slot(id: &str, mask: usize) -> usize {
    let h = crate::codec::fnv1a(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as usize & mask
}

pub(crate) fn check_id(row: u32, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidId { row, reason: "empty id" });
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::InvalidId { row, reason: "id longer than 1024 bytes" });
    }
    Ok(())
}
