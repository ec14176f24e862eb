//! Sync decisions, in plain Rust: whether the cached version is the manifest's, and where each file
//! of a new version comes from (the cache, a delta on a cached base, or a whole download). The
//! browser side (`src/wasm/sync.rs`) fetches, verifies, stores and reports; it decides nothing these
//! functions do not.

use crate::cache::VersionRecord;
use crate::manifest::FileEntry;

/// Where one file of a new version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A cached file with the same digest (shared with the cached version, or left by another tab).
    Cached,
    /// `deltas[i]` of the entry, applied to a cached base.
    Delta(usize),
    /// The whole file.
    Full,
}

/// For each of `entries`: a cached file with its digest (`cached[i]`) is used as is; otherwise the
/// first delta whose base `has_base` reports cached; otherwise the whole file.
pub fn plan(entries: &[&FileEntry], cached: &[bool], has_base: impl Fn(&str) -> bool) -> Vec<How> {
    entries
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if cached.get(i).copied().unwrap_or(false) {
                How::Cached
            } else {
                f.deltas.iter().position(|d| has_base(&d.from_sha256)).map_or(How::Full, How::Delta)
            }
        })
        .collect()
}

/// The bytes a plan downloads (what progress counts to).
pub fn download_bytes(entries: &[&FileEntry], plan: &[How]) -> u64 {
    entries
        .iter()
        .zip(plan)
        .map(|(f, how)| match how {
            How::Cached => 0,
            How::Delta(d) => f.deltas[*d].bytes,
            How::Full => f.bytes,
        })
        .sum()
}

/// Whether `cached` is the version `entries` (of a manifest with `model_version`) describe: same
/// model version, and the same digest for every role.
pub fn is_current(
    cached: &VersionRecord,
    cached_model_version: &str,
    model_version: &str,
    entries: &[&FileEntry],
) -> bool {
    cached_model_version == model_version
        && entries.iter().all(|f| cached.files.iter().any(|(role, sha)| *role == f.role && *sha == f.sha256))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DeltaEntry;

    fn sha(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn entry(role: &str, n: u8, bytes: u64, deltas: &[(u8, u64)]) -> FileEntry {
        FileEntry {
            name: format!("{role}.bin"),
            role: role.into(),
            bytes,
            sha256: sha(n),
            deltas: deltas
                .iter()
                .map(|&(from, b)| DeltaEntry {
                    from_sha256: sha(from),
                    name: format!("{role}.from-{from}"),
                    bytes: b,
                    sha256: sha(from + 100),
                })
                .collect(),
        }
    }

    #[test]
    fn cached_files_then_deltas_then_whole_files() {
        let (t, i, m) = (
            entry("tower", 1, 1000, &[]),
            entry("items", 2, 5000, &[(7, 300), (8, 200)]),
            entry("meta", 3, 400, &[(9, 50)]),
        );
        let entries = [&t, &i, &m];
        // The tower is cached; the items' second delta has its base; the metadata's has none.
        let p = plan(&entries, &[true, false, false], |s| s == sha(8));
        assert_eq!(p, [How::Cached, How::Delta(1), How::Full]);
        assert_eq!(download_bytes(&entries, &p), 200 + 400);
        // The first listed delta wins when both bases are there.
        assert_eq!(plan(&entries, &[false, false, false], |_| true), [How::Full, How::Delta(0), How::Delta(0)]);
        assert_eq!(plan(&entries, &[], |_| false), [How::Full, How::Full, How::Full]);
    }

    #[test]
    fn current_means_same_model_version_and_digests() {
        let (t, i) = (entry("tower", 1, 10, &[]), entry("items", 2, 10, &[]));
        let v = VersionRecord {
            manifest_url: "u".into(),
            manifest_json: "{}".into(),
            files: vec![("tower".into(), sha(1)), ("items".into(), sha(2))],
            stored_at: 0.0,
        };
        assert!(is_current(&v, "m1", "m1", &[&t, &i]));
        assert!(!is_current(&v, "m1", "m2", &[&t, &i]));
        let other = entry("items", 3, 10, &[]);
        assert!(!is_current(&v, "m1", "m1", &[&t, &other]));
        let f32_table = entry("items-f32", 2, 10, &[]);
        assert!(!is_current(&v, "m1", "m1", &[&f32_table]), "a role the version lacks");
    }
}
