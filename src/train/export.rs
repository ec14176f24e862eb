//! Export: everything the browser downloads, with a manifest of sizes and SHA-256 digests.
//!
//! ```text
//! manifest.json     format, versions, dimensions, and every file below with bytes + sha256
//! tower.json        UserTowerConfig + a self-check history and its native embedding
//! tower.bin         the user tower's weights (f32 tensors, `crate::model` docs)
//! items.f32.lrc     the item table, catalog format v1, f32
//! items.int8.lrc    the same, int8 with a per-row scale (below `PQ_DEFAULT_FROM_ITEMS` items)
//! items.pca.lrc     the same on its principal axes in int8 (`crate::catalog::Projection`): the large-catalog table
//! items.pq.lrc      the same, product-quantized (`crate::catalog::pq`): the fastest scan
//! items.pq.refine.lrc  the pq table's refine plane (`crate::catalog::PqResidual`), loaded behind the first answer
//! items.json        item metadata: id, title, category; category names; the most popular ids
//! items.meta.lrc    the same, compact (`crate::catalog::meta`): titles by row, category names, popular rows
//! ranker.bin        the ranking stage (`crate::rerank`): scorer, popularity, item-item neighbours
//! ```

use std::path::Path;

use sha2::{Digest, Sha256};

use super::data::Dataset;
use super::trainer::Trained;
use crate::model::{tower_weights, TowerCheck, TowerFile, UserModel, TOWER_FORMAT, TOWER_VERSION};
use crate::Catalog;

pub use crate::manifest::{
    DeltaEntry, FileEntry, FirstItem, ItemsJson, ItemsJsonEntry, Manifest, MANIFEST_FORMAT, MANIFEST_VERSION,
};
use crate::manifest::{
    ROLE_ITEMS_F32, ROLE_ITEMS_INT8, ROLE_ITEMS_PCA, ROLE_ITEMS_PQ, ROLE_ITEMS_PQ_REFINE, ROLE_ITEM_METADATA,
    ROLE_ITEM_METADATA_COMPACT, ROLE_RANKER, ROLE_TOWER_CONFIG, ROLE_TOWER_WEIGHTS,
};
use crate::recommender::{RecommendOptions, Recommender};
use crate::rerank::{RankingStage, SelfCheck};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// From this many items on, the export's default item table is pq: `items.int8.lrc` (388 bytes an
/// item at 384 dimensions, 19 MB at this size) is no longer written, so every browser loads the pq
/// table (64 bytes of codes an item at 384 dimensions, rotated onto the table's principal axes;
/// or pca, the same size, when asked for), and the ranking stage is fitted over it.
pub const PQ_DEFAULT_FROM_ITEMS: usize = 50_000;

/// The item table the browser is expected to score with: the compact table (pq,
/// [`Catalog::to_rotated_pq`], or pca, whichever [`compact_choice`] picked) from
/// [`PQ_DEFAULT_FROM_ITEMS`] items on, int8 below. The ranking stage is fitted over it and the
/// export's self-checks run on it.
pub fn served_table<'a>(int8: &'a Catalog, compact: &'a Catalog, pq_from_items: usize) -> &'a Catalog {
    if compact.len() >= pq_from_items {
        compact
    } else {
        int8
    }
}

/// The compact table to serve (the manifest's `compact_table`): pca when the tower scored strictly
/// better over it than over pq on the validation split (`valid_pq`, `valid_pca`: Recall@10), else
/// pq. Neither wins everywhere: on Online Retail II pq loses 6% to f32 and pca 19%; on the
/// synthetic shop at 75,084 items pq loses 72% and pca gains 9%.
pub fn compact_choice(valid_pq: f64, valid_pca: f64) -> &'static str {
    if valid_pca > valid_pq {
        ROLE_ITEMS_PCA
    } else {
        ROLE_ITEMS_PQ
    }
}

