//! What the research examples share: an export's tower and f32 item table, and the dataset it was
//! trained on (`DATA_DIR`, `synthetic` for the shipped shop, or `synthetic:N` for the shop with N
//! items and N users, as `scripts/bench-scale.sh` trains it).
use localrec::train::data::{Dataset, Dedupe};
use localrec::{Catalog, UserModel};

pub fn load(dir: &str, data: &str) -> (UserModel, Catalog, Dataset) {
    let (model, f32c) = load_export(dir);
    (model, f32c, load_data(data))
}

/// An export's tower and f32 item table.
pub fn load_export(dir: &str) -> (UserModel, Catalog) {
    let dir = std::path::Path::new(dir);
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let model = UserModel::from_bytes(&read("tower.json"), &read("tower.bin")).unwrap();
    (model, Catalog::decode(&read("items.f32.lrc")).unwrap())
}

/// The dataset `data` names (see the module docs).
pub fn load_data(data: &str) -> Dataset {
    if let Some(n) = data.strip_prefix("synthetic:") {
        let n: usize = n.parse().unwrap();
        let cfg = localrec::train::SyntheticConfig { items: n, users: n, ..Default::default() };
        localrec::train::synthetic_dataset_with(&cfg, Dedupe::default())
    } else if data == "synthetic" {
        localrec::train::synthetic_dataset_with(&Default::default(), Dedupe::First)
    } else {
        localrec::train::input::read_dataset(data, std::path::Path::new(data), Dedupe::default()).unwrap()
    }
}
