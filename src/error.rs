//! The crate's error type. Every fallible public function returns [`Error`]; the wasm layer turns it
//! into a JS `Error` whose message is this type's `Display` text, so a malformed file is reported in
//! words, never as an opaque `unreachable` trap.

/// What went wrong, precisely enough to act on (which row, which field, what was expected).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- catalog file format -------------------------------------------------------------
    /// The file does not start with the catalog magic bytes (wrong file, or text-mode mangled).
    #[error("not a localrec catalog: bad magic bytes {found:02x?}")]
    BadMagic { found: Vec<u8> },
    /// The file was written by a format version this build cannot read.
    #[error("unsupported catalog format version {found} (this build reads version {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    /// The element type byte names no known encoding.
    #[error("unknown element type code {0} (expected 1 = f32, 2 = int8 with per-row scale or 3 = pq)")]
    UnknownElementType(u8),
    /// Reserved flag bits are set: a newer writer, or corruption.
    #[error("unknown flag bits {0:#04x} set in catalog header")]
    UnknownFlags(u8),
    /// Reserved header bytes are not zero.
    #[error("reserved header field is {0}, expected 0")]
    ReservedNotZero(u32),
    /// Dimension is zero or above [`crate::catalog::MAX_DIM`].
    #[error("invalid embedding dimension {dim} (must be 1..={max})")]
    InvalidDimension { dim: u32, max: u32 },
    /// Row count is above [`crate::catalog::MAX_ROWS`].
    #[error("too many rows: {count} (at most {max})")]
    TooManyRows { count: u32, max: u32 },
    /// The file ends before the header says it should.
    #[error("truncated catalog: {section} needs {needed} bytes, only {available} left")]
    Truncated { section: &'static str, needed: u64, available: u64 },
    /// Bytes remain after the last section the header describes.
    #[error("oversized catalog: {extra} unexpected trailing bytes after the last section")]
    TrailingBytes { extra: u64 },
    /// The id offset table is not monotonic or does not end at the id blob's length.
    #[error("corrupt id offsets at row {row}: {reason}")]
    BadIdOffsets { row: u32, reason: &'static str },
    /// An item id is empty, too long or not UTF-8.
    #[error("invalid item id at row {row}: {reason}")]
    InvalidId { row: u32, reason: &'static str },
    /// Two rows share an item id.
    #[error("duplicate item id {id:?} at rows {first} and {second}")]
    DuplicateId { id: String, first: u32, second: u32 },
    /// A category code is above [`crate::catalog::MAX_CATEGORY`].
    #[error("category code {code} at row {row} exceeds the maximum {max}")]
    CategoryOutOfRange { row: u32, code: u32, max: u32 },
    /// An embedding value is NaN or infinite.
    #[error("non-finite embedding value {value} at row {row}, column {col}")]
    NonFinite { row: u32, col: u32, value: f32 },
    /// An int8 row scale is negative, NaN or infinite.
    #[error("invalid int8 scale {value} at row {row} (must be finite and >= 0)")]
    InvalidScale { row: u32, value: f32 },
    /// A product-quantized table's sub-space count is odd, below 2, above 256 or above the dimension.
    #[error("invalid pq sub-space count {m} for dimension {dim} (even, 2..=256, at most the dimension)")]
    InvalidSubspaces { m: u32, dim: u32 },
    /// A product-quantized table's codebook holds NaN or an infinity.
    #[error("non-finite pq codebook value {value} at index {index}")]
    InvalidCodebook { index: u32, value: f32 },
    /// A catalog's projection onto principal axes is malformed: more axes than the dimension, a
    /// length that is not axes × dimension, or a value that is NaN or infinite.
    #[error("invalid projection: {0}")]
    InvalidProjection(&'static str),
    /// A refine plane was given for a catalog that is not int8.
    #[error("a refine plane is only valid with int8 vectors")]
    RefineRequiresInt8,
    /// A pq refine plane ([`crate::catalog::PqResidual`]) that does not belong to the item table it
    /// was given: another version's, another shape, or a table that is not pq.
    #[error("the pq refine plane does not fit this item table: {0}")]
    RefineMismatch(&'static str),
    /// Lengths given to a constructor disagree (ids, categories, vectors, dimension).
    #[error("{what}: expected {expected}, got {got}")]
    LengthMismatch { what: &'static str, expected: usize, got: usize },

    // ---- queries -----------------------------------------------------------------------------
    /// The query vector's length differs from the catalog's dimension.
    #[error("query has dimension {got}, catalog has dimension {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    /// The query vector contains NaN or an infinity.
    #[error("query value at index {index} is not finite ({value})")]
    NonFiniteQuery { index: usize, value: f32 },
    /// An item index is outside the catalog.
    #[error("item index {index} out of range (catalog has {len} items)")]
    IndexOutOfRange { index: u32, len: usize },

    // ---- model and history -------------------------------------------------------------------
    /// An interaction kind that is neither view, cart nor purchase.
    #[error("unknown interaction kind {0:?} (expected view, cart or purchase; or 0, 1, 2)")]
    UnknownKind(String),
    /// An interaction time is NaN or infinite.
    #[error("interaction time {0} is not finite")]
    NonFiniteTime(f64),
    /// The user tower needs at least one known item in the history.
    #[error("the history holds no item of this catalog: nothing to embed")]
    EmptyHistory,
    /// The tower's configuration JSON is malformed or describes an impossible model.
    #[error("invalid user tower config: {0}")]
    InvalidModelConfig(String),
    /// The weights file (`tower.bin`) is malformed or does not fit the architecture the config
    /// describes.
    #[error("invalid user tower weights: {0}")]
    InvalidWeights(String),
    /// The ranking stage's file (`ranker.bin`) is malformed or does not fit the catalog.
    #[error("invalid ranking stage: {0}")]
    InvalidRanker(String),
    /// The tower and the catalog disagree on the item vector dimension.
    #[error("user tower expects item vectors of dimension {tower}, catalog has {catalog}")]
    TowerCatalogMismatch { tower: usize, catalog: usize },
    /// A weight or an output of the tower is NaN or infinite.
    #[error("user tower produced a non-finite value")]
    NonFiniteEmbedding,
    /// An item id the catalog does not have.
    #[error("unknown item id {0:?}: not in this catalog")]
    UnknownItem(String),

    // ---- arguments, history, storage -----------------------------------------------------------
    /// A bad argument from the caller (an option out of range, a wrong length, an unknown name).
    #[error("{0}")]
    InvalidArgument(String),
    /// A manifest that is not JSON, of another format or version, or lists a bad or missing file.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// `items.json` is malformed or does not match the catalog it describes.
    #[error("invalid item metadata: {0}")]
    InvalidMetadata(String),
    /// An exported history that cannot be imported (not JSON, another format or version).
    #[error("invalid history export: {0}")]
    InvalidHistory(String),
    /// The browser's storage refused an operation (`quota`: the origin's quota or the disk is full).
    #[error("storage failed: {message}")]
    Storage { message: String, quota: bool },

    // ---- catalog deltas ----------------------------------------------------------------------
    /// A delta file is malformed, or does not fit the catalog it is applied to.
    #[error("invalid catalog delta: {0}")]
    InvalidDelta(String),
    /// A delta made for another version of the catalog.
    #[error("catalog delta expects a base of {expected} rows, this catalog has {got}")]
    DeltaBaseMismatch { expected: u32, got: u32 },
}

impl Error {
    /// A stable machine-readable code for the error's family, which the JavaScript binding puts on
    /// the thrown error (`err.code`): `corrupt-file`, `invalid-query`, `unknown-item`, `invalid-model`,
    /// `invalid-delta` or `empty-history`.
    pub fn code(&self) -> &'static str {
        use Error::*;
        match self {
            DimensionMismatch { .. }
            | NonFiniteQuery { .. }
            | IndexOutOfRange { .. }
            | UnknownKind(_)
            | NonFiniteTime(_) => "invalid-query",
            UnknownItem(_) => "unknown-item",
            EmptyHistory => "empty-history",
            InvalidModelConfig(_)
            | InvalidWeights(_)
            | InvalidRanker(_)
            | TowerCatalogMismatch { .. }
            | NonFiniteEmbedding => "invalid-model",
            InvalidDelta(_) | DeltaBaseMismatch { .. } => "invalid-delta",
            InvalidArgument(_) => "invalid-argument",
            InvalidManifest(_) => "invalid-manifest",
            InvalidHistory(_) => "invalid-history",
            Storage { quota: true, .. } => "quota",
            Storage { quota: false, .. } => "store-failed",
            // Every variant is named (no wildcard): a new one must choose its code.
            BadMagic { .. }
            | UnsupportedVersion { .. }
            | UnknownElementType(_)
            | UnknownFlags(_)
            | ReservedNotZero(_)
            | InvalidDimension { .. }
            | TooManyRows { .. }
            | Truncated { .. }
            | TrailingBytes { .. }
            | BadIdOffsets { .. }
            | InvalidId { .. }
            | DuplicateId { .. }
            | CategoryOutOfRange { .. }
            | NonFinite { .. }
            | InvalidScale { .. }
            | InvalidSubspaces { .. }
            | InvalidCodebook { .. }
            | InvalidProjection(_)
            | RefineRequiresInt8
            | RefineMismatch(_)
            | LengthMismatch { .. }
            | InvalidMetadata(_) => "corrupt-file",
        }
    }
}

/// Every `code` a `LocalRecError` can carry, the JS layer's included: the one list (the package's
/// `index.d.ts` is checked against it by `tests/error_codes.rs`).
///
/// * `offline-no-cache`: the manifest cannot be fetched and no complete version is cached
/// * `network`: a file download failed (HTTP error, connection lost midway)
/// * `size-mismatch`: a downloaded file is shorter or longer than the manifest says
/// * `checksum-mismatch`: a downloaded (or delta-rebuilt) file's SHA-256 differs from the manifest's
/// * `invalid-manifest`: the manifest is not JSON, of another format version, or lacks a file
/// * `insecure-context`: no `crypto.subtle` (serve over https or localhost)
/// * `closed`: the recommender was closed
/// * `invalid-argument`: a bad argument (unknown kind, k out of range, an option out of range)
/// * `internal`: a bug (a panic's message is logged to the console)
/// * `corrupt-file`, `invalid-query`, `unknown-item`, `invalid-model`, `invalid-delta`,
///   `empty-history`: see [`Error::code`]
/// * `invalid-history`: an exported history that cannot be imported
/// * `quota`, `store-failed`: storage refused a write
pub const ERROR_CODES: &[&str] = &[
    "offline-no-cache",
    "network",
    "size-mismatch",
    "checksum-mismatch",
    "invalid-manifest",
    "insecure-context",
    "closed",
    "invalid-argument",
    "internal",
    "corrupt-file",
    "invalid-query",
    "unknown-item",
    "invalid-model",
    "invalid-delta",
    "empty-history",
    "invalid-history",
    "quota",
    "store-failed",
];

/// Crate-wide result alias.
pub type Result<T, E = Error> = core::result::Result<T, E>;