/// The compact item tables of an export and how they are served (see [`export`]).
#[derive(Clone, Copy)]
pub struct CompactTables<'a> {
    /// The pq table, with its refine plane attached when one is to be written.
    pub pq: &'a Catalog,
    pub pca: &'a Catalog,
    /// From this many items on, int8 is left out and `compact` is served.
    pub pq_from_items: usize,
    /// `items-pq` or `items-pca` ([`compact_choice`]).
    pub compact: &'a str,
}

/// Writes the export into `dir` (created if missing) and returns its manifest. `pq` is the
/// product-quantized table ([`Catalog::to_pq`]), `pca` the table on its principal axes
/// ([`Catalog::to_projected_int8`]); int8 is written below `pq_from_items` items; `compact` (a role,
/// [`compact_choice`]) is the manifest's `compact_table`, the one served from `pq_from_items` on.
///
/// With a `ranker` (the second stage, [`crate::rerank`]), `ranker.bin` is written too, with a
/// self-check: the check user's top 10 through the browser's path ([`Recommender`] over the
/// [`served_table`]), which the browser must reproduce.
pub fn export(
    ds: &Dataset,
    trained: &Trained,
    dir: &Path,
    ranker: Option<&RankingStage>,
    tables: &CompactTables<'_>,
) -> Result<Manifest, String> {
    let CompactTables { pq, pca, pq_from_items, compact } = *tables;
    if compact != ROLE_ITEMS_PQ && compact != ROLE_ITEMS_PCA {
        return Err(format!("the compact table is {ROLE_ITEMS_PQ} or {ROLE_ITEMS_PCA}, not {compact}"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let catalog = trained.catalog(ds);
    if !matches!(pq.vectors(), crate::catalog::Vectors::Pq(_)) || pq.ids().ne(catalog.ids()) {
        return Err("the pq table is not a pq table of this model's items".into());
    }
    if pca.precision() != "pca" || pca.ids().ne(catalog.ids()) {
        return Err("the pca table is not a pca table of this model's items".into());
    }
    let f32_bytes = catalog.encode();
    let with_int8 = catalog.len() < pq_from_items;
    let int8 = if with_int8 { Some(catalog.to_int8()) } else { None };
    let int8_bytes = int8.as_ref().map_or_else(Vec::new, Catalog::encode);
    // The refine plane, if the pq table carries one, goes to its own file; the ranking stage's
    // self-check runs over the plain pq table, what a browser answers with first.
    let mut pq = pq.clone();
    let refine_bytes = pq.take_residual().map(|p| p.encode());
    let pq = &pq;
    let pq_bytes = pq.encode();
    let pca_bytes = pca.encode();
    let weights = tower_weights(trained.user.clone()).map_err(|e| e.to_string())?;

    // Self-check: the first user's test-time history (as much of it as training read, so that a
    // memory reaches past the slots), embedded natively against the f32 table.
    let user = ds.users.iter().find(|u| u.events.len() >= 3).ok_or("no user with 3 events")?;
    let j = user.test_index();
    let events = &user.visible_before(j, crate::train::eval::history_window(&trained.tower_config.history()));
    let mut model = trained.user_model();
    let embedding = model.embed(&catalog, events).map_err(|e| e.to_string())?;
    let check = TowerCheck {
        items: events.iter().map(|e| e.item).collect(),
        kinds: events.iter().map(|e| e.kind as u8).collect(),
        times: events.iter().map(|e| e.time).collect(),
        embedding,
    };
    let tower = TowerFile {
        format: TOWER_FORMAT.into(),
        version: TOWER_VERSION,
        config: trained.tower_config.clone(),
        check: Some(check),
    };
    // The check must pass on the weights as written, decoded the way a browser decodes them.
    let mut reloaded = UserModel::from_bytes(tower.to_json().as_bytes(), &weights).map_err(|e| e.to_string())?;
    let diff = reloaded.self_check(&catalog).map_err(|e| e.to_string())?.unwrap_or(f32::INFINITY);
    if diff > 1e-6 {
        return Err(format!("reloaded tower differs from the trained one by {diff}"));
    }

    let counts = ds.train_counts();
    let mut order: Vec<usize> = (0..ds.item_ids.len()).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let meta = ItemsJson {
        items: (0..ds.item_ids.len())
            .map(|i| ItemsJsonEntry {
                id: ds.item_ids[i].clone(),
                title: ds.titles[i].clone(),
                category: ds.categories.as_ref().map(|c| ds.category_names[c[i] as usize].clone()),
            })
            .collect(),
        categories: ds.category_names.clone(),
        popular: order.iter().take(100).map(|&i| ds.item_ids[i].clone()).collect(),
    };
    let meta_bytes = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
    let compact_bytes = crate::catalog::meta::ItemMeta::from_json(&meta, &catalog).map_err(|e| e.to_string())?.encode();
    let tower_bytes = tower.to_json().into_bytes();

    let ranker_bytes = match ranker {
        Some(r) => {
            let compact_table = if compact == ROLE_ITEMS_PCA { pca } else { pq };
            let served = std::rc::Rc::new(int8.clone().unwrap_or_else(|| compact_table.clone()));
            // The table the check is computed over, plain (the pq refine plane was taken off above):
            // the browser runs the check over that table only.
            let table = served.precision();
            let mut rec = Recommender::new(served, trained.user_model()).map_err(|e| e.to_string())?;
            rec.set_ranking_stage(Some(std::rc::Rc::new(r.clone()))).map_err(|e| e.to_string())?;
            rec.set_history(events).map_err(|e| e.to_string())?;
            let top = rec
                .recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() })
                .map_err(|e| e.to_string())?;
            let mut with_check = r.clone();
            with_check.check = Some(SelfCheck {
                events: events.clone(),
                expected: top.iter().map(|x| (x.index, x.score)).collect(),
                table: Some(table),
            });
            let bytes = with_check.encode();
            // The check must pass on the file as written, decoded the way a browser decodes it.
            let decoded = RankingStage::decode(&bytes).map_err(|e| e.to_string())?;
            rec.set_ranking_stage(Some(std::rc::Rc::new(decoded))).map_err(|e| e.to_string())?;
            let check = rec.check_ranking_stage().map_err(|e| e.to_string())?.ok_or("no ranker check")?;
            if !check.same_rows || check.max_score_diff > 1e-6 {
                return Err(format!("reloaded ranker differs from the trained one: {check:?}"));
            }
            Some(bytes)
        }
        None => None,
    };
    let mut files: Vec<(&str, &str, &[u8])> = vec![
        ("tower.json", ROLE_TOWER_CONFIG, &tower_bytes),
        ("tower.bin", ROLE_TOWER_WEIGHTS, &weights),
        ("items.f32.lrc", ROLE_ITEMS_F32, &f32_bytes),
        ("items.int8.lrc", ROLE_ITEMS_INT8, &int8_bytes),
        ("items.pca.lrc", ROLE_ITEMS_PCA, &pca_bytes),
        ("items.pq.lrc", ROLE_ITEMS_PQ, &pq_bytes),
        ("items.json", ROLE_ITEM_METADATA, &meta_bytes),
        ("items.meta.lrc", ROLE_ITEM_METADATA_COMPACT, &compact_bytes),
    ];
    if !with_int8 {
        files.retain(|f| f.1 != ROLE_ITEMS_INT8);
    }
    if let Some(b) = &refine_bytes {
        files.push(("items.pq.refine.lrc", ROLE_ITEMS_PQ_REFINE, b));
    }
    if let Some(b) = &ranker_bytes {
        files.push(("ranker.bin", ROLE_RANKER, b));
    }
    let mut entries = Vec::new();
    for (name, role, bytes) in files {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
        entries.push(FileEntry {
            name: name.into(),
            role: role.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            deltas: Vec::new(),
        });
    }
    // The version covers the weights, the item table and the ranking stage.
    let mut version_input = format!("{}{}", entries[1].sha256, entries[2].sha256);
    if let Some(r) = entries.iter().find(|e| e.role == ROLE_RANKER) {
        version_input.push_str(&r.sha256);
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        format_version: MANIFEST_VERSION,
        model_version: sha256_hex(version_input.as_bytes())[..16].to_string(),
        dataset: ds.name.clone(),
        dim: trained.tower_config.dim,
        items: ds.item_ids.len(),
        files: entries,
        compact_table: Some(compact.to_owned()),
        rules: None,
        experiment: None,
        first_answer: Vec::new(),
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("manifest.json"), text + "\n").map_err(|e| format!("manifest.json: {e}"))?;
    write_first_answer(dir)
}

/// How many items the trainer writes into a manifest's `first_answer`.
pub const FIRST_ANSWER_ITEMS: usize = 20;

/// The answer a visitor with no history gets from the manifest at `path` (its files next to it): a
/// session over the files a browser loads by default (the tower, the int8 table or the compact one,
/// the metadata), under the manifest's rules, asked for its top [`FIRST_ANSWER_ITEMS`] with no
/// history and no options. An experiment's variants share the base metadata and rules, so the base
/// files answer for all of them.
pub fn first_answer(path: &Path) -> Result<Vec<FirstItem>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest = Manifest::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let roles = crate::request::FileRequest::default().roles();
    let entries = manifest.entries(&roles).map_err(|e| e.to_string())?;
    let read = |role: &str| -> Result<Vec<u8>, String> {
        let f = entries.iter().find(|f| f.role == role || role.split('|').any(|r| r == f.role));
        let f = f.ok_or_else(|| format!("the manifest lists no {role}"))?;
        std::fs::read(dir.join(&f.name)).map_err(|e| format!("{}: {e}", f.name))
    };
    let user = UserModel::from_bytes(&read(&roles[0])?, &read(&roles[1])?).map_err(|e| e.to_string())?;
    let catalog = Catalog::decode(&read(&roles[2])?).map_err(|e| e.to_string())?;
    let rec = Recommender::new(std::rc::Rc::new(catalog), user).map_err(|e| e.to_string())?;
    let model = crate::session::Model::new(rec, &read(&roles[3])?).map_err(|e| e.to_string())?;
    let mut session =
        crate::session::Session::new(model, &manifest, Default::default(), "first-answer", "", None, None)
            .map_err(|e| e.to_string())?;
    let request = crate::session::Request { k: FIRST_ANSWER_ITEMS, ..Default::default() };
    let answer = session.recommend(&request).map_err(|e| e.to_string())?;
    let model = session.model();
    Ok(answer
        .items
        .iter()
        .map(|r| FirstItem {
            id: model.id(r.index).to_owned(),
            title: model.title(r.index).to_owned(),
            category: model.category(r.index).map(str::to_owned),
            score: r.score,
            pinned: r.reason == crate::recommender::Reason::Pinned,
        })
        .collect())
}

