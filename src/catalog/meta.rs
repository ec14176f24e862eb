//! The compact item metadata file (`items.meta.lrc`), version 1: each item's title, the category
//! names and the popular list, for the catalog it is exported with. It holds no ids: row `r` here
//! is row `r` of the catalog, whose ids and category codes it shares, so it costs a title and one
//! byte or two per item where `items.json` repeats every id and category name (about 26 against 76
//! bytes an item on the synthetic shop). Titles are decoded one at a time, on demand: opening a
//! file checks its structure and UTF-8 once and builds no strings.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `89 4C 52 4D 0D 0A 1A 0A` (`\x89LRM\r\n\x1a\n`) |
//! | 8 | 2 | u16 | format version, `1` |
//! | 10 | 2 | u16 | reserved, 0 |
//! | 12 | 4 | u32 | rows `n` (the catalog's), 0..=2^26 |
//! | 16 | 4 | u32 | category names `c`, 0..=2^20 |
//! | 20 | 4 | u32 | popular rows `p`, 0..=[`MAX_POPULAR`] |
//! | 24 | 4 | u32 | title blob length `L` in bytes |
//! | 28 | | varint + UTF-8, × c | each category name: its length (LEB128), then its bytes (1..=256) |
//! | | 4p | u32 × p | popular rows, most popular first, each < n, all distinct |
//! | | | varint × n | each title's length in bytes (LEB128), 0..=[`MAX_TITLE_BYTES`], summing to `L` |
//! | | L | UTF-8 | the titles, concatenated in row order |
//!
//! The file ends exactly there. A delta ([`MetaDelta`]) rebuilds a new version from the cached one
//! with the catalog delta's row operations: removed rows, rows replaced in place, rows appended.

use super::Catalog;
use super::MAX_ROWS;
use serde::{Deserialize, Serialize};

use crate::codec::{put_varint, read_varint};
use crate::error::{Error, Result};

/// The first 8 bytes of every compact metadata file.
pub const META_MAGIC: [u8; 8] = [0x89, b'L', b'R', b'M', b'\r', b'\n', 0x1a, b'\n'];
/// The first 8 bytes of every metadata delta.
pub const META_DELTA_MAGIC: [u8; 8] = [0x89, b'L', b'M', b'D', b'\r', b'\n', 0x1a, b'\n'];
/// The format version this build writes and reads (file and delta).
pub const META_VERSION: u16 = 1;
/// Longest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 4096;
/// Longest category name accepted, in bytes.
pub const MAX_CATEGORY_NAME_BYTES: usize = 256;
/// Most popular rows a file may list.
pub const MAX_POPULAR: usize = 10_000;
const HEADER_LEN: usize = 28;

fn bad(what: impl Into<String>) -> Error {
    Error::InvalidMetadata(format!("items.meta.lrc: {}", what.into()))
}

/// Titles, category names and the popular list of a catalog's items, by row.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemMeta {
    /// Every title, concatenated; title `r` is `titles[ends[r - 1]..ends[r]]` (from 0 for row 0).
    titles: String,
    ends: Vec<u32>,
    categories: Vec<String>,
    popular: Vec<u32>,
}

impl ItemMeta {
    /// Metadata for `titles.len()` rows. Errors ([`Error::InvalidMetadata`]): a title or category
    /// name too long, an empty category name, a popular row out of range or listed twice.
    pub fn new<S: AsRef<str>>(titles: &[S], categories: Vec<String>, popular: Vec<u32>) -> Result<ItemMeta> {
        let mut blob = String::new();
        let mut ends = Vec::with_capacity(titles.len());
        for t in titles {
            blob.push_str(t.as_ref());
            ends.push(blob.len() as u32);
        }
        let meta = ItemMeta { titles: blob, ends, categories, popular };
        meta.validate()?;
        Ok(meta)
    }

