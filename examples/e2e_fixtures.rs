//! Writes the two catalog versions the end-to-end sync tests serve: `OUT/v1` (the shipped synthetic
//! export, unchanged) and `OUT/v2` (5 items retired, 2 changed, 20 added; same tower), with the
//! deltas from v1 to v2 (item tables and compact metadata) written by the exporter's `write_deltas`.
//!
//! `cargo run --features train --example e2e_fixtures -- OUT`

use std::path::{Path, PathBuf};

use localrec::catalog::synthetic::normalize;
use localrec::train::export::{
    sha256_hex, write_deltas, write_first_answer, write_manifest, ItemsJson, ItemsJsonEntry, Manifest,
};
use localrec::Catalog;

fn main() -> Result<(), String> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: e2e_fixtures OUT")?);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/artifacts/synthetic");
    let (v1, v2) = (out.join("v1"), out.join("v2"));
    for d in [&v1, &v2] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let read = |name: &str| std::fs::read(src.join(name)).map_err(|e| format!("{name}: {e}"));
    for name in [
        "manifest.json",
        "tower.json",
        "tower.bin",
        "items.f32.lrc",
        "items.int8.lrc",
        "items.pq.lrc",
        "items.pq.refine.lrc",
        "items.pca.lrc",
        "items.json",
        "items.meta.lrc",
        "ranker.bin",
    ] {
        std::fs::write(v1.join(name), read(name)?).map_err(|e| e.to_string())?;
    }

    let f32 = Catalog::decode(&read("items.f32.lrc")?).map_err(|e| e.to_string())?;
    let meta: ItemsJson = serde_json::from_slice(&read("items.json")?).map_err(|e| e.to_string())?;
    let n = f32.len() as u32;
    let retired: Vec<u32> = (n - 10..n - 5).collect();
    let changed = [10u32, 11];
    let mut ids: Vec<String> = Vec::new();
    let mut values = Vec::new();
    let mut cats = Vec::new();
    let mut items: Vec<ItemsJsonEntry> = Vec::new();
    let src_cats = f32.categories().ok_or("synthetic export has categories")?;
    for r in (0..n).filter(|r| !retired.contains(r)) {
        let mut v = f32.vector(r);
        if changed.contains(&r) {
            v.iter_mut().zip(f32.vector(r + 100)).for_each(|(a, b)| *a += 0.5 * b);
            normalize(&mut v);
        }
        ids.push(f32.id(r).to_owned());
        values.extend(v);
        cats.push(src_cats[r as usize]);
        items.push(meta.items[r as usize].clone());
    }
    for j in 0..20u32 {
        let base = j * 7;
        ids.push(format!("sku-new-{j:03}"));
        values.extend(f32.vector(base));
        cats.push(src_cats[base as usize]);
        let b = &meta.items[base as usize];
        items.push(ItemsJsonEntry {
            id: format!("sku-new-{j:03}"),
            title: format!("New {}", b.title),
            category: b.category.clone(),
        });
    }
    let new_f32 = Catalog::from_f32(&ids, f32.dim(), values, Some(cats)).map_err(|e| e.to_string())?;
    // The popular list keeps only items still in the catalog (the browser checks it against it).
    let popular = meta.popular.iter().filter(|id| new_f32.row_of(id).is_some()).cloned().collect();
    let meta2 = ItemsJson { items, categories: meta.categories.clone(), popular };
    // The ranking stage follows the catalog: rows renumbered, retired items dropped, new items
    // without neighbours (and without a self-check: its expected answer was v1's).
    let ranker = localrec::rerank::RankingStage::decode(&read("ranker.bin")?).map_err(|e| e.to_string())?;
    let new_row = |old: u32| new_f32.row_of(f32.id(old));
    let mut rows = vec![Vec::new(); new_f32.len()];
    let mut popularity = vec![0f32; new_f32.len()];
    for old in 0..n {
        if let Some(r) = new_row(old) {
            let (nb, w) = ranker.neighbours.row(old);
            rows[r as usize] = nb.iter().zip(w).filter_map(|(&j, &w)| new_row(j).map(|j| (j, w))).collect();
            popularity[r as usize] = ranker.popularity[old as usize];
        }
    }
    let ranker2 = localrec::rerank::RankingStage {
        neighbours: localrec::rerank::Neighbours::from_rows(&rows).map_err(|e| e.to_string())?,
        popularity,
        check: None,
        ..ranker
    };
    // v2's pq table keeps v1's codebook, so it ships as a delta too.
    let old_pq = Catalog::decode(&read("items.pq.lrc")?).map_err(|e| e.to_string())?;
    let new_pq = new_f32.to_pq_like(&old_pq).map_err(|e| e.to_string())?;
    // ... and its pca table v1's axes.
    let old_pca = Catalog::decode(&read("items.pca.lrc")?).map_err(|e| e.to_string())?;
    let axes = old_pca.projection().ok_or("items.pca.lrc has no projection")?;
    let new_pca = new_f32.to_projected_int8_like(axes).map_err(|e| e.to_string())?;
    let compact = localrec::catalog::meta::ItemMeta::from_json(&meta2, &new_f32).map_err(|e| e.to_string())?;
    // A new pq table, a new refine plane (the old one names v1's table and would be refused).
    let new_plane = localrec::catalog::PqResidual::learn(&new_pq, &new_f32, 0x7265_6669).map_err(|e| e.to_string())?;
    let files: [(&str, Vec<u8>); 10] = [
        ("ranker.bin", ranker2.encode()),
        ("tower.json", read("tower.json")?),
        ("tower.bin", read("tower.bin")?),
        ("items.f32.lrc", new_f32.encode()),
        ("items.int8.lrc", new_f32.to_int8().encode()),
        ("items.pq.lrc", new_pq.encode()),
        ("items.pq.refine.lrc", new_plane.encode()),
        ("items.pca.lrc", new_pca.encode()),
        ("items.json", serde_json::to_vec(&meta2).map_err(|e| e.to_string())?),
        ("items.meta.lrc", compact.encode()),
    ];
    let mut manifest: Manifest = serde_json::from_slice(&read("manifest.json")?).map_err(|e| e.to_string())?;
    for (name, bytes) in &files {
        std::fs::write(v2.join(name), bytes).map_err(|e| e.to_string())?;
        let entry = manifest.files.iter_mut().find(|f| f.name == *name).ok_or(format!("{name} not in manifest"))?;
        entry.bytes = bytes.len() as u64;
        entry.sha256 = sha256_hex(bytes);
        entry.deltas.clear();
    }
    manifest.model_version = format!("{}-v2", manifest.model_version);
    manifest.items = new_f32.len();
    write_manifest(&v2, &manifest)?;
    // v2's own first answer (its popular items may be among those retired or changed).
    write_first_answer(&v2)?;
    for d in write_deltas(&v1, &v2)? {
        println!("{}: {} bytes", d.name, d.bytes);
    }
    println!("wrote {} and {}", v1.display(), v2.display());
    Ok(())
}