/// Computes [`first_answer`] for the manifest at `path` (or `path/manifest.json` for an export
/// directory) and writes it into that manifest, every other field as it was (rules and an
/// experiment edited by hand included). Run again after editing the manifest's rules:
/// `localrec-train --first-answer PATH`.
pub fn write_first_answer(path: &Path) -> Result<Manifest, String> {
    let path = if path.is_dir() { path.join("manifest.json") } else { path.to_owned() };
    let items = first_answer(&path)?;
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut json: serde_json::Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let o = json.as_object_mut().ok_or("the manifest is not a JSON object")?;
    o.insert("first_answer".into(), serde_json::to_value(&items).map_err(|e| e.to_string())?);
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n";
    let manifest = Manifest::parse(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(manifest)
}

/// The `manifest.json` of the export in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the manifest of an export directory.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    let text = serde_json::to_string_pretty(manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("manifest.json"), text + "\n").map_err(|e| format!("manifest.json: {e}"))
}

/// Writes catalog deltas from the export in `old_dir` to the export in `new_dir` (for each
/// catalog file whose bytes changed) and lists them in `new_dir`'s manifest. A pair that cannot be
/// expressed as a delta (rows reordered, other shape) is skipped with a message: visitors then
/// download that file whole. Returns the delta entries written.
pub fn write_deltas(old_dir: &Path, new_dir: &Path) -> Result<Vec<DeltaEntry>, String> {
    let old = read_manifest(old_dir)?;
    let mut new = read_manifest(new_dir)?;
    let mut written = Vec::new();
    // The compact metadata's deltas follow the rows of the catalog: its ids, read (only when a
    // metadata delta is written) from the export's smallest item table.
    // Item tables, not a pq refine plane (a new plane is downloaded whole: it is learnt anew with
    // each table, and loaded behind the first answer).
    let table = |role: &str| role.starts_with("items-") && role != ROLE_ITEMS_PQ_REFINE;
    let smallest =
        |m: &Manifest| m.files.iter().filter(|f| table(&f.role)).min_by_key(|f| f.bytes).map(|f| f.name.clone());
    let (old_table, new_table) = (smallest(&old), smallest(&new));
    let ids = |dir: &Path, name: &Option<String>| -> Result<Vec<String>, String> {
        let name = name.as_deref().ok_or("no item table")?;
        let bytes = std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        Ok(crate::Catalog::decode(&bytes).map_err(|e| e.to_string())?.ids().map(str::to_owned).collect())
    };
    let roles = |f: &&mut FileEntry| table(&f.role) || f.role == ROLE_ITEM_METADATA_COMPACT;
    for entry in new.files.iter_mut().filter(roles) {
        let Some(prev) = old.files.iter().find(|f| f.role == entry.role) else { continue };
        if prev.sha256 == entry.sha256 || entry.deltas.iter().any(|d| d.from_sha256 == prev.sha256) {
            continue;
        }
        let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
        let (a, b) = (read(old_dir, &prev.name)?, read(new_dir, &entry.name)?);
        if sha256_hex(&a) != prev.sha256 {
            return Err(format!("{}: bytes do not match {}'s manifest", prev.name, old_dir.display()));
        }
        let bytes = if entry.role == ROLE_ITEM_METADATA_COMPACT {
            use crate::catalog::meta::ItemMeta;
            let (a, b) =
                (ItemMeta::decode(&a).map_err(|e| e.to_string())?, ItemMeta::decode(&b).map_err(|e| e.to_string())?);
            match a.diff(&ids(old_dir, &old_table)?, &b, &ids(new_dir, &new_table)?) {
                Ok(d) => {
                    debug_assert_eq!(d.apply(&a).ok().as_ref(), Some(&b));
                    d.encode()
                }
                Err(e) => {
                    eprintln!("no delta for {}: {e}", entry.name);
                    continue;
                }
            }
        } else {
            let (a, b) = (
                crate::Catalog::decode(&a).map_err(|e| e.to_string())?,
                crate::Catalog::decode(&b).map_err(|e| e.to_string())?,
            );
            match a.diff(&b) {
                Ok(d) => {
                    debug_assert_eq!(d.apply(&a).map(|c| c.encode()).ok(), Some(b.encode()));
                    d.encode()
                }
                Err(e) => {
                    eprintln!("no delta for {}: {e}", entry.name);
                    continue;
                }
            }
        };
        let name = format!("{}.from-{}.delta", entry.name, &prev.sha256[..12]);
        std::fs::write(new_dir.join(&name), &bytes).map_err(|e| format!("{name}: {e}"))?;
        let d = DeltaEntry {
            from_sha256: prev.sha256.clone(),
            name,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        };
        entry.deltas.push(d.clone());
        written.push(d);
    }
    write_manifest(new_dir, &new)?;
    Ok(written)
}