    fn validate(&self) -> Result<()> {
        let n = self.ends.len();
        if n > MAX_ROWS as usize || self.titles.len() > u32::MAX as usize {
            return Err(bad(format!("{n} rows, more than {MAX_ROWS}")));
        }
        let mut start = 0;
        for (r, &end) in self.ends.iter().enumerate() {
            if end as usize - start > MAX_TITLE_BYTES {
                return Err(bad(format!("the title of row {r} is longer than {MAX_TITLE_BYTES} bytes")));
            }
            start = end as usize;
        }
        if self.categories.len() > super::MAX_CATEGORY as usize + 1 {
            return Err(bad(format!("{} category names, more than the codes allow", self.categories.len())));
        }
        if let Some(c) = self.categories.iter().find(|c| c.is_empty() || c.len() > MAX_CATEGORY_NAME_BYTES) {
            return Err(bad(format!("category name {c:?} is empty or longer than {MAX_CATEGORY_NAME_BYTES} bytes")));
        }
        if self.popular.len() > MAX_POPULAR {
            return Err(bad(format!("{} popular rows, more than {MAX_POPULAR}", self.popular.len())));
        }
        for (i, &r) in self.popular.iter().enumerate() {
            if r as usize >= n {
                return Err(bad(format!("popular row {r} is past the last row ({n} rows)")));
            }
            if self.popular[..i].contains(&r) {
                return Err(bad(format!("popular row {r} is listed twice")));
            }
        }
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The title of row `row` (`None` past the end).
    pub fn title(&self, row: usize) -> Option<&str> {
        let end = *self.ends.get(row)? as usize;
        let start = if row == 0 { 0 } else { self.ends[row - 1] as usize };
        Some(&self.titles[start..end])
    }

    /// Category names, indexed by the catalog's category codes.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The popular rows, most popular first (the cold-start answer).
    pub fn popular(&self) -> &[u32] {
        &self.popular
    }

    /// Checks the metadata against the catalog it describes: the same number of rows, and a name
    /// for every category code the catalog uses.
    pub fn check_against(&self, catalog: &Catalog) -> Result<()> {
        if self.len() != catalog.len() {
            return Err(bad(format!("{} rows, the catalog has {}", self.len(), catalog.len())));
        }
        if let Some(&max) = catalog.categories().and_then(|codes| codes.iter().max()) {
            if max as usize >= self.categories.len() {
                return Err(bad(format!(
                    "the catalog uses category code {max}, the metadata names {} categories",
                    self.categories.len()
                )));
            }
        }
        Ok(())
    }

    /// The compact form of `items.json` for `catalog`: titles in the catalog's row order (an item
    /// `items.json` lacks gets an empty title), popular ids as rows (ids the catalog lacks are
    /// left out).
    pub fn from_json(json: &ItemsJson, catalog: &Catalog) -> Result<ItemMeta> {
        let mut titles = vec![""; catalog.len()];
        for it in &json.items {
            if let Some(r) = catalog.row_of(&it.id) {
                titles[r as usize] = &it.title;
            }
        }
        let mut popular: Vec<u32> = Vec::new();
        for r in json.popular.iter().filter_map(|id| catalog.row_of(id)) {
            if !popular.contains(&r) {
                popular.push(r);
            }
        }
        popular.truncate(MAX_POPULAR);
        ItemMeta::new(&titles, json.categories.clone(), popular)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.titles.len() + 2 * self.len() + 4 * self.popular.len());
        out.extend_from_slice(&META_MAGIC);
        out.extend_from_slice(&META_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        for v in [self.len(), self.categories.len(), self.popular.len(), self.titles.len()] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        for c in &self.categories {
            put_varint(&mut out, c.len() as u32);
            out.extend_from_slice(c.as_bytes());
        }
        for &r in &self.popular {
            out.extend_from_slice(&r.to_le_bytes());
        }
        let mut start = 0;
        for &end in &self.ends {
            put_varint(&mut out, end - start);
            start = end;
        }
        out.extend_from_slice(self.titles.as_bytes());
        out
    }

    /// Reads a file, checking every field; errors name the first problem ([`Error::BadMagic`],
    /// [`Error::UnsupportedVersion`], [`Error::Truncated`], [`Error::TrailingBytes`] or
    /// [`Error::InvalidMetadata`]).
    pub fn decode(bytes: &[u8]) -> Result<ItemMeta> {
        let mut r = Cursor { bytes, pos: 0 };
        let head = r.take("header", HEADER_LEN)?;
        if head[..8] != META_MAGIC {
            return Err(Error::BadMagic { found: head[..8].to_vec() });
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if version != META_VERSION {
            return Err(Error::UnsupportedVersion { found: version, supported: META_VERSION });
        }
        if head[10] != 0 || head[11] != 0 {
            return Err(bad("reserved header bytes are not 0"));
        }
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]) as usize;
        let (n, c, p, title_bytes) = (word(12), word(16), word(20), word(24));
        if n > MAX_ROWS as usize || c > super::MAX_CATEGORY as usize + 1 || p > MAX_POPULAR {
            return Err(bad(format!("header counts out of range: {n} rows, {c} categories, {p} popular")));
        }
        let mut categories = Vec::with_capacity(c.min(bytes.len()));
        for _ in 0..c {
            let len = r.varint("category names")? as usize;
            if len == 0 || len > MAX_CATEGORY_NAME_BYTES {
                return Err(bad(format!("a category name of {len} bytes")));
            }
            let name =
                std::str::from_utf8(r.take("category names", len)?).map_err(|_| bad("a category name is not UTF-8"))?;
            categories.push(name.to_owned());
        }
        let popular: Vec<u32> = r
            .take("popular rows", 4 * p)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // At least one byte per row follows: a header claiming more rows than bytes fails here,
        // before anything the size of `n` is allocated.
        if n > bytes.len() - r.pos {
            return Err(Error::Truncated {
                section: "title lengths",
                needed: n as u64,
                available: (bytes.len() - r.pos) as u64,
            });
        }
        let mut ends = Vec::with_capacity(n);
        let mut end = 0usize;
        for row in 0..n {
            let len = r.varint("title lengths")? as usize;
            if len > MAX_TITLE_BYTES {
                return Err(bad(format!("the title of row {row} is {len} bytes, more than {MAX_TITLE_BYTES}")));
            }
            end += len;
            if end > title_bytes {
                return Err(bad(format!("title lengths add up to more than the blob's {title_bytes} bytes")));
            }
            ends.push(end as u32);
        }
        if end != title_bytes {
            return Err(bad(format!("title lengths add up to {end}, the blob has {title_bytes} bytes")));
        }
        let blob = r.take("titles", title_bytes)?;
        if r.pos != bytes.len() {
            return Err(Error::TrailingBytes { extra: (bytes.len() - r.pos) as u64 });
        }
        let titles = std::str::from_utf8(blob).map_err(|e| bad(format!("titles are not UTF-8 ({e})")))?;
        if let Some(row) = ends.iter().position(|&e| !titles.is_char_boundary(e as usize)) {
            return Err(bad(format!("the title of row {row} ends inside a UTF-8 character")));
        }
        let meta = ItemMeta { titles: titles.to_owned(), ends, categories, popular };
        meta.validate()?;
        Ok(meta)
    }

