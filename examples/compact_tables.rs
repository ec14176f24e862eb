//! Brings an export made before the item tables on principal axes up to date: reads
//! `DIR/items.f32.lrc`, writes `DIR/items.pq.lrc` as the exporter now does (pq rotated onto the
//! table's principal axes, `Catalog::to_rotated_pq`, the trainer's default sub-spaces and seed) and
//! `DIR/items.pca.lrc` (int8 on the strongest axes, `Catalog::to_projected_int8`), and lists both in
//! `DIR/manifest.json`. The tower, the f32 and int8 tables and the ranking stage are untouched (the
//! stage's self-check runs over the int8 table below 50,000 items, over pq above: rerun the trainer
//! for an export of that size).
//!
//! `cargo run --features train --example compact_tables -- DIR`

use std::path::PathBuf;

use localrec::catalog::{pq::default_subspaces, rotation::default_axes};
use localrec::manifest::{FileEntry, ROLE_ITEMS_PCA, ROLE_ITEMS_PQ};
use localrec::train::export::{sha256_hex, write_manifest, Manifest, PQ_DEFAULT_FROM_ITEMS};
use localrec::train::TrainConfig;
use localrec::Catalog;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: compact_tables DIR")?);
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let mut manifest: Manifest = serde_json::from_slice(&read("manifest.json")?).map_err(|e| e.to_string())?;
    let f32 = Catalog::decode(&read("items.f32.lrc")?).map_err(|e| e.to_string())?;
    if f32.len() >= PQ_DEFAULT_FROM_ITEMS {
        return Err("the ranking stage's self-check runs over pq at this size: rerun the trainer".into());
    }
    let d = f32.dim();
    let pq = f32.to_rotated_pq(default_subspaces(d), TrainConfig::default().seed).map_err(|e| e.to_string())?;
    let pca = f32.to_projected_int8(default_axes(d)).map_err(|e| e.to_string())?;
    for (name, role, c) in [("items.pq.lrc", ROLE_ITEMS_PQ, &pq), ("items.pca.lrc", ROLE_ITEMS_PCA, &pca)] {
        let bytes = c.encode();
        std::fs::write(dir.join(name), &bytes).map_err(|e| e.to_string())?;
        let entry = FileEntry {
            name: name.into(),
            role: role.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            deltas: Vec::new(),
        };
        match manifest.files.iter().position(|f| f.role == role) {
            Some(i) => manifest.files[i] = entry,
            None => {
                let at = manifest.files.iter().position(|f| f.role == ROLE_ITEMS_PQ).unwrap_or(manifest.files.len());
                manifest.files.insert(at, entry);
            }
        }
        println!("{}: {name} {} bytes", dir.display(), bytes.len());
    }
    write_manifest(&dir, &manifest)
}
