//! The catalog file format, version 1.
//!
//! One self-describing, little-endian binary file per catalog. The trainer writes it
//! ([`Catalog::encode`]); the browser downloads it and decodes it ([`Catalog::decode`]), which checks
//! every field and returns an [`Error`] naming the first problem found.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `89 4C 52 43 0D 0A 1A 0A` (`\x89LRC\r\n\x1a\n`) |
//! | 8 | 2 | u16 | format version, `1` |
//! | 10 | 1 | u8 | element type: `1` = f32, `2` = int8 with a per-row f32 scale, `3` = pq ([`super::pq`]) |
//! | 11 | 1 | u8 | flags: bit 0 = per-item category codes present; bit 1 = int8 refine plane present (int8 only); bit 2 = rows stored on principal axes (a projection section); other bits must be 0 |
//! | 12 | 4 | u32 | dimension `d` of the stored rows, 1..=4096 (with a projection: its number of axes) |
//! | 16 | 4 | u32 | row count `n`, 0..=2^26 |
//! | 20 | 4 | u32 | id blob length `L` in bytes |
//! | 24 | 4 | u32 | pq: sub-space count `m` (even, 2..=256, at most `d`); f32 and int8: reserved, must be 0 |
//! | 28 | 4n | u32 × n | end offset of each id in the blob (non-decreasing, the last equals `L`) |
//! | | L | UTF-8 | item ids (the app's ids, e.g. SKUs), concatenated; each 1..=1024 bytes, all distinct |
//! | | 0..3 | zero | padding to a multiple of 4 bytes from the start of the file |
//! | | 4n | u32 × n | category codes, each <= 2^20 - 1 (only if flag bit 0) |
//! | | 4 + 4dD | u32, f32 × dD | projection (only if flag bit 2, [`super::Projection`]): the dimension `D` of queries and read-back rows (`d..=4096`), then the `d` axes, `D` values each (finite, at most 2 in size: unit vectors); row `x` is stored as its `d` coordinates on them |
//! | | 4nd | f32 × nd | f32: vectors, row-major |
//! | | 4n + nd | f32 × n, i8 × nd | int8: row scales (finite, >= 0), then values, row-major; element = value × scale |
//! | | 4n + nd | f32 × n, i8 × nd | refine plane (only if flag bit 1): residual scales, then residual values |
//! | | 64d + nm/2 | f32 × 16d, u8 × nm/2 | pq: the codebook (sub-space by sub-space, its 16 centroids one after another), then the codes, row-major, two sub-spaces a byte (the even one in the low nibble) |
//!
//! The file ends exactly there: shorter is [`Error::Truncated`], longer is [`Error::TrailingBytes`].
//! The magic follows PNG's design: a non-ASCII first byte, and CR LF / SUB / LF bytes that text-mode
//! transfers or `type`-style tools would mangle, so such damage shows as [`Error::BadMagic`].
//! Integrity of the bytes (a flipped bit inside a vector) is the manifest's SHA-256's job, checked by
//! the loader before decoding; decoding checks structure and values.

use super::{check_id, Catalog, Refine, Vectors, MAX_DIM, MAX_ROWS};
use crate::error::{Error, Result};

/// The first 8 bytes of every catalog file.
pub const MAGIC: [u8; 8] = [0x89, b'L', b'R', b'C', b'\r', b'\n', 0x1a, b'\n'];
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 28;

const ELEM_F32: u8 = 1;
const ELEM_INT8: u8 = 2;
const ELEM_PQ: u8 = 3;
const FLAG_CATEGORIES: u8 = 1;
const FLAG_REFINE: u8 = 2;
const FLAG_PROJECTION: u8 = 4;
const KNOWN_FLAGS: u8 = FLAG_CATEGORIES | FLAG_REFINE | FLAG_PROJECTION;