    #[cfg(feature = "fixtures")]
    /// The delta from `self` (ids `old_ids`) to `new` (ids `new_ids`): rows whose id left are
    /// removed, rows whose title changed are replaced in place, new ids are appended. Errors
    /// ([`Error::InvalidDelta`]) when the new rows are not the surviving old rows, in their order,
    /// followed by the new ones (the layout a catalog delta produces; ship the full file then).
    pub fn diff<A: AsRef<str>, B: AsRef<str>>(
        &self,
        old_ids: &[A],
        new: &ItemMeta,
        new_ids: &[B],
    ) -> Result<MetaDelta> {
        if old_ids.len() != self.len() || new_ids.len() != new.len() {
            return Err(Error::InvalidDelta("id lists do not match the metadata's rows".into()));
        }
        let kept: std::collections::HashSet<&str> = new_ids.iter().map(AsRef::as_ref).collect();
        let removed: Vec<u32> =
            (0..self.len() as u32).filter(|&r| !kept.contains(old_ids[r as usize].as_ref())).collect();
        let survivors: Vec<usize> = (0..self.len()).filter(|r| removed.binary_search(&(*r as u32)).is_err()).collect();
        if survivors.len() > new.len() || survivors.iter().zip(new_ids).any(|(&o, n)| old_ids[o].as_ref() != n.as_ref())
        {
            return Err(Error::InvalidDelta("surviving rows changed order, or new rows come before old ones".into()));
        }
        let replaced: Vec<u32> = (0..survivors.len() as u32)
            .filter(|&i| self.title(survivors[i as usize]) != new.title(i as usize))
            .collect();
        let titles: Vec<&str> = replaced
            .iter()
            .map(|&i| new.title(i as usize).unwrap_or_default())
            .chain((survivors.len()..new.len()).map(|r| new.title(r).unwrap_or_default()))
            .collect();
        let upserts = ItemMeta::new(&titles, new.categories.clone(), Vec::new())?;
        Ok(MetaDelta { base_rows: self.len() as u32, removed, replaced, popular: new.popular.clone(), upserts })
    }
}

