//! The shipped export (`www/artifacts/synthetic/`, what the demo loads) still decodes into today's
//! architecture and formats: a stale artifact fails `cargo test`, not the demo. Regenerate it with
//! `bash scripts/export-synthetic.sh`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use localrec::model::UserModel;
use localrec::{Catalog, ElementType};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/artifacts/synthetic")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e} (run scripts/export-synthetic.sh)"))
}

#[test]
fn manifest_lists_every_file_with_its_size_and_digest() {
    let manifest: Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    assert_eq!(manifest["format"], "localrec-manifest");
    assert_eq!(manifest["format_version"], 1);
    let files = manifest["files"].as_array().unwrap();
    let roles: Vec<&str> = files.iter().map(|f| f["role"].as_str().unwrap()).collect();
    for role in ["tower-config", "tower-weights", "items-f32", "items-int8", "item-metadata"] {
        assert!(roles.contains(&role), "manifest lacks {role}");
    }
    for f in files {
        let bytes = read(f["name"].as_str().unwrap());
        assert_eq!(bytes.len() as u64, f["bytes"].as_u64().unwrap(), "{}", f["name"]);
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, f["sha256"].as_str().unwrap(), "{}", f["name"]);
    }
}

#[test]
fn shipped_tower_decodes_and_reproduces_its_native_embedding() {
    let weights = read("tower.bin");
    assert!(weights.len() <= 300 * 1024, "tower weights are {} bytes, budget 300 KB", weights.len());
    let mut model = UserModel::from_bytes(&read("tower.json"), &weights).expect("tower.json + tower.bin decode");
    let f32_items = Catalog::decode(&read("items.f32.lrc")).unwrap();
    assert_eq!(f32_items.element_type(), ElementType::F32);
    assert_eq!(f32_items.dim(), model.config().dim);
    let diff = model.self_check(&f32_items).unwrap().expect("the export carries a self-check");
    assert!(diff <= 1e-5, "native embedding differs from the exported one by {diff}");

    let int8_items = Catalog::decode(&read("items.int8.lrc")).unwrap();
    assert_eq!(int8_items.element_type(), ElementType::Int8);
    assert_eq!(int8_items.len(), f32_items.len());
    assert!(f32_items.ids().eq(int8_items.ids()));
}

#[test]
fn item_metadata_matches_the_catalog() {
    let catalog = Catalog::decode(&read("items.f32.lrc")).unwrap();
    let meta: Value = serde_json::from_slice(&read("items.json")).unwrap();
    let items = meta["items"].as_array().unwrap();
    assert_eq!(items.len(), catalog.len());
    for (row, item) in items.iter().enumerate() {
        assert_eq!(item["id"].as_str().unwrap(), catalog.id(row as u32));
        assert!(!item["title"].as_str().unwrap().is_empty());
    }
    let popular = meta["popular"].as_array().unwrap();
    assert!(!popular.is_empty());
    assert!(popular.iter().all(|id| catalog.row_of(id.as_str().unwrap()).is_some()));
}

#[test]
fn the_demo_experiment_manifest_matches_the_export() {
    // www/artifacts/synthetic/experiment.json (scripts/demo-experiment.mjs): manifest.json's files and
    // version, plus two variant entries naming the export's own pq and f32 tables.
    let m = localrec::manifest::Manifest::parse(&read("manifest.json")).unwrap();
    let x = localrec::manifest::Manifest::parse(&read("experiment.json")).unwrap();
    assert_eq!(x.model_version, m.model_version, "rerun scripts/demo-experiment.mjs");
    assert_eq!(x.files[..m.files.len()], m.files[..], "rerun scripts/demo-experiment.mjs");
    let same = |variant: &str, base: &str| {
        let v = x.files.iter().find(|f| f.role == variant).unwrap();
        let b = m.files.iter().find(|f| f.role == base).unwrap();
        assert_eq!((&v.name, &v.sha256, v.bytes), (&b.name, &b.sha256, b.bytes));
    };
    same("items-int8@pq", "items-pq");
    same("items-int8@f32", "items-f32");
    let e = x.experiment.unwrap();
    assert_eq!(e.shadows().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["f32"]);
}
