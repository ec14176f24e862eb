//! Adds a pq refine plane (`items.pq.refine.lrc`, [`localrec::catalog::PqResidual`]) to an existing
//! export without retraining: learnt from its `items.f32.lrc` and `items.pq.lrc`, listed in its
//! `manifest.json` (the model version is unchanged: the tower and the tables are). The trainer
//! writes the plane itself; this is for exports made before it did (the shipped synthetic one).
//!
//! `cargo run --features train --example add_pq_refine -- EXPORT_DIR`
use localrec::catalog::PqResidual;
use localrec::manifest::ROLE_ITEMS_PQ_REFINE;
use localrec::train::export::{read_manifest, sha256_hex, write_manifest, FileEntry};
use localrec::Catalog;

fn main() -> Result<(), String> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: add_pq_refine EXPORT_DIR")?);
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let f32 = Catalog::decode(&read("items.f32.lrc")?).map_err(|e| e.to_string())?;
    let pq = Catalog::decode(&read("items.pq.lrc")?).map_err(|e| e.to_string())?;
    let bytes = PqResidual::learn(&pq, &f32, 0x7265_6669).map_err(|e| e.to_string())?.encode();
    let name = "items.pq.refine.lrc";
    std::fs::write(dir.join(name), &bytes).map_err(|e| e.to_string())?;
    let mut m = read_manifest(&dir)?;
    m.files.retain(|f| f.role != ROLE_ITEMS_PQ_REFINE);
    m.files.push(FileEntry {
        name: name.into(),
        role: ROLE_ITEMS_PQ_REFINE.into(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        deltas: Vec::new(),
    });
    write_manifest(&dir, &m)?;
    println!("{}: {name}, {} bytes", dir.display(), bytes.len());
    Ok(())
}