/// A metadata delta (see the module docs):
///
/// | offset | size | type | field |
/// |---|---|---|---|
/// | 0 | 8 | bytes | magic `89 4C 4D 44 0D 0A 1A 0A` (`\x89LMD\r\n\x1a\n`) |
/// | 8 | 2 | u16 | version, `1` |
/// | 10 | 2 | u16 | reserved, 0 |
/// | 12 | 4 | u32 | rows of the base file (a delta applied to another base is refused) |
/// | 16 | 4 | u32 | removed row count `R` |
/// | 20 | 4 | u32 | replaced row count `C` |
/// | 24 | 4 | u32 | popular row count `P`, 0..=[`MAX_POPULAR`] |
/// | 28 | 4R | u32 × R | removed base rows, strictly increasing |
/// | | 4C | u32 × C | replaced rows, strictly increasing, as positions among the surviving rows |
/// | | 4P | u32 × P | the new version's popular rows |
/// | | | metadata v1 | a metadata file: the `C` replacement titles, then the appended rows' titles; its category names are the new version's, it lists no popular rows |
#[derive(Debug, Clone, PartialEq)]
pub struct MetaDelta {
    pub base_rows: u32,
    pub removed: Vec<u32>,
    pub replaced: Vec<u32>,
    pub popular: Vec<u32>,
    pub upserts: ItemMeta,
}