/// Where a decoder reads a file's bytes from: a slice natively, a JS `Uint8Array` in the browser,
/// read a section at a time, so that decoding never holds a second copy of a large file in memory.
pub trait Source {
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Copies bytes `at .. at + out.len()` into `out`; the caller keeps the range inside the file.
    fn read_at(&self, at: u64, out: &mut [u8]);
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, at: u64, out: &mut [u8]) {
        out.copy_from_slice(&self[at as usize..at as usize + out.len()]);
    }
}

/// Bytes of the large sections read at a time: the most a streamed decode holds beside the result.
const CHUNK: usize = 1 << 20;

/// Reads sections front to back, reporting truncation with the section's name.
struct Reader<'a> {
    src: &'a dyn Source,
    pos: u64,
}

impl Reader<'_> {
    fn check(&self, section: &'static str, len: u64) -> Result<()> {
        let available = self.src.len() - self.pos;
        if len > available {
            return Err(Error::Truncated { section, needed: len, available });
        }
        Ok(())
    }

    /// The next `len` bytes, owned (the callers check `len` against the file's size first).
    fn take(&mut self, section: &'static str, len: u64) -> Result<Vec<u8>> {
        self.check(section, len)?;
        let mut out = vec![0u8; len as usize];
        self.src.read_at(self.pos, &mut out);
        self.pos += len;
        Ok(out)
    }

    /// Hands the next `len` bytes to `f` in pieces of at most [`CHUNK`] bytes (`unit` divides each
    /// piece but the last, so records never straddle two pieces), checking the length first.
    fn stream(&mut self, section: &'static str, len: u64, unit: usize, mut f: impl FnMut(&[u8])) -> Result<()> {
        self.check(section, len)?;
        let piece = (CHUNK / unit).max(1) * unit;
        let mut buf = vec![0u8; piece.min(len as usize)];
        let end = self.pos + len;
        while self.pos < end {
            let take = ((end - self.pos) as usize).min(piece);
            self.src.read_at(self.pos, &mut buf[..take]);
            self.pos += take as u64;
            f(&buf[..take]);
        }
        Ok(())
    }

    fn u32s(&mut self, section: &'static str, count: u64) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(count.min(self.src.len() / 4) as usize);
        self.stream(section, count * 4, 4, |raw| {
            out.extend(raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        })?;
        Ok(out)
    }

    fn f32s(&mut self, section: &'static str, count: u64) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(count.min(self.src.len() / 4) as usize);
        self.stream(section, count * 4, 4, |raw| {
            out.extend(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        })?;
        Ok(out)
    }

    fn i8s(&mut self, section: &'static str, count: u64) -> Result<Vec<i8>> {
        let mut out = Vec::with_capacity(count.min(self.src.len()) as usize);
        self.stream(section, count, 1, |raw| out.extend(raw.iter().map(|&b| b as i8)))?;
        Ok(out)
    }
}

fn padding(pos: usize) -> usize {
    (4 - pos % 4) % 4
}

impl Catalog {
    /// Decodes and validates a catalog file. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Catalog> {
        Catalog::decode_from(&bytes)
    }

    /// [`Catalog::decode`] reading from a [`Source`] a section at a time: besides the catalog it
    /// builds, it holds at most the id offsets' and blob's sizes plus a 1 MiB buffer, never the whole
    /// file (the browser decodes a `Uint8Array` this way, so a 1M-item table needs no second copy in
    /// wasm memory). The same checks and errors as `decode`.
    pub fn decode_from(src: &dyn Source) -> Result<Catalog> {
        let mut r = Reader { src, pos: 0 };
        let magic = r.take("magic", 8).map_err(|_| {
            let mut found = vec![0u8; src.len().min(8) as usize];
            src.read_at(0, &mut found);
            Error::BadMagic { found }
        })?;
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic.to_vec() });
        }
        let h = r.take("header", (HEADER_LEN - 8) as u64)?;
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let version = u16::from_le_bytes([h[0], h[1]]);
        if version != VERSION {
            return Err(Error::UnsupportedVersion { found: version, supported: VERSION });
        }
        let (elem, flags) = (h[2], h[3]);
        if !matches!(elem, ELEM_F32 | ELEM_INT8 | ELEM_PQ) {
            return Err(Error::UnknownElementType(elem));
        }
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::UnknownFlags(flags & !KNOWN_FLAGS));
        }
        let has_refine = flags & FLAG_REFINE != 0;
        if has_refine && elem != ELEM_INT8 {
            return Err(Error::RefineRequiresInt8);
        }
        let (dim, n, blob_len, reserved) = (u32_at(4), u32_at(8), u32_at(12), u32_at(16));
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::InvalidDimension { dim, max: MAX_DIM });
        }
        if n > MAX_ROWS {
            return Err(Error::TooManyRows { count: n, max: MAX_ROWS });
        }
        if elem == ELEM_PQ {
            super::pq::check_shape(dim as usize, reserved as usize)?;
        } else if reserved != 0 {
            return Err(Error::ReservedNotZero(reserved));
        }

        // Check the total size before allocating anything proportional to the header's claims.
        let (n64, d64) = (n as u64, dim as u64);
        let pad = padding(HEADER_LEN + 4 * n as usize + blob_len as usize) as u64;
        let cats = if flags & FLAG_CATEGORIES != 0 { 4 * n64 } else { 0 };
        let vecs = match elem {
            ELEM_F32 => 4 * n64 * d64,
            ELEM_INT8 => 4 * n64 + n64 * d64,
            _ => 4 * super::pq::CENTROIDS as u64 * d64 + n64 * reserved as u64 / 2,
        };
        let vecs = if has_refine { vecs + 4 * n64 + n64 * d64 } else { vecs };
        // The projection's own dimension sits at a known offset: read it before the size check.
        let before_projection = HEADER_LEN as u64 + 4 * n64 + blob_len as u64 + pad + cats;
        let projected_dim = if flags & FLAG_PROJECTION != 0 {
            if src.len() < before_projection + 4 {
                return Err(Error::Truncated {
                    section: "projection dimension",
                    needed: 4,
                    available: src.len().saturating_sub(before_projection).min(3),
                });
            }
            let mut raw = [0u8; 4];
            src.read_at(before_projection, &mut raw);
            let big = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            if big < dim || big > MAX_DIM {
                return Err(Error::InvalidProjection("its dimension is below the axes' count or above 4096"));
            }
            Some(big)
        } else {
            None
        };
        let proj = projected_dim.map_or(0, |big| 4 + 4 * d64 * big as u64);
        let expected = before_projection + proj + vecs;
        let actual = src.len();
        if actual > expected {
            return Err(Error::TrailingBytes { extra: actual - expected });
        }

        let id_ends = r.u32s("id offsets", n64)?;
        let blob = r.take("id blob", blob_len as u64)?;
        let mut prev = 0u32;
        for (row, &end) in id_ends.iter().enumerate() {
            if end < prev {
                return Err(Error::BadIdOffsets { row: row as u32, reason: "offset decreases" });
            }
            if end > blob_len {
                return Err(Error::BadIdOffsets { row: row as u32, reason: "offset past the end of the id blob" });
            }
            prev = end;
        }
        if prev != blob_len {
            return Err(Error::BadIdOffsets {
                row: n.saturating_sub(1),
                reason: "last offset does not end the id blob",
            });
        }
        let id_blob = String::from_utf8(blob).map_err(|e| {
            let at = e.utf8_error().valid_up_to() as u32;
            let row = id_ends.partition_point(|&end| end <= at) as u32;
            Error::InvalidId { row, reason: "not valid UTF-8" }
        })?;
        let mut start = 0usize;
        for (row, &end) in id_ends.iter().enumerate() {
            let Some(id) = id_blob.get(start..end as usize) else {
                return Err(Error::InvalidId { row: row as u32, reason: "id boundary splits a UTF-8 character" });
            };
            check_id(row as u32, id)?;
            start = end as usize;
        }
        let pad_bytes = r.take("padding", pad)?;
        if pad_bytes.iter().any(|&b| b != 0) {
            return Err(Error::ReservedNotZero(pad_bytes.iter().fold(0u32, |a, &b| (a << 8) | b as u32)));
        }
        let categories = if flags & FLAG_CATEGORIES != 0 { Some(r.u32s("category codes", n64)?) } else { None };
        let projection = match projected_dim {
            Some(big) => {
                r.take("projection dimension", 4)?;
                let axes = r.f32s("projection axes", d64 * big as u64)?;
                Some(super::Projection::new(big as usize, axes)?)
            }
            None => None,
        };
        let vectors = match elem {
            ELEM_F32 => Vectors::F32(r.f32s("f32 vectors", n64 * d64)?),
            ELEM_INT8 => {
                let scales = r.f32s("int8 row scales", n64)?;
                let values = r.i8s("int8 vectors", n64 * d64)?;
                Vectors::Int8 { values, scales }
            }
            _ => {
                let codebook = r.f32s("pq codebook", super::pq::CENTROIDS as u64 * d64)?;
                let per_row = reserved as usize / 2;
                r.check("pq codes", n64 * per_row as u64)?; // before allocating the layout
                let mut pq = super::Pq::with_rows(dim as usize, reserved as usize, codebook, n as usize)?;
                let mut row = 0;
                r.stream("pq codes", n64 * per_row as u64, per_row, |codes| {
                    pq.place_rows(row, codes);
                    row += codes.len() / per_row;
                })?;
                Vectors::Pq(pq)
            }
        };
        let refine = if has_refine {
            let scales = r.f32s("refine scales", n64)?;
            let values = r.i8s("refine values", n64 * d64)?;
            Some(Refine { values, scales })
        } else {
            None
        };
        debug_assert_eq!(r.pos, src.len());
        let catalog = Catalog::assemble(dim as usize, id_blob, id_ends, categories, vectors, refine)?;
        match projection {
            Some(p) => catalog.with_projection(p),
            None => Ok(catalog),
        }
    }

    /// Encodes this catalog in the current format version.
    pub fn encode(&self) -> Vec<u8> {
        let (blob, ends) = self.id_parts();
        let (n, d) = (self.len(), self.stored_dim());
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * n + blob.len() + 3 + 4 * n + 4 * n * d);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(match self.vectors() {
            Vectors::F32(_) => ELEM_F32,
            Vectors::Int8 { .. } => ELEM_INT8,
            Vectors::Pq(_) => ELEM_PQ,
        });
        let mut flags = if self.categories().is_some() { FLAG_CATEGORIES } else { 0 };
        if self.refine().is_some() {
            flags |= FLAG_REFINE;
        }
        if self.projection().is_some() {
            flags |= FLAG_PROJECTION;
        }
        out.push(flags);
        let m = if let Vectors::Pq(pq) = self.vectors() { pq.subspaces() as u32 } else { 0 };
        for v in [d as u32, n as u32, blob.len() as u32, m] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        ends.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes()));
        out.extend_from_slice(blob.as_bytes());
        out.resize(out.len() + padding(out.len()), 0);
        if let Some(c) = self.categories() {
            c.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
        }
        if let Some(p) = self.projection() {
            out.extend_from_slice(&(p.dim() as u32).to_le_bytes());
            p.axes().iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        match self.vectors() {
            Vectors::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Vectors::Int8 { values, scales } => {
                scales.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
                out.extend(values.iter().map(|&q| q as u8));
            }
            Vectors::Pq(pq) => {
                pq.codebook().iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                out.extend(pq.codes());
            }
        }
        if let Some(r) = self.refine() {
            r.scales.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
            out.extend(r.values.iter().map(|&q| q as u8));
        }
        out
    }
}
