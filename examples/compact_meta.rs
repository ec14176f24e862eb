//! Adds the compact item metadata (`items.meta.lrc`, `localrec::catalog::meta`) to an export made
//! before the exporter wrote it: reads `DIR/items.json` and the export's item table, writes
//! `DIR/items.meta.lrc` and lists it in `DIR/manifest.json` (role `item-metadata-lrc`).
//! Browsers then load it instead of items.json; older packages keep reading items.json.
//!
//! `cargo run --features train --example compact_meta -- DIR`

use std::path::PathBuf;

use localrec::catalog::meta::ItemMeta;
use localrec::manifest::{FileEntry, ROLE_ITEM_METADATA_COMPACT};
use localrec::train::export::{sha256_hex, write_manifest, ItemsJson, Manifest};
use localrec::Catalog;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: compact_meta DIR")?);
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let mut manifest: Manifest = serde_json::from_slice(&read("manifest.json")?).map_err(|e| e.to_string())?;
    let table = manifest.files.iter().find(|f| f.role.starts_with("items-")).ok_or("no item table")?;
    let catalog = Catalog::decode(&read(&table.name.clone())?).map_err(|e| e.to_string())?;
    let json = ItemsJson::parse(&read("items.json")?).map_err(|e| e.to_string())?;
    json.check_against(&catalog).map_err(|e| e.to_string())?;
    let bytes = ItemMeta::from_json(&json, &catalog).map_err(|e| e.to_string())?.encode();
    std::fs::write(dir.join("items.meta.lrc"), &bytes).map_err(|e| e.to_string())?;
    manifest.files.retain(|f| f.role != ROLE_ITEM_METADATA_COMPACT);
    let at = manifest.files.iter().position(|f| f.name == "items.json").map_or(manifest.files.len(), |i| i + 1);
    let entry = FileEntry {
        name: "items.meta.lrc".into(),
        role: ROLE_ITEM_METADATA_COMPACT.into(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        deltas: Vec::new(),
    };
    manifest.files.insert(at, entry);
    write_manifest(&dir, &manifest)?;
    println!(
        "{}: items.meta.lrc {} bytes (items.json {} bytes)",
        dir.display(),
        bytes.len(),
        read("items.json")?.len()
    );
    Ok(())
}