impl MetaDelta {
    /// The delta's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&META_DELTA_MAGIC);
        out.extend_from_slice(&META_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        for v in [self.base_rows, self.removed.len() as u32, self.replaced.len() as u32, self.popular.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for &r in self.removed.iter().chain(&self.replaced).chain(&self.popular) {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&self.upserts.encode());
        out
    }

    /// Reads a delta ([`Error::InvalidDelta`] naming the problem).
    pub fn decode(bytes: &[u8]) -> Result<MetaDelta> {
        let invalid = |what: &str| Error::InvalidDelta(format!("metadata delta: {what}"));
        let mut r = Cursor { bytes, pos: 0 };
        let head = r.take("delta header", 28).map_err(|_| invalid("truncated header"))?;
        if head[..8] != META_DELTA_MAGIC {
            return Err(invalid("not a metadata delta (bad magic)"));
        }
        if u16::from_le_bytes([head[8], head[9]]) != META_VERSION || head[10] != 0 || head[11] != 0 {
            return Err(invalid("unsupported version"));
        }
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (base_rows, nr, nc, np) = (word(12), word(16) as usize, word(20) as usize, word(24) as usize);
        if nr > base_rows as usize || nc > base_rows as usize || np > MAX_POPULAR {
            return Err(invalid("more removed or replaced rows than the base has, or too many popular rows"));
        }
        let mut list = |n: usize| -> Result<Vec<u32>> {
            let raw = r.take("delta rows", 4 * n).map_err(|_| invalid("truncated row list"))?;
            Ok(raw.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let removed = list(nr)?;
        let replaced = list(nc)?;
        let popular = list(np)?;
        let increasing = |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]);
        if !increasing(&removed) || removed.last().is_some_and(|&l| l >= base_rows) {
            return Err(invalid("removed rows are not strictly increasing base rows"));
        }
        let survivors = base_rows as usize - nr;
        if !increasing(&replaced) || replaced.last().is_some_and(|&l| l as usize >= survivors) {
            return Err(invalid("replaced rows are not strictly increasing surviving rows"));
        }
        let upserts = ItemMeta::decode(&bytes[r.pos..]).map_err(|e| invalid(&e.to_string()))?;
        if upserts.len() < nc {
            return Err(invalid("fewer titles than replaced rows"));
        }
        Ok(MetaDelta { base_rows, removed, replaced, popular, upserts })
    }

    /// The new version: `base` without the removed rows, the replaced titles swapped in, the
    /// appended rows added; category names and popular rows from the delta.
    pub fn apply(&self, base: &ItemMeta) -> Result<ItemMeta> {
        if base.len() != self.base_rows as usize {
            return Err(Error::DeltaBaseMismatch { expected: self.base_rows, got: base.len() as u32 });
        }
        let mut titles: Vec<&str> = (0..base.len())
            .filter(|r| self.removed.binary_search(&(*r as u32)).is_err())
            .map(|r| base.title(r).unwrap_or_default())
            .collect();
        for (j, &i) in self.replaced.iter().enumerate() {
            titles[i as usize] = self.upserts.title(j).unwrap_or_default();
        }
        titles.extend((self.replaced.len()..self.upserts.len()).map(|j| self.upserts.title(j).unwrap_or_default()));
        ItemMeta::new(&titles, self.upserts.categories.clone(), self.popular.clone())
            .map_err(|e| Error::InvalidDelta(format!("metadata delta: {e}")))
    }
}

/// A metadata file rebuilt from a base file and a delta, as bytes (the loader checks them against
/// the manifest's SHA-256).
pub fn apply_meta_delta_bytes(base: &[u8], delta: &[u8]) -> Result<Vec<u8>> {
    let base = ItemMeta::decode(base)?;
    Ok(MetaDelta::decode(delta)?.apply(&base)?.encode())
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, section: &'static str, len: usize) -> Result<&'a [u8]> {
        let available = self.bytes.len() - self.pos;
        if len > available {
            return Err(Error::Truncated { section, needed: len as u64, available: available as u64 });
        }
        let out = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// An LEB128 u32 (at most 5 bytes, no bits past 32).
    fn varint(&mut self, section: &'static str) -> Result<u32> {
        read_varint(self.bytes, &mut self.pos).ok_or_else(|| {
            if self.pos >= self.bytes.len() {
                Error::Truncated { section, needed: 1, available: 0 }
            } else {
                bad(format!("{section}: a length past 32 bits"))
            }
        })
    }
}

/// `items.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsJson {
    pub items: Vec<ItemsJsonEntry>,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Ids of the most popular items (training targets), most popular first: the cold-start answer.
    #[serde(default)]
    pub popular: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsJsonEntry {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub category: Option<String>,
}

impl ItemsJson {
    /// Parses `items.json`: `{ items: [{ id, title, category? }], categories?: [name], popular?:
    /// [id] }`. Read by hand from a `serde_json::Value`, as the manifest is: one instantiation of
    /// the parser in the wasm module, not one per shape.
    pub fn parse(json: &[u8]) -> Result<ItemsJson> {
        use serde_json::Value;
        let bad = |what: &str| Error::InvalidMetadata(format!("items.json is not valid item metadata: {what}"));
        let doc: Value = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
        let strings = |key: &str| -> Result<Vec<String>> {
            match doc.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad(&format!("{key} must hold strings"))))
                    .collect(),
                Some(_) => Err(bad(&format!("{key} must be an array"))),
            }
        };
        let items = doc.get("items").and_then(Value::as_array).ok_or_else(|| bad("no items array"))?;
        let items = items
            .iter()
            .map(|it| {
                let text = |key: &str| it.get(key).and_then(Value::as_str).map(str::to_owned);
                Ok(ItemsJsonEntry {
                    id: text("id").ok_or_else(|| bad("an item has no id"))?,
                    title: text("title").ok_or_else(|| bad("an item has no title"))?,
                    category: text("category"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ItemsJson { items, categories: strings("categories")?, popular: strings("popular")? })
    }

    /// Checks the metadata against the catalog it describes: every popular id and every item id
    /// is in the catalog, and there is a category name for every category code the catalog uses.
    pub fn check_against(&self, catalog: &Catalog) -> Result<()> {
        if let Some(it) = self.items.iter().find(|it| catalog.row_of(&it.id).is_none()) {
            return Err(Error::InvalidMetadata(format!("item {:?} is not in the catalog", it.id)));
        }
        check_popular_and_categories(catalog, &self.popular, self.categories.len())
    }
}

/// The part of [`ItemsJson::check_against`] the browser runs on every load (it reads the item
/// list itself): every popular id is in the catalog, and every category code the catalog uses
/// has a name.
pub fn check_popular_and_categories(catalog: &Catalog, popular: &[String], categories: usize) -> Result<()> {
    if let Some(id) = popular.iter().find(|id| catalog.row_of(id).is_none()) {
        return Err(Error::InvalidMetadata(format!("popular item {id:?} is not in the catalog")));
    }
    if let Some(&max) = catalog.categories().and_then(|codes| codes.iter().max()) {
        if max as usize >= categories {
            return Err(Error::InvalidMetadata(format!(
                "the catalog uses category code {max}, items.json names {categories} categories"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_overlong_ones_are_refused() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Cursor { bytes: &b, pos: 0 }.varint("x").unwrap(), v);
        }
        assert!(Cursor { bytes: &[0xff, 0xff, 0xff, 0xff, 0x1f], pos: 0 }.varint("x").is_err());
        assert!(Cursor { bytes: &[0x80], pos: 0 }.varint("x").is_err());
        // Overlong forms of 0 and 1: refused, so each number has one encoding.
        assert!(Cursor { bytes: &[0x80, 0x00], pos: 0 }.varint("x").is_err());
        assert!(Cursor { bytes: &[0x81, 0x80, 0x00], pos: 0 }.varint("x").is_err());
    }
}
